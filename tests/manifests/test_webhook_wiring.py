"""The webhook's wiring: routes, Service, ports, probes, timeouts and certificates agree across
the manifests, the server's route table and what `tronador certs` generates."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
import yaml

from certs import defaults as certs_defaults
from certs.pki import ServingSpec
from tests.manifests.checks import (
    builtin_cert_problems,
    cert_manager_problems,
    probe_problems,
    webhook_config_problems,
    webhook_route_problems,
    webhook_service_problems,
)
from tests.manifests.render import MANIFESTS, Obj, find, of_kind, pod_spec, webhooks
from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE, ENV_KIND, EP_KIND, GROUP
from tronador.api.crd import all_crds
from webhook import cli, routes
from webhook.admitters import admitters

NS = DEFAULT_SYSTEM_NAMESPACE
SOURCE = MANIFESTS / "webhook"
MUTATING = "MutatingWebhookConfiguration"
VALIDATING = "ValidatingWebhookConfiguration"
TIMEOUTS = {MUTATING: 3, VALIDATING: 5}


def _routes(objects: list[Obj]) -> list[str]:
    return webhook_route_problems(objects, routes.ADMISSION_PATHS)


def _configs(objects: list[Obj]) -> list[str]:
    return webhook_config_problems(objects, GROUP, NS)


def _probes(objects: list[Obj]) -> list[str]:
    return probe_problems(objects, routes.READYZ, routes.HEALTHZ)


def _hook(objects: list[Obj], name: str) -> Obj:
    return next(hook for _, hook in webhooks(objects) if hook["name"] == name)


def _server(objects: list[Obj]) -> Obj:
    deployment = find(objects, "Deployment", "tronador-webhook", NS)
    assert deployment is not None
    return next(c for c in pod_spec(deployment)["containers"] if c["name"] == "webhook")


EP_VALIDATING = "validate.environmentprovisioners.tronador.stakater.com"
CONFIG_VALIDATING = "validate.tronadorconfigs.tronador.stakater.com"
EP_MUTATING = "mutate.environmentprovisioners.tronador.stakater.com"


# --- routes -------------------------------------------------------------------------------------


def test_every_webhook_calls_a_route_of_the_server_and_every_route_is_called(
    variant: list[Obj],
) -> None:
    assert _routes(variant) == []


def test_route_check_reports_a_path_the_server_lacks(base: list[Obj]) -> None:
    _hook(base, EP_VALIDATING)["clientConfig"]["service"]["path"] = "/validate/eps"
    assert _routes(base) == [
        "ValidatingWebhookConfiguration/tronador-validating-webhook webhook "
        f"{EP_VALIDATING}: path '/validate/eps' is not a server route {routes.ADMISSION_PATHS}",
        f"server route {routes.VALIDATE_ENVIRONMENT_PROVISIONERS} is called by no webhook",
    ]


def test_route_check_reports_a_mutating_webhook_calling_a_validating_route(
    base: list[Obj],
) -> None:
    service = _hook(base, EP_MUTATING)["clientConfig"]["service"]
    service["path"] = routes.VALIDATE_ENVIRONMENT_PROVISIONERS
    problems = _routes(base)
    assert any("is not a /mutate/ route" in p for p in problems)
    assert f"server route {routes.MUTATE_ENVIRONMENT_PROVISIONERS} is called by no webhook" in (
        problems
    )


def test_route_check_reports_a_route_for_another_resource(base: list[Obj]) -> None:
    service = _hook(base, CONFIG_VALIDATING)["clientConfig"]["service"]
    service["path"] = routes.VALIDATE_ENVIRONMENT_PROVISIONERS
    problems = _routes(base)
    assert any("receives ['tronadorconfigs']" in p for p in problems)


# --- Service and ports ----------------------------------------------------------------------------


def test_every_webhook_reaches_the_servers_listening_port(variant: list[Obj]) -> None:
    assert webhook_service_problems(variant) == []


def test_service_is_the_one_certs_issues_for(base: list[Obj]) -> None:
    service = find(base, "Service", certs_defaults.SERVICE_NAME, certs_defaults.NAMESPACE)
    assert service is not None
    [port] = service["spec"]["ports"]
    assert port == {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}
    for kind, name in (
        (MUTATING, certs_defaults.MUTATING_WEBHOOK_NAME),
        (VALIDATING, certs_defaults.VALIDATING_WEBHOOK_NAME),
    ):
        assert find(base, kind, name) is not None, (kind, name)
    for _, hook in webhooks(base):
        ref = hook["clientConfig"]["service"]
        assert (ref["name"], ref["namespace"]) == (
            certs_defaults.SERVICE_NAME,
            certs_defaults.NAMESPACE,
        )
    names = ServingSpec(certs_defaults.SERVICE_NAME, certs_defaults.NAMESPACE).dns_names
    assert f"{certs_defaults.SERVICE_NAME}.{certs_defaults.NAMESPACE}.svc" in names


def test_service_check_reports_a_webhook_naming_another_service(base: list[Obj]) -> None:
    _hook(base, EP_MUTATING)["clientConfig"]["service"]["name"] = "tronador"
    assert webhook_service_problems(base) == [
        f"MutatingWebhookConfiguration/tronador-mutating-webhook webhook {EP_MUTATING}: "
        "Service tronador-system/tronador not found"
    ]


def test_service_check_reports_a_port_the_service_lacks(base: list[Obj]) -> None:
    _hook(base, EP_MUTATING)["clientConfig"]["service"]["port"] = 8443
    assert len(webhook_service_problems(base)) == 1


def test_service_check_reports_a_target_port_no_container_has(base: list[Obj]) -> None:
    of_kind(base, "Service")[0]["spec"]["ports"][0]["targetPort"] = "http"
    assert len(webhook_service_problems(base)) == len(list(webhooks(base)))  # each webhook


def test_service_check_reports_a_server_listening_elsewhere(base: list[Obj]) -> None:
    args = _server(base)["args"]
    args[args.index("--port") + 1] = "9443"
    problems = webhook_service_problems(base)
    assert len(problems) == len(list(webhooks(base)))
    assert all("reaches no webhook server" in p for p in problems)


def test_the_webhook_serves_on_its_default_port(base: list[Obj]) -> None:
    server = _server(base)
    assert {"name": "https", "containerPort": cli.DEFAULT_PORT, "protocol": "TCP"} in server[
        "ports"
    ]
    command, *options = server["args"]
    assert command == "webhook"
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert parser.parse_args(options).port == cli.DEFAULT_PORT


# --- configurations -------------------------------------------------------------------------------


def test_webhook_configurations_are_safe(variant: list[Obj]) -> None:
    assert _configs(variant) == []


def test_config_check_reports_slow_timeouts(base: list[Obj]) -> None:
    _hook(base, EP_MUTATING)["timeoutSeconds"] = 4
    _hook(base, EP_VALIDATING)["timeoutSeconds"] = 10
    problems = _configs(base)
    assert len(problems) == 2
    assert "timeoutSeconds 4 (at most 3)" in problems[0]
    assert "timeoutSeconds 10 (at most 5)" in problems[1]


def test_config_check_reports_fail_closed_on_another_group(base: list[Obj]) -> None:
    _hook(base, EP_VALIDATING)["rules"][0]["apiGroups"] = [GROUP, ""]
    assert len(_configs(base)) == 1
    _hook(base, EP_VALIDATING)["failurePolicy"] = "Ignore"
    assert _configs(base) == []
    del _hook(base, EP_VALIDATING)["failurePolicy"]  # the v1 default is Fail
    assert len(_configs(base)) == 1


def test_config_check_reports_side_effects(base: list[Obj]) -> None:
    _hook(base, EP_VALIDATING)["sideEffects"] = "Some"
    assert len(_configs(base)) == 1


def test_config_check_reports_the_tronadorconfig_namespace_excluded(base: list[Obj]) -> None:
    _hook(base, CONFIG_VALIDATING)["namespaceSelector"] = {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [NS]}
        ]
    }
    problems = _configs(base)
    assert len(problems) == 1 and "namespaceSelector skips tronador-system" in problems[0]
    # The same selector on the cluster-scoped EPs changes nothing: it is not reported.
    _hook(base, EP_VALIDATING)["namespaceSelector"] = _hook(base, CONFIG_VALIDATING)[
        "namespaceSelector"
    ]
    assert len(_configs(base)) == 1


# --- probes ---------------------------------------------------------------------------------------


def test_webhook_is_probed_over_https_on_its_serving_port(variant: list[Obj]) -> None:
    assert _probes(variant) == []


def test_probe_check_reports_a_wrong_path_scheme_or_port(base: list[Obj]) -> None:
    server = _server(base)
    server["readinessProbe"]["httpGet"]["path"] = "/ready"
    server["livenessProbe"]["httpGet"]["scheme"] = "HTTP"
    server["ports"].append({"name": "metrics", "containerPort": 9090})
    server["livenessProbe"]["httpGet"]["port"] = "metrics"
    problems = _probes(base)
    assert len(problems) == 3
    assert "readinessProbe path '/ready', not /readyz" in problems[0]
    assert "livenessProbe scheme 'HTTP'" in problems[1]
    assert "livenessProbe port 'metrics' is not the serving port 8443" in problems[2]


# --- certificates ---------------------------------------------------------------------------------


def test_builtin_certs_cover_the_service_and_land_where_the_server_reads(
    base: list[Obj],
) -> None:
    assert builtin_cert_problems(base) == []


def test_cert_check_reports_certs_issued_for_another_service(base: list[Obj]) -> None:
    deployment = find(base, "Deployment", "tronador-webhook", NS)
    assert deployment is not None
    for container in [*pod_spec(deployment)["initContainers"], *pod_spec(deployment)["containers"]]:
        if container["args"][0] == "certs":
            container["args"] += ["--service", "webhook"]
    problems = builtin_cert_problems(base)
    assert len(problems) == 2
    assert all("would not name tronador-webhook.tronador-system.svc" in p for p in problems)


def test_cert_check_reports_files_written_where_the_server_does_not_read(
    base: list[Obj],
) -> None:
    args = _server(base)["args"]
    args[args.index("--cert") + 1] = "/certs/tls.crt"
    problems = builtin_cert_problems(base)
    assert problems and all("reads /certs/tls.crt" in p for p in problems)


def test_cert_check_reports_a_webhook_configuration_certs_cannot_find(base: list[Obj]) -> None:
    config = find(base, "MutatingWebhookConfiguration", certs_defaults.MUTATING_WEBHOOK_NAME)
    assert config is not None
    config["metadata"]["name"] = "tronador-mutating"
    problems = builtin_cert_problems(base)
    assert len(problems) == 2 and all("tronador-mutating-webhook', absent" in p for p in problems)


def test_cert_check_reports_no_rotation(base: list[Obj]) -> None:
    deployment = find(base, "Deployment", "tronador-webhook", NS)
    assert deployment is not None
    spec = pod_spec(deployment)
    spec["containers"] = [c for c in spec["containers"] if c["name"] != "certs"]
    assert builtin_cert_problems(base) == [
        "Deployment/tronador-system/tronador-webhook container webhook: no container keeps "
        "`certs sync --loop` running"
    ]


def test_cert_manager_issues_for_the_service_into_the_mounted_secret(
    cert_manager: list[Obj],
) -> None:
    assert cert_manager_problems(cert_manager) == []
    certificate = find(cert_manager, "Certificate", "tronador-webhook", NS)
    assert certificate is not None
    assert certificate["spec"]["secretName"] == certs_defaults.SECRET_NAME
    names = ServingSpec(certs_defaults.SERVICE_NAME, certs_defaults.NAMESPACE).dns_names
    assert set(certificate["spec"]["dnsNames"]) >= set(names)


def test_cert_manager_check_reports_a_missing_dns_name(cert_manager: list[Obj]) -> None:
    certificate = find(cert_manager, "Certificate", "tronador-webhook", NS)
    assert certificate is not None
    certificate["spec"]["dnsNames"].remove("tronador-webhook.tronador-system.svc")
    problems = cert_manager_problems(cert_manager)
    assert (
        problems
        == [
            "Certificate/tronador-system/tronador-webhook: dnsNames lack "
            "tronador-webhook.tronador-system.svc"
        ]
        * 2
    )  # cert and key


def test_cert_manager_check_reports_another_secret_and_no_injection(
    cert_manager: list[Obj],
) -> None:
    certificate = find(cert_manager, "Certificate", "tronador-webhook", NS)
    assert certificate is not None
    certificate["spec"]["secretName"] = "other-tls"
    del of_kind(cert_manager, "ValidatingWebhookConfiguration")[0]["metadata"]["annotations"]
    problems = cert_manager_problems(cert_manager)
    assert sum("is not from a cert-manager Certificate" in p for p in problems) == 2
    assert any("inject-ca-from '' names no Certificate" in p for p in problems)


def test_cert_manager_check_reports_certs_left_running(cert_manager: list[Obj]) -> None:
    deployment = find(cert_manager, "Deployment", "tronador-webhook", NS)
    assert deployment is not None
    pod_spec(deployment)["initContainers"] = [
        {"name": "certs-init", "args": ["certs", "sync", "--out", "/tls"]}
    ]
    assert len(cert_manager_problems(cert_manager)) == 1


def test_base_has_no_cert_manager_objects(base: list[Obj]) -> None:
    assert [o for o in base if o["apiVersion"].startswith("cert-manager.io/")] == []
    for config, _ in webhooks(base):
        assert "cert-manager.io/inject-ca-from" not in config["metadata"].get("annotations", {})


# --- the webhook's own manifests (manifests/webhook), as written ------------------------------


def _load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((SOURCE / name).read_text(encoding="utf-8")) if d]


def _source_documents() -> list[dict[str, Any]]:
    files = yaml.safe_load((SOURCE / "kustomization.yaml").read_text())["resources"]
    return [doc for name in files for doc in _load(name)]


def _source_webhooks() -> list[tuple[str, dict[str, Any]]]:
    return [
        (doc["kind"], hook)
        for doc in _source_documents()
        if doc["kind"] in (MUTATING, VALIDATING)
        for hook in doc["webhooks"]
    ]


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((SOURCE / "kustomization.yaml").read_text())["resources"]
    on_disk = sorted(p.name for p in SOURCE.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk
    assert sorted(d["kind"] for d in _source_documents()) == sorted(
        ["Service", MUTATING, VALIDATING]
    )


def test_each_webhook_matches_exactly_the_resource_its_route_admits() -> None:
    by_path = admitters("tronador-system")
    scope = {crd["spec"]["names"]["kind"]: crd["spec"]["scope"] for crd in all_crds().values()}
    paths = [hook["clientConfig"]["service"]["path"] for _, hook in _source_webhooks()]
    assert len(set(paths)) == len(paths)
    for kind, hook in _source_webhooks():
        admitter = by_path[hook["clientConfig"]["service"]["path"]]
        # deletes of an environment are checked for its tenant's owners (validating, our kinds)
        deletes = kind == VALIDATING and admitter.kind in (EP_KIND, ENV_KIND)
        assert hook["rules"] == [
            {
                "apiGroups": [GROUP],
                "apiVersions": [admitter.resource.version],
                "resources": [admitter.resource.resource],
                "operations": ["CREATE", "UPDATE", *(["DELETE"] if deletes else [])],
                "scope": scope[admitter.kind],
            }
        ], hook["name"]
        expected_mutating = hook["clientConfig"]["service"]["path"].startswith("/mutate/")
        assert (kind == MUTATING) == expected_mutating


@pytest.mark.parametrize("index", range(len(routes.ADMISSION_PATHS)))
def test_webhook_settings(index: int) -> None:
    kind, hook = _source_webhooks()[index]
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
