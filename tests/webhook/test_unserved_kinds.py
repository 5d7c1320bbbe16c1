"""A TronadorConfig naming a `secrets` kind the cluster does not serve is admitted with a
warning when the webhook watches a cluster (discovery answers), and without one when it runs
from `--config FILE` (no cluster to ask)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from kube.api import Kube
from kube.discovery import ServedKinds
from tests.apiserver import EmulatedAPIServer
from tests.controller.test_extras import EXTERNAL_SECRETS
from tests.webhook.conftest import TLSFiles
from tests.webhook.helpers import (
    CONFIG_KIND,
    CONFIG_RESOURCE,
    RunningWebhook,
    review,
    running_webhook,
    seed_config,
)
from webhook import routes
from webhook.cli import served_kinds
from webhook.policy_file import FilePolicySource
from webhook.policy_watch import KubernetesPolicySource

WARNING = (
    "spec.secrets[0]: ExternalSecret (external-secrets.io/v1beta1) is not served by this "
    "cluster; install its CRD"
)


def _with_external_secret() -> dict[str, Any]:
    config = copy.deepcopy(seed_config())
    config["spec"]["secrets"][0] = {
        "apiVersion": EXTERNAL_SECRETS.api_version,
        "kind": "ExternalSecret",
        "metadata": {"name": "nordmart-git-auth"},
        "spec": {"target": {"name": "nordmart-git-auth"}},
    }
    return config


async def _warnings(webhook: RunningWebhook) -> list[str]:
    body = review("CREATE", _with_external_secret(), kind=CONFIG_KIND, resource=CONFIG_RESOURCE)
    answer = await webhook.post(routes.VALIDATE_TRONADOR_CONFIGS, body)
    assert answer.status == 200
    assert answer.response["allowed"] is True
    return list(answer.response.get("warnings") or [])


@pytest.fixture
def cluster() -> Iterator[EmulatedAPIServer]:
    with EmulatedAPIServer() as server:
        yield server


async def test_a_kind_the_cluster_does_not_serve_is_warned_about(
    cluster: EmulatedAPIServer, tls_files: TLSFiles
) -> None:
    api_client = cluster.api_client()
    source = KubernetesPolicySource(Kube(api_client), "tronador-system")
    served = served_kinds(source)
    assert served is not None
    try:
        async with running_webhook(
            source, tls_files.cert, tls_files.key, tls_files.ca, served_kinds=served
        ) as webhook:
            assert await _warnings(webhook) == [WARNING]
    finally:
        api_client.close()


async def test_a_served_kind_gets_no_warning(
    cluster: EmulatedAPIServer, tls_files: TLSFiles
) -> None:
    cluster.table.add(EXTERNAL_SECRETS)
    api_client = cluster.api_client()
    source = KubernetesPolicySource(Kube(api_client), "tronador-system")
    try:
        async with running_webhook(
            source, tls_files.cert, tls_files.key, tls_files.ca, served_kinds=served_kinds(source)
        ) as webhook:
            assert await _warnings(webhook) == []
    finally:
        api_client.close()


def test_discovery_is_asked_again_after_its_ttl(cluster: EmulatedAPIServer) -> None:
    now = [0.0]
    api_client = cluster.api_client()
    try:
        kinds = ServedKinds(Kube(api_client), ttl=30.0, clock=lambda: now[0])
        assert kinds.served(EXTERNAL_SECRETS.api_version, "ExternalSecret") is False
        cluster.table.add(EXTERNAL_SECRETS)
        assert kinds.served(EXTERNAL_SECRETS.api_version, "ExternalSecret") is False  # cached
        now[0] = 31.0
        assert kinds.served(EXTERNAL_SECRETS.api_version, "ExternalSecret") is True
        assert kinds.served("v1", "Secret") is True
    finally:
        api_client.close()


async def test_without_a_cluster_there_is_no_warning(
    webhook: RunningWebhook, tmp_path: Any
) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text("{}")
    assert served_kinds(FilePolicySource(config_file)) is None
    assert await _warnings(webhook) == []
