"""The controller against an API server that misbehaves: conflicts, throttling, outages, dropped
and expired watches, hung requests. Once the faults stop, every EP converges, with no duplicate
object and no object of one EP ever written into another EP's namespace.

Run with `-s` to see how often each fault fired."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from controller.manager import Controller
from tests.apiserver import EmulatedAPIServer, Fault
from tests.controller.fleet import (
    all_provisioned,
    duplicate_problems,
    ep_body,
    ep_name,
    seed_cluster,
    seed_eps,
    write_problems,
)
from tests.controller.harness import settings

EPS = 10
CONVERGE = 60.0
"""Generous: how long convergence may take once the faults stop."""
RELIABLE = dataclasses.replace(settings(), workers=4, request_timeout=1.0, backoff_max=0.5)
"""A 1 s request timeout, so a hung request (a 3 s delay fault) times out."""


@pytest.fixture
def controllers(apiserver: EmulatedAPIServer) -> Iterator[list[Controller]]:
    started: list[Controller] = []
    clients = []
    yield started
    for controller in started:
        controller.stop(timeout=5)
    for client in clients:
        client.close()


def _start(server: EmulatedAPIServer, started: list[Controller]) -> Controller:
    controller = Controller(server.api_client(), RELIABLE)
    started.append(controller)
    controller.start(sync_timeout=30)
    return controller


def _converged(server: EmulatedAPIServer, names: list[str]) -> None:
    server.wait_for(lambda: all_provisioned(server, names), timeout=CONVERGE, interval=0.05)
    assert duplicate_problems(server, names) == []
    assert write_problems(server) == []


def _report(faults: list[tuple[str, Fault]]) -> None:
    print()
    for label, fault in faults:
        print(f"  {label:<45} fired {fault.fired}")


def test_converges_through_every_kind_of_fault(
    apiserver: EmulatedAPIServer, controllers: list[Controller]
) -> None:
    server = apiserver
    seed_cluster(server)
    names = [ep_name(i) for i in range(EPS)]
    seed_eps(server, names[:5])
    retry = {"Retry-After": "1"}
    faults = [
        ("409 Conflict on applies", Fault(method="PATCH", status=409, times=8)),
        (
            "429 Too Many Requests (Retry-After) on applies",
            Fault(method="PATCH", status=429, headers=retry, times=8),
        ),
        ("503 (Retry-After) on reads", Fault(method="GET", status=503, headers=retry, times=8)),
        ("dropped watch streams", Fault(drop_watch=True, times=6)),
        (
            "hung applies (3 s > the 1 s timeout)",
            Fault(method="PATCH", delay=3.0, status=500, times=3),
        ),
        (
            "dropped connections on status writes",
            Fault(path_regex=r"/status$", kind="drop", times=4),
        ),
    ]
    for _, fault in faults:
        server.faults.add(fault)
    controller = _start(server, controllers)
    seed_eps(server, names[5:])  # created while the faults fire
    server.wait_for(lambda: all(f.exhausted for _, f in faults), timeout=CONVERGE, interval=0.05)
    _converged(server, names)
    assert controller.metrics.sample("tronador_controller_api_errors_total", code="409") >= 1

    # A 410 Gone: with every watch down, an EP changes and the event log is compacted, so the
    # informers resume from a resourceVersion the server no longer has, get 410, and relist.
    gone = server.faults.add(Fault(drop_watch=True, times=None))
    server.wait_for(lambda: gone.fired >= 10, timeout=CONVERGE)
    lists = _lists(server)
    server.patch(*_ep_kind(), names[0], None, {"metadata": {"labels": {"after": "410"}}})
    server.compact()
    gone.times = gone.fired  # the watches may reconnect
    server.wait_for(lambda: _lists(server) > lists, timeout=CONVERGE)  # relisted after 410
    faults.append(("dropped watches after compaction (410 Gone)", gone))

    # The API down: every request answered 503 for a while, then dropped connections.
    down = server.faults.add(Fault(status=503, times=150))
    dropped = server.faults.add(Fault(kind="drop", times=100))
    faults += [
        ("API down: 503 for every request", down),
        ("API down: connections dropped", dropped),
    ]
    server.delete(*_ep_kind(), names[1])  # an EP deleted during the outage...
    server.seed(ep_body(ep_name(EPS)))  # ...and one created
    names = [n for n in names if n != names[1]] + [ep_name(EPS)]
    server.wait_for(lambda: down.exhausted and dropped.exhausted, timeout=CONVERGE)
    # the deleted EP's cleanup first: until it ends its namespace is rightly still there
    server.wait_for(lambda: server.get("v1", "namespaces", ep_name(1)) is None, timeout=CONVERGE)
    _converged(server, names)
    _report(faults)
    assert all(f.fired > 0 for _, f in faults)
    print(f"  reconciles {controller.reconciles}; requests {len(server.requests)}")


def _lists(server: EmulatedAPIServer) -> int:
    return sum(1 for r in server.requests if r.verb == "list" and r.status == 200)


def _ep_kind() -> tuple[str, str]:
    return ("tronador.stakater.com/v1alpha1", "environmentprovisioners")


def test_a_hung_api_server_never_wedges_the_workers(
    apiserver: EmulatedAPIServer, controllers: list[Controller]
) -> None:
    """Namespace applies hang (for two minutes) as often as there are workers: the workers time
    out (1 s) and retry instead of waiting for an answer, so the EPs converge long before."""
    server = apiserver
    seed_cluster(server)
    names = [ep_name(i) for i in range(3)]
    seed_eps(server, names)
    hung = server.faults.add(
        Fault(method="PATCH", path_regex="/namespaces/[^/]+$", delay=120.0, status=500, times=4)
    )
    _start(server, controllers)
    server.wait_for(lambda: hung.exhausted, timeout=CONVERGE)
    server.wait_for(lambda: all_provisioned(server, names), timeout=30.0, interval=0.05)
    assert duplicate_problems(server, names) == []
