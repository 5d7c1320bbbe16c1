"""Two controller replicas with leader election (lease 1 s, renew deadline 0.6 s, retry 0.1 s)
on one emulated API server, each with its own client. Writes are counted per replica at its
REST layer: only the leader's reach the server. Takeover times are printed (`pytest -s`).

And `tronador controller` as a process: SIGTERM releases the Lease and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.leaderelection import LeaderElectionConfig
from controller.runtime import Replica
from tests.apiserver import EmulatedAPIServer, Fault
from tests.controller.fleet import (
    WriteCounter,
    all_provisioned,
    duplicate_problems,
    ep_body,
    seed_cluster,
    seed_eps,
    write_problems,
)
from tests.controller.harness import SYSTEM_NS, settings

SHORT = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.1}
GENEROUS = 20.0


class Fleet:
    def __init__(self, server: EmulatedAPIServer) -> None:
        self.server = server
        self.replicas: list[Replica] = []
        self.counters: dict[str, WriteCounter] = {}
        self._clients: list[Any] = []

    def add(self, identity: str) -> Replica:
        client = self.server.api_client()
        self._clients.append(client)
        election = LeaderElectionConfig(identity=identity, namespace=SYSTEM_NS, **SHORT)
        replica = Replica(client, settings(), election=election)
        self.counters[identity] = WriteCounter(replica.controller)
        self.replicas.append(replica)
        return replica

    def leader(self) -> Replica | None:
        leaders = [r for r in self.replicas if r.is_leader()]
        assert len(leaders) <= 1
        return leaders[0] if leaders else None

    def close(self) -> None:
        for replica in self.replicas:
            replica.stop(timeout=5)
        for client in self._clients:
            client.close()


@pytest.fixture
def fleet(apiserver: EmulatedAPIServer) -> Iterator[Fleet]:
    fleet = Fleet(apiserver)
    try:
        yield fleet
    finally:
        fleet.close()


def _identity(replica: Replica) -> str:
    assert replica.elector is not None
    return replica.elector.identity


def _takeover(fleet: Fleet, release: bool) -> tuple[Replica, Replica, float]:
    server = fleet.server
    seed_cluster(server)
    names = ["pr-1", "pr-2", "pr-3"]
    seed_eps(server, names)
    for identity in ("replica-a", "replica-b"):
        fleet.add(identity).start(sync_timeout=10)
    leader = server.wait_for(fleet.leader, timeout=GENEROUS)
    standby = next(r for r in fleet.replicas if r is not leader)
    server.wait_for(lambda: all_provisioned(server, names), timeout=GENEROUS)
    server.wait_for(lambda: leader.controller.queue.pending == 0, timeout=GENEROUS)
    assert fleet.counters[_identity(leader)].sent > 0
    assert fleet.counters[_identity(standby)].sent == 0  # warm, but never writing
    assert standby.ready() and leader.ready()

    before = fleet.counters[_identity(leader)].sent
    started = time.monotonic()
    leader.stop(release=release, timeout=5)
    # A change the standby sees before it leads: it must not be lost (a new leader reconciles
    # every EP), long before the next resync.
    labels = {"spec": {"namespaceLabels": {"changed": "while-leaderless"}}}
    server.patch("tronador.stakater.com/v1alpha1", "environmentprovisioners", "pr-1", None, labels)
    server.wait_for(standby.is_leader, timeout=GENEROUS, interval=0.005)
    took = time.monotonic() - started
    server.wait_for(
        lambda: (server.get("v1", "namespaces", "pr-1") or {})["metadata"]["labels"].get("changed"),
        timeout=GENEROUS,
    )

    server.seed(ep_body("pr-4"))
    names.append("pr-4")
    server.wait_for(lambda: all_provisioned(server, names), timeout=GENEROUS)
    assert fleet.counters[_identity(leader)].sent == before  # the old leader wrote nothing more
    assert fleet.counters[_identity(standby)].sent > 0
    assert duplicate_problems(server, names) == []
    assert write_problems(server) == []
    return leader, standby, took


def _releases(server: EmulatedAPIServer) -> int:
    return sum(
        1
        for r in server.writes()
        if r.plural == "leases" and ((r.body or {}).get("spec") or {}).get("holderIdentity") == ""
    )


def test_only_the_leader_writes_and_the_standby_takes_over_when_it_dies(fleet: Fleet) -> None:
    _, _, took = _takeover(fleet, release=False)
    print(f"\n  takeover after the leader died (lease 1 s): {took:.2f} s")
    assert _releases(fleet.server) == 0
    assert took >= SHORT["lease_duration"] * 0.5  # it waited for the lease to lapse
    assert took < GENEROUS


def test_a_clean_stop_releases_the_lease_for_an_immediate_takeover(fleet: Fleet) -> None:
    _, standby, took = _takeover(fleet, release=True)
    print(f"\n  takeover after a clean stop (lease released): {took:.2f} s")
    lease = fleet.server.get("coordination.k8s.io/v1", "leases", "tronador-controller", SYSTEM_NS)
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == _identity(standby)
    assert _releases(fleet.server) == 1  # the stopping leader gave the Lease up


def _kubeconfig(path: Path, url: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emulated", "cluster": {"server": url}}],
                "users": [{"name": "test", "user": {"token": "test"}}],
                "contexts": [{"name": "test", "context": {"cluster": "emulated", "user": "test"}}],
                "current-context": "test",
            }
        )
    )
    return path


def test_sigterm_releases_the_lease_and_exits_zero(
    apiserver: EmulatedAPIServer, tmp_path: Path
) -> None:
    server = apiserver
    seed_cluster(server)
    seed_eps(server, ["pr-1"])
    argv = [
        sys.executable, "-m", "tronador", "controller",
        "--kubeconfig", str(_kubeconfig(tmp_path / "kubeconfig", server.url)),
        "--namespace", SYSTEM_NS, "--metrics-address", "127.0.0.1:0",
        "--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "0.2",
    ]  # fmt: skip
    env = {**os.environ, "POD_NAME": "tronador-controller-0"}
    process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:

        def holder() -> str:
            lease = server.get("coordination.k8s.io/v1", "leases", "tronador-controller", SYSTEM_NS)
            return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")

        assert server.wait_for(holder, timeout=GENEROUS).startswith("tronador-controller-0_")
        server.wait_for(lambda: all_provisioned(server, ["pr-1"]), timeout=GENEROUS)
        process.send_signal(signal.SIGTERM)
        assert process.wait(GENEROUS) == 0
        assert holder() == ""  # released: a standby takes over on its next try
    finally:
        if process.poll() is None:
            process.kill()
        assert process.stderr is not None
        process.stderr.close()


def test_a_leader_that_cannot_renew_stops_writing(fleet: Fleet) -> None:
    """Lease renewals fail (the Lease endpoint answers 503): the leader steps down within its
    renew deadline and writes nothing more; nobody writes until the Lease can be had again."""
    server = fleet.server
    seed_cluster(server)
    seed_eps(server, ["pr-1"])
    for identity in ("replica-a", "replica-b"):
        fleet.add(identity).start(sync_timeout=10)
    leader = server.wait_for(fleet.leader, timeout=GENEROUS)
    server.wait_for(lambda: all_provisioned(server, ["pr-1"]), timeout=GENEROUS)
    outage = server.faults.add(Fault(path_regex="/leases", status=503, times=None))
    server.wait_for(lambda: not leader.is_leader(), timeout=GENEROUS, interval=0.005)
    assert fleet.leader() is None
    sent = {identity: counter.sent for identity, counter in fleet.counters.items()}
    server.seed(ep_body("pr-2"))
    server.wait_for(
        lambda: all(r.controller.caches.ep_store.get(None, "pr-2") for r in fleet.replicas),
        timeout=GENEROUS,
    )
    for replica in fleet.replicas:  # both saw pr-2 and were asked to reconcile it
        server.wait_for(lambda r=replica: r.controller.queue.pending == 0, timeout=GENEROUS)
    assert {i: c.sent for i, c in fleet.counters.items()} == sent  # nobody wrote
    assert server.get("v1", "namespaces", "pr-2") is None
    outage.times = outage.fired
    server.wait_for(fleet.leader, timeout=GENEROUS)
    server.wait_for(lambda: all_provisioned(server, ["pr-1", "pr-2"]), timeout=GENEROUS)
