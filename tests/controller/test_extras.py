"""Scenarios: Secret-generating config items, copied valuesFrom sources, invalid EPs,
leadership gating, many EPs at once."""

from __future__ import annotations

import collections
import copy
from collections.abc import Iterator
from typing import Any

import pytest

from controller.manager import Controller
from controller.settings import ReleaseFlavour
from tests.apiserver import EmulatedAPIServer, Resource
from tests.controller.flux_schemas import validate
from tests.controller.harness import EP_API, EP_NAME, NS, RELEASE, Cluster, settings
from tests.controller.helpers import seed_ep_dict

EXTERNAL_SECRETS = Resource(
    "external-secrets.io/v1beta1",
    "ExternalSecret",
    "externalsecrets",
    namespaced=True,
    status_subresource=True,
    custom=True,
    tracks_generation=True,
)


@pytest.fixture
def es_cluster() -> Iterator[Cluster]:
    server = EmulatedAPIServer(extra_resources=[EXTERNAL_SECRETS]).start()
    cluster = Cluster(server)
    try:
        yield cluster
    finally:
        cluster.stop_all()
        server.stop()


def external_secret(name: str, key: str) -> dict[str, Any]:
    """A TronadorConfig `secrets` item that makes the Secret `name` from the vault's `key`."""
    return {
        "apiVersion": "external-secrets.io/v1beta1",
        "kind": "ExternalSecret",
        "metadata": {"name": name},
        "spec": {
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
            "target": {"name": name},
            "dataFrom": [{"extract": {"key": key}}],
        },
    }


def _external_auth(config: dict[str, Any]) -> None:
    config["spec"]["secrets"][0] = external_secret("nordmart-git-auth", "git/nordmart")


def test_secret_generating_items_are_created_with_their_own_kind(es_cluster: Cluster) -> None:
    cluster = es_cluster
    cluster.seed_config(_external_auth)
    cluster.create_ep()
    cluster.start(settings())
    generated = cluster.wait(
        lambda: cluster.server.get(
            EXTERNAL_SECRETS.api_version, "externalsecrets", "nordmart-git-auth", NS
        )
    )
    assert generated["spec"]["target"] == {"name": "nordmart-git-auth"}
    assert generated["metadata"]["labels"]["tronador.stakater.com/environment"] == EP_NAME
    assert cluster.server.get("v1", "secrets", "nordmart-git-auth", NS) is None
    source = cluster.wait(
        lambda: cluster.server.get("source.toolkit.fluxcd.io/v1", "gitrepositories", RELEASE, NS)
    )
    assert source["spec"]["secretRef"] == {"name": "nordmart-git-auth"}

    # the item's spec changes: the copy follows
    config = cluster.server.get(EP_API, "tronadorconfigs", "tronador-config", "tronador-system")
    assert config is not None
    config["spec"]["secrets"][0]["spec"]["dataFrom"][0]["extract"]["key"] = "git/other"
    cluster.server.patch(
        EP_API, "tronadorconfigs", "tronador-config", "tronador-system", {"spec": config["spec"]}
    )
    cluster.wait(
        lambda: (
            (
                cluster.server.get(
                    EXTERNAL_SECRETS.api_version, "externalsecrets", "nordmart-git-auth", NS
                )
                or {}
            )["spec"]["dataFrom"][0]["extract"]["key"]
            == "git/other"
        )
    )


def test_cross_namespace_values_sources_are_copied_for_flux_v2(cluster: Cluster) -> None:
    cluster.server.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    cluster.server.seed(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "common", "namespace": "team"},
            "data": {"values.yaml": "replicas: 2\n", "unrelated": "x"},
        }
    )
    ref = {"configMapKeyRef": {"name": "common", "namespace": "team"}}

    def with_values_from(ep: dict[str, Any]) -> None:
        ep["spec"]["application"]["release"]["valuesFrom"] = [ref]

    def open_team(config: dict[str, Any]) -> None:
        config["spec"]["policy"]["valuesFromNamespaces"] = ["team"]

    cluster.seed_config(open_team)
    cluster.create_ep(with_values_from)
    cluster.start(settings())
    hr = cluster.wait(lambda: cluster.release(ReleaseFlavour.FLUX_V2))
    validate(hr)
    assert hr["spec"]["valuesFrom"] == [{"kind": "ConfigMap", "name": "values-team-common"}]
    copied = cluster.server.get("v1", "configmaps", "values-team-common", NS)
    assert copied is not None and copied["data"] == {"values.yaml": "replicas: 2\n"}

    cluster.server.patch(
        "v1", "configmaps", "common", "team", {"data": {"values.yaml": "replicas: 3\n"}}
    )
    cluster.server.patch(  # any change of the EP re-reads its sources
        EP_API, "environmentprovisioners", EP_NAME, None, {"metadata": {"labels": {"r": "1"}}}
    )
    cluster.wait(
        lambda: (
            (cluster.server.get("v1", "configmaps", "values-team-common", NS) or {})["data"]
            == {"values.yaml": "replicas: 3\n"}
        )
    )
    release = {"application": {"release": {"valuesFrom": None}}}
    cluster.server.clear_requests()
    cluster.server.patch(EP_API, "environmentprovisioners", EP_NAME, None, {"spec": release})
    cluster.wait(lambda: cluster.server.get("v1", "configmaps", "values-team-common", NS) is None)
    assert "valuesFrom" not in (cluster.release(ReleaseFlavour.FLUX_V2) or {})["spec"]
    writes = [(w.plural, w.name) for w in cluster.server.writes() if w.subresource is None]
    assert writes.index(("helmreleases", "run-pipeline")) < writes.index(
        ("configmaps", "values-team-common")
    ), f"the copy went before the release stopped naming it: {writes}"


