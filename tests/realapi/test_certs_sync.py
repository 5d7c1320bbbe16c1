"""`tronador certs sync` against the real API server, as the webhook's ServiceAccount with the
RBAC of manifests/: it writes the Secret and the serving files, injects the caBundle into both
webhook configurations, and the API server then trusts the webhook's new certificate."""

from __future__ import annotations

import argparse
import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from certs import cli, defaults
from tests.controller.helpers import seed_config_dict, seed_ep_dict
from tests.realapi.controlplane import ControlPlane
from tests.realapi.kube import Obj, Rest, wait_for
from tests.realapi.webhook import registered, webhook_configurations, webhook_in_thread
from tests.webhook.helpers import StaticPolicySource
from tests.webhook.pki import install_pair, issue_serving_pair, make_ca
from tronador.api import TronadorConfig
from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE

pytestmark = pytest.mark.realapi

WEBHOOK_USER = f"system:serviceaccount:{DEFAULT_SYSTEM_NAMESPACE}:tronador-webhook"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tronador certs")
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def as_webhook(control_plane: ControlPlane, installed: Rest) -> Iterator[client.ApiClient]:
    with control_plane.service_account_client(
        DEFAULT_SYSTEM_NAMESPACE, "tronador-webhook", create=False
    ) as api:
        yield api
    installed.delete("v1", "Secret", defaults.SECRET_NAME, DEFAULT_SYSTEM_NAMESPACE)


def an_ep() -> Obj:
    ep = seed_ep_dict()
    ep["metadata"]["name"] = "realapi-certs"
    return ep


def admitted(rest: Rest) -> bool:
    try:
        rest.create(an_ep(), dry_run=True)
    except ApiException as e:
        if e.status == 500 and "failed calling webhook" in str(e.body):
            return False
        raise
    return True


def test_certs_sync_injects_a_ca_bundle_the_api_server_trusts(
    control_plane: ControlPlane,
    installed: Rest,
    as_webhook: client.ApiClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rest = installed
    denied_before = len(control_plane.denied_requests(WEBHOOK_USER))
    out = tmp_path / "tls"
    out.mkdir()
    # Until certs sync runs, the webhook serves a certificate nobody registered.
    stranger = make_ca("a CA the API server was never given")
    install_pair(issue_serving_pair(stranger), out / "tls.crt", out / "tls.key")
    policy = TronadorConfig.model_validate(seed_config_dict()).spec.policy
    with (
        webhook_in_thread(
            StaticPolicySource(policy), out / "tls.crt", out / "tls.key", stranger
        ) as hook,
        registered(rest, webhook_configurations(hook.url, ca_bundle=None)),
    ):
        assert not admitted(rest), "without our caBundle the API server must refuse the webhook"

        argv = ["sync", "--namespace", DEFAULT_SYSTEM_NAMESPACE, "--out", str(out)]
        argv += ["--ip", "127.0.0.1", "--dns", "localhost"]
        assert cli.run(parse(*argv), api_client=as_webhook) == 0
        printed = capsys.readouterr().out
        assert f"secret {DEFAULT_SYSTEM_NAMESPACE}/{defaults.SECRET_NAME}: updated" in printed
        ca_pem = (out / defaults.CA_CERT_FILE).read_bytes()
        admission = client.AdmissionregistrationV1Api(rest.api)
        for configuration in (
            admission.read_mutating_webhook_configuration(defaults.MUTATING_WEBHOOK_NAME),
            admission.read_validating_webhook_configuration(defaults.VALIDATING_WEBHOOK_NAME),
        ):
            for hook_config in configuration.webhooks:
                assert base64.b64decode(hook_config.client_config.ca_bundle) == ca_pem

        wait_for(lambda: admitted(rest), 15, "the API server admitting through the new cert")

        assert cli.run(parse(*argv), api_client=as_webhook) == 0
        assert "unchanged" in capsys.readouterr().out
    secret = client.CoreV1Api(rest.api).read_namespaced_secret(
        defaults.SECRET_NAME, DEFAULT_SYSTEM_NAMESPACE
    )
    assert base64.b64decode(secret.data[defaults.SECRET_CA_BUNDLE]) == ca_pem
    assert control_plane.denied_requests(WEBHOOK_USER)[denied_before:] == []
