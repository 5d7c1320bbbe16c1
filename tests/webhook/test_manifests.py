"""manifests/webhook agrees with the server (routes, resources), the certs code (names) and the
webhook Deployment (labels, port, probes, arguments)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from certs import defaults as certs_defaults
from tests.webhook.helpers import REPO_ROOT
from tronador.api.constants import GROUP
from tronador.api.crd import all_crds
from webhook import cli, routes
from webhook.admitters import admitters

MANIFESTS = REPO_ROOT / "manifests" / "webhook"
DEPLOYMENT = REPO_ROOT / "manifests" / "base" / "deployments" / "webhook.yaml"
MUTATING = "MutatingWebhookConfiguration"
VALIDATING = "ValidatingWebhookConfiguration"
TIMEOUTS = {MUTATING: 3, VALIDATING: 5}


def load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def documents() -> list[dict[str, Any]]:
    files = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"]
    return [doc for name in files for doc in load(MANIFESTS / name)]


def one(kind: str) -> dict[str, Any]:
    [doc] = [d for d in documents() if d["kind"] == kind]
    return doc


def webhooks() -> list[tuple[str, dict[str, Any]]]:
    return [
        (doc["kind"], hook)
        for doc in documents()
        if doc["kind"] in (MUTATING, VALIDATING)
        for hook in doc["webhooks"]
    ]


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"]
    on_disk = sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk
    assert sorted(d["kind"] for d in documents()) == sorted(["Service", MUTATING, VALIDATING])


def test_every_manifest_path_is_a_server_route_and_the_reverse() -> None:
    paths = [hook["clientConfig"]["service"]["path"] for _, hook in webhooks()]
    assert sorted(paths) == sorted(routes.ADMISSION_PATHS)
    assert len(set(paths)) == len(paths)


def test_each_webhook_matches_exactly_the_resource_its_route_admits() -> None:
    by_path = admitters("tronador-system")
    scope = {crd["spec"]["names"]["kind"]: crd["spec"]["scope"] for crd in all_crds().values()}
    for kind, hook in webhooks():
        admitter = by_path[hook["clientConfig"]["service"]["path"]]
        assert hook["rules"] == [
            {
                "apiGroups": [GROUP],
                "apiVersions": [admitter.resource.version],
                "resources": [admitter.resource.resource],
                "operations": ["CREATE", "UPDATE"],
                "scope": scope[admitter.kind],
            }
        ], hook["name"]
        expected_mutating = hook["clientConfig"]["service"]["path"].startswith("/mutate/")
        assert (kind == MUTATING) == expected_mutating


@pytest.mark.parametrize("index", range(len(routes.ADMISSION_PATHS)))
def test_webhook_settings(index: int) -> None:
    kind, hook = webhooks()[index]
    assert hook["name"].endswith(f".{GROUP}")
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["sideEffects"] == "None"
    assert hook["failurePolicy"] == "Fail"
    assert hook["matchPolicy"] == "Equivalent"
    assert hook["timeoutSeconds"] == TIMEOUTS[kind]
    assert hook["namespaceSelector"] == {} and hook["objectSelector"] == {}
    assert "caBundle" not in hook["clientConfig"]
    assert "url" not in hook["clientConfig"]
    if kind == MUTATING:
        assert hook["reinvocationPolicy"] == "IfNeeded"
    else:
        assert "reinvocationPolicy" not in hook


def test_webhooks_call_the_service() -> None:
    service = one("Service")
    [port] = service["spec"]["ports"]
    assert port == {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}
    for _, hook in webhooks():
        assert hook["clientConfig"]["service"] == {
            "name": service["metadata"]["name"],
            "namespace": service["metadata"]["namespace"],
            "port": port["port"],
            "path": hook["clientConfig"]["service"]["path"],
        }


def test_names_agree_with_the_certs_code() -> None:
    service = one("Service")
    assert service["metadata"]["name"] == certs_defaults.SERVICE_NAME
    assert service["metadata"]["namespace"] == certs_defaults.NAMESPACE
    assert one(MUTATING)["metadata"]["name"] == certs_defaults.MUTATING_WEBHOOK_NAME
    assert one(VALIDATING)["metadata"]["name"] == certs_defaults.VALIDATING_WEBHOOK_NAME
    cert_dir = Path(certs_defaults.CERT_DIR)
    assert Path(cli.DEFAULT_CERT_FILE) == cert_dir / certs_defaults.TLS_CERT_FILE
    assert Path(cli.DEFAULT_KEY_FILE) == cert_dir / certs_defaults.TLS_KEY_FILE


@pytest.fixture
def webhook_container() -> tuple[dict[str, Any], dict[str, Any]]:
    if not DEPLOYMENT.exists():
        pytest.skip("no webhook Deployment manifest")
    [deployment] = [d for d in load(DEPLOYMENT) if d["kind"] == "Deployment"]
    template = deployment["spec"]["template"]
    [container] = [c for c in template["spec"]["containers"] if c["name"] == "webhook"]
    return template, container


def test_service_selects_the_webhook_pods(
    webhook_container: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    template, container = webhook_container
    selector = one("Service")["spec"]["selector"]
    assert selector.items() <= template["metadata"]["labels"].items()
    assert {"name": "https", "containerPort": cli.DEFAULT_PORT, "protocol": "TCP"} in container[
        "ports"
    ]


def test_deployment_probes_routes_of_the_server_with_valid_arguments(
    webhook_container: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, container = webhook_container
    assert container["readinessProbe"]["httpGet"]["path"] == routes.READYZ
    assert container["livenessProbe"]["httpGet"]["path"] == routes.HEALTHZ
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["scheme"] == "HTTPS"

    command, *options = container["args"]
    assert command == "webhook"
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(options)
    assert args.port == cli.DEFAULT_PORT