def test_values_sources_in_a_namespace_the_policy_does_not_open_are_never_copied(
    cluster: Cluster,
) -> None:
    cluster.server.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    cluster.server.seed(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "team"},
            "stringData": {"values.yaml": "password: hunter2\n"},
        }
    )

    def with_values_from(ep: dict[str, Any]) -> None:
        ep["spec"]["application"]["release"]["valuesFrom"] = [
            {"secretKeyRef": {"name": "db", "namespace": "team"}}
        ]

    cluster.seed_config()
    cluster.create_ep(with_values_from)
    cluster.start(settings())
    status = cluster.wait(lambda: (cluster.ep() or {}).get("status"))
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert "valuesFrom[0].secretKeyRef.namespace: 'team' is not open" in ready["message"]
    assert "(rule values-from-namespace)" in ready["message"]
    assert cluster.server.list("v1", "secrets", NS) == []
    assert cluster.release(ReleaseFlavour.FLUX_V2) is None


def test_an_invalid_ep_is_reported_and_not_provisioned(cluster: Cluster) -> None:
    def bad_url(ep: dict[str, Any]) -> None:
        ep["spec"]["application"]["release"]["chart"]["git"] = "http://insecure/repo"

    cluster.create_ep(bad_url)
    cluster.start(settings())
    cluster.wait(lambda: cluster.condition("Ready").get("reason") == "InvalidSpec")
    assert "chart.git" in cluster.condition("Ready")["message"]
    assert cluster.status()["currentPhase"] == "Invalid Spec"
    assert cluster.server.get("v1", "namespaces", NS) is None
    cluster.wait(lambda: [e for e in cluster.events() if e[1] == "InvalidSpec"])


def test_a_replica_that_is_not_leader_writes_nothing(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.create_ep()
    leading = [False]
    client = cluster.server.api_client()
    cluster.clients.append(client)
    controller = Controller(client, settings(), is_leader=lambda: leading[0]).start(10)
    cluster.controllers.append(controller)
    cluster.wait_settled(controller)
    assert controller.reconciles == 0
    assert cluster.server.writes() == []
    leading[0] = True
    controller.enqueue_all()
    cluster.wait(lambda: cluster.release(ReleaseFlavour.FLUX_V2))


def test_many_eps_cost_a_constant_number_of_calls_each(cluster: Cluster) -> None:
    count = 20
    cluster.seed_config()
    for index in range(count):
        ep = seed_ep_dict()
        ep["metadata"]["name"] = f"pr-{index}"
        cluster.server.seed(copy.deepcopy(ep))
    controller = cluster.start(settings(workers=4, resync_period=0.2))
    status = lambda: [  # noqa: E731
        (e.get("status") or {}).get("applicationStatus")
        for e in cluster.server.list(EP_API, "environmentprovisioners")
    ]
    cluster.wait(lambda: status() == ["pending"] * count)
    writes = collections.Counter(r.plural for r in cluster.server.writes() if r.plural != "events")
    # per EP: finalizer + status; the namespace's claim (create) and apply; 2 secrets; the
    # default service account's pull secret and the release's own account; its RoleBinding;
    # source, release
    assert writes == {
        "environmentprovisioners": 2 * count,
        "namespaces": 2 * count,
        "secrets": 2 * count,
        "serviceaccounts": 2 * count,
        "rolebindings": count,
        "gitrepositories": count,
        "helmreleases": count,
    }
    reads = [r for r in cluster.server.requests if r.verb == "get" and r.plural]
    assert reads == []  # objects: discovery (whether HTTPRoutes and Routes are served) aside
    cluster.wait_settled(controller)
    cluster.server.clear_requests()
    before = controller.reconciles
    cluster.wait(lambda: controller.reconciles >= before + 2 * count)  # two resyncs
    assert cluster.server.writes() == []
