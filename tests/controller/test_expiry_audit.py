"""Expiry (TTL) and the policy audit in the controller's reconcile."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from controller.manager import Controller
from tests.controller.harness import EP_API, EP_NAME, Cluster, settings

TTL = "tronador.stakater.com/ttl"


def _with_ttl(value: str) -> Any:
    def mutate(ep: dict[str, Any]) -> None:
        ep["metadata"].setdefault("annotations", {})[TTL] = value

    return mutate


def test_an_expired_ep_is_deleted_with_an_event_and_a_log_line_first(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    cluster.seed_config()
    cluster.create_ep(_with_ttl("2s"))
    caplog.set_level(logging.INFO)
    cluster.start(settings())
    cluster.wait(lambda: cluster.condition("Ready").get("status") is not None)
    assert cluster.ep() is not None  # provisioned first, expired later (requeued at expiry)
    cluster.wait(lambda: cluster.ep() is None, timeout=15)
    writes = [
        (r.verb, r.plural, (r.body or {}).get("reason") if r.plural == "events" else r.name)
        for r in cluster.server.writes()
    ]
    expired = writes.index(("create", "events", "Expired"))
    deleted = writes.index(("delete", "environmentprovisioners", EP_NAME))
    assert expired < deleted  # said first, then done
    assert next(w for w in writes if w[0] == "delete")[1] == "environmentprovisioners"
    message = next(m for _, r, m in cluster.events() if r == "Expired")
    assert "TTL 2s" in message
    assert any(r.getMessage() == "environment expired; deleting it" for r in caplog.records)
    assert cluster.server.get("v1", "namespaces", EP_NAME) is None


def test_an_ep_that_has_not_expired_is_kept(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.create_ep(_with_ttl("1h"))
    controller = cluster.start(settings())
    cluster.wait(lambda: cluster.condition("Ready").get("status") is not None)
    cluster.wait_settled(controller)  # a 1h TTL is beyond the resync: nothing waits for it
    assert cluster.ep() is not None
    assert "Expired" not in [reason for _, reason, _ in cluster.events()]


def test_only_the_leader_deletes_an_expired_ep(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.create_ep(_with_ttl("1s"))
    client = cluster.server.api_client()
    cluster.clients.append(client)
    standby = Controller(client, settings(), is_leader=lambda: False).start(sync_timeout=10)
    cluster.controllers.append(standby)
    cluster.wait(lambda: standby.reconciles == 0 and standby.queue.pending == 0)
    standby.enqueue_all()
    cluster.wait(lambda: standby.queue.pending == 0)
    assert cluster.ep() is not None
    assert cluster.server.writes() == []


def _condition(ep: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for condition in ((ep or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == type_:
            return condition  # type: ignore[no-any-return]
    return {}


def _set_tenants(cluster: Cluster, tenants: list[str]) -> None:
    patch = {"spec": {"policy": {"tenant": {"allowedValues": tenants}}}}
    cluster.server.patch(EP_API, "tronadorconfigs", "tronador-config", "tronador-system", patch)


def test_policy_change_sets_policy_compliant_in_the_one_status_write(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.create_ep()
    controller = cluster.start(settings())
    cluster.wait(lambda: _condition(cluster.ep(), "PolicyCompliant").get("status") == "True")
    cluster.wait_settled(controller)

    cluster.server.clear_requests()
    _set_tenants(cluster, ["jai"])  # the EP's tenant veeru is no longer allowed
    condition = cluster.wait(
        lambda: (
            _condition(cluster.ep(), "PolicyCompliant")
            if _condition(cluster.ep(), "PolicyCompliant").get("status") == "False"
            else None
        )
    )
    assert condition["reason"] == "TenantAllowedFailed"
    assert "veeru" in condition["message"]
    cluster.wait_settled(controller)
    status_writes = [r for r in cluster.server.writes() if r.subresource == "status"]
    assert len(status_writes) == 1
    assert [r.plural for r in cluster.server.writes() if r.plural != "events"] == [
        "environmentprovisioners"
    ]  # nothing else is touched, and the EP is never deleted for this
    assert cluster.ep() is not None

    cluster.server.clear_requests()
    controller.enqueue_all()  # an unchanged policy: no write
    cluster.wait_settled(controller)
    assert [r for r in cluster.server.writes() if r.plural != "events"] == []

    _set_tenants(cluster, ["veeru", "jai"])
    cluster.wait(lambda: _condition(cluster.ep(), "PolicyCompliant").get("status") == "True")
