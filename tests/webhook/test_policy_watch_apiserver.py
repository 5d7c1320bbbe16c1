"""The real watcher (kubernetes client list + watch in a thread) against the emulated API server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kube.api import Kube
from kube.backoff import Backoff
from tests.apiserver import EmulatedAPIServer, Fault
from tests.webhook.helpers import logged_text, seed_config
from tronador.api import Policy
from tronador.api.constants import API_VERSION, CONFIG_NAME, CONFIG_PLURAL
from webhook.policy_watch import KubernetesPolicySource

NAMESPACE = "tronador-system"
SECRET_VALUE = "replace-me"


@pytest.fixture
def cluster() -> Iterator[EmulatedAPIServer]:
    namespaces = ("default", "kube-system", NAMESPACE)
    with EmulatedAPIServer(namespaces=namespaces, bookmark_interval=0.05) as server:
        yield server


@pytest.fixture
def watcher(cluster: EmulatedAPIServer) -> Iterator[KubernetesPolicySource]:
    api_client = cluster.api_client()
    source = KubernetesPolicySource(
        Kube(api_client),
        NAMESPACE,
        watch_timeout_seconds=1,
        backoff=Backoff(base=0.01, maximum=0.05),
    )
    try:
        yield source
    finally:
        source.stop()
        api_client.close()


def allowed_tenants(source: KubernetesPolicySource) -> list[str] | None:
    return None if source.policy is None else source.policy.tenant.allowed_values


def set_tenants(cluster: EmulatedAPIServer, tenants: list[str]) -> None:
    cluster.patch(
        API_VERSION,
        CONFIG_PLURAL,
        CONFIG_NAME,
        NAMESPACE,
        {"spec": {"policy": {"tenant": {"allowedValues": tenants}}}},
    )


def verbs(cluster: EmulatedAPIServer) -> list[tuple[str, int]]:
    return [(r.verb, r.status) for r in cluster.requests]


def test_config_created_changed_broken_and_deleted_is_followed_without_restart(
    cluster: EmulatedAPIServer,
    watcher: KubernetesPolicySource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    watcher.start()
    cluster.wait_for(lambda: watcher.synced)
    assert watcher.policy == Policy()

    cluster.seed(seed_config())
    cluster.wait_for(lambda: allowed_tenants(watcher) == ["veeru", "jai"])

    set_tenants(cluster, ["jai"])
    cluster.wait_for(lambda: allowed_tenants(watcher) == ["jai"])

    broken = {"spec": {"policy": {"defaultTTL": "x"}}}
    cluster.patch(API_VERSION, CONFIG_PLURAL, CONFIG_NAME, NAMESPACE, broken)
    cluster.wait_for(lambda: "spec.policy.defaultTTL" in logged_text(caplog.records))
    assert allowed_tenants(watcher) == ["jai"]

    cluster.delete(API_VERSION, CONFIG_PLURAL, CONFIG_NAME, NAMESPACE)
    cluster.wait_for(lambda: watcher.policy == Policy())
    assert SECRET_VALUE not in logged_text(caplog.records)


def test_a_config_elsewhere_or_under_another_name_is_ignored(
    cluster: EmulatedAPIServer, watcher: KubernetesPolicySource
) -> None:
    elsewhere: dict[str, Any] = seed_config()
    elsewhere["metadata"]["namespace"] = "default"
    other_name = seed_config()
    other_name["metadata"]["name"] = "another"
    cluster.seed(elsewhere)
    cluster.seed(other_name)
    watcher.start()
    cluster.wait_for(lambda: watcher.synced)
    assert watcher.policy == Policy()

    cluster.patch(API_VERSION, CONFIG_PLURAL, "another", NAMESPACE, {"spec": {"policy": {}}})
    cluster.seed(seed_config())
    cluster.wait_for(lambda: watcher.policy != Policy())
    assert allowed_tenants(watcher) == ["veeru", "jai"]


def test_expired_watch_relists(cluster: EmulatedAPIServer, watcher: KubernetesPolicySource) -> None:
    cluster.seed(seed_config())
    cluster.faults.add(Fault(verb="watch", status=410, times=1))
    watcher.start()
    cluster.wait_for(lambda: ("watch", 200) in verbs(cluster))
    assert verbs(cluster)[:4] == [("list", 200), ("watch", 410), ("list", 200), ("watch", 200)]
    set_tenants(cluster, ["after-relist"])
    cluster.wait_for(lambda: allowed_tenants(watcher) == ["after-relist"])


def test_unreachable_api_keeps_the_last_good_policy_and_recovers(
    cluster: EmulatedAPIServer, watcher: KubernetesPolicySource
) -> None:
    cluster.faults.add(Fault(verb="list", status=503, times=2))
    cluster.seed(seed_config())
    watcher.start()
    cluster.wait_for(lambda: watcher.synced)
    assert verbs(cluster)[:3] == [("list", 503), ("list", 503), ("list", 200)]
    good = watcher.policy

    outage = cluster.faults.add(Fault(status=503, times=None))
    cluster.wait_for(lambda: outage.fired >= 3)
    assert watcher.policy is good

    cluster.faults.clear()
    set_tenants(cluster, ["recovered"])
    cluster.wait_for(lambda: allowed_tenants(watcher) == ["recovered"])


def test_the_last_sync_advances_while_watching_and_stops_in_an_outage(
    cluster: EmulatedAPIServer, watcher: KubernetesPolicySource
) -> None:
    cluster.seed(seed_config())
    watcher.start()
    cluster.wait_for(lambda: watcher.last_sync is not None)
    first = watcher.last_sync
    assert first is not None
    # Bookmarks and full watches (1 s here) confirm the policy with no change to the config.
    cluster.wait_for(lambda: (watcher.last_sync or 0) > first)

    outage = cluster.faults.add(Fault(status=503, times=None))
    cluster.wait_for(lambda: outage.fired >= 3)
    stopped = watcher.last_sync
    cluster.wait_for(lambda: outage.fired >= 6)
    assert watcher.last_sync == stopped
    assert watcher.policy is not None

    cluster.faults.clear()
    cluster.wait_for(lambda: (watcher.last_sync or 0) > (stopped or 0))
