"""A TronadorConfig `secrets` item of a kind the controller cannot list (not served: 404; not
permitted: 403) never blocks anything: startup waits only for the caches it always needs, the
EP says why on SecretsReady and what the admin should do, its other secrets, its release and the
other EPs go on, and the kind is retried until it works."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from controller.kind_access import WRITE_VERBS
from tests.apiserver import EmulatedAPIServer, Fault
from tests.controller.fleet import OTHER_REPO, condition, ep, ep_body
from tests.controller.harness import EP_NAME, NS, RELEASE, Cluster, settings
from tests.controller.test_extras import EXTERNAL_SECRETS, _external_auth
from tests.seeds import REPO_ROOT

ES = (EXTERNAL_SECRETS.api_version, "externalsecrets")
OTHER_EP = "other-team-1"
RULE = (
    "{apiGroups: [external-secrets.io], resources: [externalsecrets], "
    "verbs: [get, list, watch, create, patch, delete]}"
)


def _cluster(server: EmulatedAPIServer) -> Iterator[Cluster]:
    cluster = Cluster(server.start())
    try:
        yield cluster
    finally:
        cluster.stop_all()
        server.stop()


@pytest.fixture
def served() -> Iterator[Cluster]:
    yield from _cluster(EmulatedAPIServer(extra_resources=[EXTERNAL_SECRETS]))


@pytest.fixture
def unserved() -> Iterator[Cluster]:
    yield from _cluster(EmulatedAPIServer())


def _start(cluster: Cluster) -> None:
    cluster.seed_config(_external_auth)
    cluster.create_ep()
    cluster.server.seed(ep_body(OTHER_EP, repo=OTHER_REPO))
    cluster.start(settings(workers=1))


def _secrets_ready(cluster: Cluster, reason: str) -> dict[str, Any]:
    return cluster.wait(
        lambda: (c := cluster.condition("SecretsReady")).get("reason") == reason and c
    )


def _the_rest_went_on(cluster: Cluster) -> None:
    server = cluster.server
    assert server.get("v1", "secrets", "nexus-pull-secret", NS) is not None
    assert server.get("v1", "secrets", "nordmart-git-auth", NS) is None
    cluster.wait(lambda: server.get("helm.toolkit.fluxcd.io/v2", "helmreleases", RELEASE, NS))
    cluster.wait(lambda: condition(ep(server, OTHER_EP), "SecretsReady").get("status") == "True")
    assert server.get("v1", "secrets", "org-git-auth", OTHER_EP) is not None


def _created_once_usable(cluster: Cluster) -> None:
    generated = cluster.wait(lambda: cluster.server.get(*ES, "nordmart-git-auth", NS))
    assert generated["metadata"]["labels"]["tronador.stakater.com/environment"] == EP_NAME
    cluster.wait(lambda: cluster.condition("SecretsReady").get("status") == "True")


def test_a_kind_the_cluster_does_not_serve_is_reported_and_picked_up_once_installed(
    unserved: Cluster,
) -> None:
    cluster = unserved
    _start(cluster)
    found = _secrets_ready(cluster, "KindNotServed")
    assert found["status"] == "False"
    assert "cannot create ExternalSecret 'nordmart-git-auth'" in found["message"]
    assert "install its CustomResourceDefinition" in found["message"]
    _the_rest_went_on(cluster)

    cluster.server.table.add(EXTERNAL_SECRETS)  # the CRD is installed
    _created_once_usable(cluster)


def test_a_kind_the_controller_may_not_list_is_reported_with_the_rule_to_grant(
    served: Cluster,
) -> None:
    cluster = served
    forbidden = cluster.server.faults.add(
        Fault(method="GET", path_regex=r"/externalsecrets$", status=403, times=None)
    )
    _start(cluster)
    found = _secrets_ready(cluster, "KindForbidden")
    assert found["status"] == "False"
    assert "may not list/watch ExternalSecret (external-secrets.io/v1beta1)" in found["message"]
    assert RULE in found["message"]
    _the_rest_went_on(cluster)

    cluster.server.faults.clear()  # RBAC granted
    assert forbidden.fired >= 1
    _created_once_usable(cluster)


def test_startup_never_waits_for_a_kind_added_by_the_config(unserved: Cluster) -> None:
    cluster = unserved
    cluster.seed_config(_external_auth)
    for _ in range(5):
        controller = cluster.start(settings())  # raises TimeoutError if the start waited on it
        assert controller.ready
        cluster.stop_all()


def test_the_rule_told_for_a_secrets_kind_grants_what_the_controller_does_to_secrets() -> None:
    """A generator kind is written like a Secret; the verbs we tell the admin to grant are the
    (derived) verbs of the shipped Secrets rule, so the two cannot drift apart."""
    text = (REPO_ROOT / "manifests/base/rbac/controller.yaml").read_text()
    rules = [
        rule
        for doc in yaml.safe_load_all(text)
        if doc
        for rule in doc.get("rules") or []
        if rule.get("resources") == ["secrets"]
    ]
    assert rules, "the shipped controller role has a Secrets rule"
    assert yaml.safe_load(WRITE_VERBS) == rules[0]["verbs"]
