"""Scenarios: ownership conflicts, deletion, restarts, resyncs and API failures."""

from __future__ import annotations

import collections
from typing import Any

import pytest

from controller.settings import ReleaseFlavour
from tests.apiserver import Fault
from tests.controller.harness import (
    EP_API,
    EP_NAME,
    FLUX_HR,
    GIT_REPO,
    NS,
    RELEASE,
    Cluster,
    settings,
)

FLUX = ReleaseFlavour.FLUX_V2


def _deployed(cluster: Cluster, flavour: ReleaseFlavour = FLUX, **changes: Any) -> Any:
    cluster.seed_config()
    cluster.create_ep()
    controller = cluster.start(settings(flavour, **changes))
    cluster.wait(lambda: cluster.release(flavour))
    cluster.play_flux(flavour)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "deployed")
    return controller


def test_a_namespace_owned_by_someone_else_is_not_taken_over(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.server.seed(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": {"a": "b"}}}
    )
    cluster.create_ep()
    cluster.start(settings())
    cluster.wait(lambda: cluster.condition("NamespaceReady").get("reason") == "NamespaceConflict")
    assert cluster.condition("NamespaceReady")["status"] == "False"
    assert cluster.condition("Ready")["status"] == "False"
    assert cluster.status()["currentPhase"] == "Creating Namespace"
    ns = cluster.server.get("v1", "namespaces", NS)
    assert ns is not None and ns["metadata"]["labels"] == {
        "a": "b",
        "kubernetes.io/metadata.name": NS,
    }
    assert "ownerReferences" not in ns["metadata"]
    assert cluster.server.list("v1", "secrets", NS) == []
    assert cluster.release(FLUX) is None
    cluster.wait(lambda: [e for e in cluster.events() if e[1] == "NamespaceConflict"])
    assert [e[0] for e in cluster.events() if e[1] == "NamespaceConflict"] == ["Warning"]

    # deleting the EP leaves the namespace that was never ours
    cluster.server.delete(EP_API, "environmentprovisioners", EP_NAME)
    cluster.wait(lambda: cluster.ep() is None)
    assert cluster.server.get("v1", "namespaces", NS) is not None


def test_deletion_removes_the_release_first_then_the_namespace_then_the_finalizer(
    cluster: Cluster,
) -> None:
    _deployed(cluster)
    # Flux keeps its finalizer on the HelmRelease until it has uninstalled the release
    cluster.server.patch(
        *FLUX_HR, RELEASE, NS, {"metadata": {"finalizers": ["finalizers.fluxcd.io"]}}
    )
    cluster.server.clear_requests()
    cluster.server.delete(EP_API, "environmentprovisioners", EP_NAME)

    hr = cluster.wait(
        lambda: (cluster.release(FLUX) or {}).get("metadata", {}).get("deletionTimestamp")
    )
    assert hr
    cluster.wait(lambda: cluster.status().get("currentPhase") == "Deleting Environment")
    ns = cluster.server.get("v1", "namespaces", NS)
    assert ns is not None and not ns["metadata"].get("deletionTimestamp")
    assert cluster.ep() is not None
    assert cluster.server.get(*GIT_REPO, RELEASE, NS) is None

    cluster.server.patch(*FLUX_HR, RELEASE, NS, {"metadata": {"finalizers": None}})  # uninstalled
    cluster.wait(lambda: cluster.ep() is None)
    assert cluster.server.get("v1", "namespaces", NS) is None
    order = [
        (r.plural, r.name)
        for r in cluster.server.writes()
        if r.verb == "delete"
        or (r.plural == "environmentprovisioners" and r.verb == "patch" and not r.subresource)
    ]
    release_delete = order.index(("helmreleases", RELEASE))
    namespace_delete = order.index(("namespaces", NS))
    finalizer_removed = max(
        i for i, (plural, _) in enumerate(order) if plural == "environmentprovisioners"
    )
    assert release_delete < namespace_delete < finalizer_removed


def test_deletion_gives_up_waiting_for_flux_after_the_timeout(cluster: Cluster) -> None:
    _deployed(cluster, deletion_timeout=0.3)
    cluster.server.patch(
        *FLUX_HR, RELEASE, NS, {"metadata": {"finalizers": ["finalizers.fluxcd.io"]}}
    )
    cluster.server.delete(EP_API, "environmentprovisioners", EP_NAME)
    cluster.wait(lambda: cluster.ep() is None)
    ns = cluster.server.get("v1", "namespaces", NS)
    assert ns is None or ns["metadata"].get("deletionTimestamp")
    assert any(e[1] == "UninstallTimedOut" for e in cluster.events())


def test_an_idle_resync_makes_no_writes_and_no_reads(cluster: Cluster) -> None:
    controller = _deployed(cluster, resync_period=0.05)
    cluster.wait_settled(controller)
    settled_at = controller.reconciles  # two idle resyncs more: the last writes are answered
    cluster.wait(lambda: controller.reconciles >= settled_at + 2 and controller.queue.pending == 0)
    cluster.server.clear_requests()
    before = controller.reconciles
    cluster.wait(lambda: controller.reconciles >= before + 5)
    assert cluster.server.writes() == []
    assert [r for r in cluster.server.requests if r.verb in ("get", "list")] == []


def test_a_restart_half_way_converges_without_duplicates(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.create_ep()
    cluster.server.faults.add(
        Fault(method="PATCH", path_regex=r"/gitrepositories/", status=503, times=None)
    )
    first = cluster.start(settings())
    cluster.wait(lambda: cluster.server.get("v1", "secrets", "nexus-pull-secret", NS))
    cluster.wait(lambda: any(r.plural == "gitrepositories" for r in cluster.server.requests))
    first.stop()
    cluster.server.faults.clear()
    assert cluster.release(FLUX) is None

    cluster.start(settings())
    cluster.wait(lambda: cluster.release(FLUX))
    cluster.play_flux(FLUX)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "deployed")
    created = collections.Counter(
        (r.plural, (r.body or {}).get("metadata", {}).get("name"))
        for r in cluster.server.writes()
        if r.verb in ("patch", "create") and r.status == 201 and r.plural != "events"
    )
    assert created == {
        ("namespaces", NS): 1,
        ("serviceaccounts", "tronador-release"): 1,
        ("rolebindings", "tronador-release"): 1,
        ("secrets", "nordmart-git-auth"): 1,
        ("secrets", "nexus-pull-secret"): 1,
        ("serviceaccounts", "default"): 1,
        ("gitrepositories", RELEASE): 1,
        ("helmreleases", RELEASE): 1,
    }
    ep = cluster.ep()
    assert ep is not None and ep["metadata"]["finalizers"] == ["tronador.stakater.com/cleanup"]


def test_a_conflict_on_the_status_write_is_retried(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.create_ep()
    fault = cluster.server.faults.add(
        Fault(method="PATCH", path_regex=r"/environmentprovisioners/.*/status$", status=409)
    )
    cluster.start(settings())
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "pending")
    assert fault.fired == 1


def test_a_conflict_on_the_release_update_is_retried(cluster: Cluster) -> None:
    _deployed(cluster)
    # someone else updates the HelmRelease meanwhile: our cached copy is stale
    cluster.server.patch(*FLUX_HR, RELEASE, NS, {"metadata": {"labels": {"someone": "else"}}})
    fault = cluster.server.faults.add(
        Fault(method="PATCH", path_regex=rf"/helmreleases/{RELEASE}$", status=409)
    )
    image = {"image": {"tag": "new"}}
    values = {"values": {"application": {"deployment": image}}}
    cluster.server.patch(
        EP_API,
        "environmentprovisioners",
        EP_NAME,
        None,
        {"spec": {"application": {"release": values}}},
    )
    cluster.wait(
        lambda: (
            (cluster.release(FLUX) or {})["spec"]["values"]["application"]["deployment"]["image"][
                "tag"
            ]
            == "new"
        )
    )
    assert fault.fired == 1
    assert (cluster.release(FLUX) or {})["metadata"]["labels"]["someone"] == "else"


@pytest.mark.parametrize(("status", "reason"), [(403, "Forbidden"), (422, "Invalid")])
def test_a_rejected_write_is_reported_and_retried(
    cluster: Cluster, status: int, reason: str
) -> None:
    cluster.seed_config()
    cluster.create_ep()
    cluster.server.faults.add(
        Fault(method="PATCH", path_regex=r"/helmreleases/", status=status, times=None)
    )
    cluster.start(settings())
    cluster.wait(lambda: cluster.condition("ReleaseReady").get("reason") == reason)
    assert cluster.condition("ReleaseReady")["status"] == "False"
    assert cluster.status()["currentPhase"] == "Creating Helm Release"
    cluster.wait(lambda: [e for e in cluster.events() if e[1] == reason])
    cluster.server.faults.clear()
    cluster.wait(lambda: cluster.release(FLUX))
    cluster.wait(lambda: cluster.condition("ReleaseReady").get("reason") == "Progressing")
    assert len([e for e in cluster.events() if e[1] == reason]) == 1


def test_an_unreachable_api_server_means_backoff_then_recovery(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.create_ep()
    controller = cluster.start(settings())
    cluster.wait(lambda: cluster.release(FLUX))
    outage = cluster.server.faults.add(Fault(status=503, times=None))
    labels = {"spec": {"namespaceLabels": {"during": "outage"}}}
    cluster.server.patch(EP_API, "environmentprovisioners", EP_NAME, None, labels)
    cluster.wait(lambda: outage.fired >= 5)  # the namespace update, retried with backoff
    assert controller.ready
    cluster.server.faults.clear()
    cluster.play_flux(FLUX)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "deployed")
    ns = cluster.server.get("v1", "namespaces", NS)
    assert ns is not None and ns["metadata"]["labels"]["during"] == "outage"


def test_a_watch_that_expired_relists_and_catches_up(cluster: Cluster) -> None:
    controller = _deployed(cluster)
    cluster.server.faults.add(Fault(drop_watch=True, times=3))
    cluster.server.compact()
    cluster.server.patch(
        EP_API,
        "environmentprovisioners",
        EP_NAME,
        None,
        {"spec": {"namespaceLabels": {"after": "relist"}}},
    )
    cluster.wait(
        lambda: (
            (cluster.server.get("v1", "namespaces", NS) or {})["metadata"]["labels"].get("after")
            == "relist"
        )
    )
    assert controller.ready
