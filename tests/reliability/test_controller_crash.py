"""A controller that dies after its k-th API write, for every k of one full reconcile, and a
fresh controller that takes over: the end state is that of a run that was never interrupted.

"Dies" is: from the k-th write on, the API server drops every request of the old controller
(its client fails, as when the pod is killed mid-reconcile), then it is stopped; a new one
starts on the same cluster."""

from __future__ import annotations

import dataclasses
from typing import Any

from controller.manager import Controller
from tests.apiserver import EmulatedAPIServer, Fault
from tests.controller.fleet import (
    WriteCounter,
    all_provisioned,
    duplicate_problems,
    final_state,
    seed_cluster,
    seed_eps,
    write_problems,
)
from tests.controller.harness import settings

NAMES = ["pr-1"]
ONE_WORKER = dataclasses.replace(settings(), workers=1, request_timeout=2.0)


def _converge(server: EmulatedAPIServer) -> dict[str, Any]:
    client = server.api_client()
    controller = Controller(client, ONE_WORKER).start(sync_timeout=10)
    try:
        server.wait_for(lambda: all_provisioned(server, NAMES), timeout=30, interval=0.02)
        server.wait_for(lambda: controller.queue.pending == 0, timeout=30)
    finally:
        controller.stop(timeout=5)
        client.close()
    return final_state(server, NAMES)


def _reference() -> tuple[dict[str, Any], int]:
    with EmulatedAPIServer() as server:
        seed_cluster(server)
        seed_eps(server, NAMES)
        state = _converge(server)
        return state, len([r for r in server.writes() if r.status < 300])


def _crash_after(k: int) -> dict[str, Any]:
    with EmulatedAPIServer() as server:
        seed_cluster(server)
        seed_eps(server, NAMES)
        client = server.api_client()
        controller = Controller(client, ONE_WORKER)

        def crash(count: int) -> None:
            if count == k:
                server.faults.add(Fault(kind="drop", times=None))

        counter = WriteCounter(controller, after_write=crash)
        controller.start(sync_timeout=10)
        server.wait_for(lambda: counter.succeeded >= k, timeout=30, interval=0.01)
        controller.stop(timeout=5)
        client.close()
        server.faults.clear()
        assert not all_provisioned(server, NAMES) or k >= counter.succeeded
        state = _converge(server)
        assert duplicate_problems(server, NAMES) == []
        assert write_problems(server) == []
        return state


def test_a_crash_after_any_write_converges_to_the_uninterrupted_state() -> None:
    reference, writes = _reference()
    assert writes >= 8  # finalizer, namespace, 2 secrets, SA, GitRepository, HelmRelease, status
    for k in range(1, writes + 1):
        state = _crash_after(k)
        assert state == reference, f"crash after write {k} of {writes}"
    print(f"\n  crash points tested: {writes} (every write of one full reconcile, events included)")
