"""Leader election against the emulated API server, with real threads and short durations
(lease 1 s, renew deadline 0.6 s, retry 0.1 s). Timing figures are printed (`pytest -s`); the
assertions use generous bounds so a loaded CI machine does not make them flaky."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from controller.leaderelection import LeaderElectionConfig, LeaderElector, LeaseRecord, LockError
from tests.apiserver import EmulatedAPIServer, Fault
from tests.waiting import wait_until

NAMESPACE = "tronador-system"
LEASE = "tronador-controller"
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 1.0, 0.6, 0.1
GENEROUS = 5.0
LEASE_PATH = rf"/namespaces/{NAMESPACE}/leases"


def settings(identity: str, **overrides: object) -> LeaderElectionConfig:
    values: dict = {
        "identity": identity,
        "namespace": NAMESPACE,
        "lease_name": LEASE,
        "lease_duration": LEASE_DURATION,
        "renew_deadline": RENEW_DEADLINE,
        "retry_period": RETRY_PERIOD,
        **overrides,
    }
    return LeaderElectionConfig(**values)


@dataclass
class Events:
    log: list[tuple[float, str, str]] = field(default_factory=list)

    def callbacks(self, identity: str) -> dict[str, Callable]:
        return {
            "on_started_leading": lambda: self.log.append((time.monotonic(), identity, "start")),
            "on_stopped_leading": lambda: self.log.append((time.monotonic(), identity, "stop")),
            "on_new_leader": lambda who: self.log.append(
                (time.monotonic(), identity, f"new:{who}")
            ),
        }


class Cluster:
    """Candidates, each with its own client (as separate pods have), on one emulated server."""

    def __init__(self, server: EmulatedAPIServer) -> None:
        self.server = server
        self.events = Events()
        self.electors: list[LeaderElector] = []
        self._clients: list = []

    def add(self, identity: str, **overrides: object) -> LeaderElector:
        client = self.server.api_client()
        self._clients.append(client)
        elector = LeaderElector.for_kubernetes(
            client, settings(identity, **overrides), **self.events.callbacks(identity)
        )
        self.electors.append(elector)
        return elector

    def leaders(self) -> list[LeaderElector]:
        return [e for e in self.electors if e.is_leader()]

    def wait_leader(self, among: list[LeaderElector] | None = None) -> LeaderElector:
        pool = among if among is not None else self.electors

        def one() -> LeaderElector | None:
            found = [e for e in pool if e.is_leader()]
            return found[0] if found else None

        return self.server.wait_for(one, timeout=GENEROUS, interval=0.002)

    def lease(self) -> LeaseRecord:
        obj = self.server.get("coordination.k8s.io/v1", "leases", LEASE, NAMESPACE)
        assert obj is not None
        return LeaseRecord.from_spec(obj["spec"])

    def close(self) -> None:
        for elector in self.electors:
            elector.stop(GENEROUS)
        for client in self._clients:
            client.close()


class Sampler:
    """Samples every candidate's is_leader() in a tight loop and keeps the worst moment.

    A sample counts only when taking it was quick (under 0.5 ms): a sample stretched by a
    thread switch could see the old leader before its release and the new one after it.
    Real double leadership would last far longer than that (the margin is 400 ms)."""

    def __init__(self, electors: list[LeaderElector]) -> None:
        self.electors = electors
        self.samples = 0
        self.max_leaders = 0
        self.worst: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            leading = [e.identity for e in self.electors if e.is_leader()]
            if time.perf_counter() - start < 0.0005:
                self.samples += 1
                if len(leading) > self.max_leaders:
                    self.max_leaders, self.worst = len(leading), leading
            time.sleep(0.001)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(GENEROUS)


@pytest.fixture
def cluster(apiserver: EmulatedAPIServer) -> Iterator[Cluster]:
    apiserver.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    group = Cluster(apiserver)
    try:
        yield group
    finally:
        group.close()


def renewed(leader: LeaderElector, times: int) -> None:
    """Until `leader` has renewed its lease `times` more times."""
    start = leader.status().renewals
    wait_until(lambda: leader.status().renewals >= start + times, timeout=GENEROUS)


def settled(cluster: Cluster, leader: LeaderElector) -> None:
    """Until `leader` has renewed and every candidate has seen it lead."""
    renewed(leader, 1)
    wait_until(
        lambda: all(e.leader() == leader.identity for e in cluster.electors), timeout=GENEROUS
    )


def start_all(cluster: Cluster, count: int) -> list[LeaderElector]:
    electors = [cluster.add(f"replica-{i}") for i in range(count)]
    for elector in electors:
        elector.start()
    return electors


def test_one_leader_among_three(cluster: Cluster) -> None:
    electors = start_all(cluster, 3)
    with Sampler(electors) as sampler:
        leader = cluster.wait_leader()
        renewed(leader, round(LEASE_DURATION / RETRY_PERIOD))  # a whole lease duration held
    assert sampler.max_leaders == 1, sampler.worst
    assert cluster.leaders() == [leader]
    assert all(e.leader() == leader.identity for e in electors)
    record = cluster.lease()
    assert record.holder_identity == leader.identity
    assert record.lease_duration_seconds == 1
    assert record.lease_transitions == 0
    starts = [who for _, who, what in cluster.events.log if what == "start"]
    assert starts == [leader.identity]
    # Renewals happen about every retry period and go through resourceVersion'd PUTs.
    puts = [r for r in cluster.server.requests if r.method == "PUT" and "leases" in r.path]
    assert puts and all(r.body["metadata"].get("resourceVersion") for r in puts)


def test_takeover_after_the_leader_stops_renewing(cluster: Cluster) -> None:
    electors = start_all(cluster, 3)
    old = cluster.wait_leader()
    settled(cluster, old)
    # The leader dies without releasing (a killed pod): it simply stops renewing.
    old.config = settings(old.identity, release_on_cancel=False)
    died = time.monotonic()
    old.stop(GENEROUS)
    others = [e for e in electors if e is not old]
    new = cluster.wait_leader(others)
    takeover = time.monotonic() - died
    print(f"\ntakeover after the leader died: {takeover:.3f}s (lease {LEASE_DURATION}s)")
    assert takeover < GENEROUS
    assert takeover >= LEASE_DURATION - RETRY_PERIOD * 2.2  # waited out the lease
    record = cluster.lease()
    assert record.holder_identity == new.identity
    assert record.lease_transitions == 1


def test_partitioned_leader_steps_down_before_anyone_takes_over(
    cluster: Cluster, apiserver: EmulatedAPIServer
) -> None:
    electors = start_all(cluster, 3)
    old = cluster.wait_leader()
    settled(cluster, old)
    cut = threading.Event()
    real_lock = old.lock

    class Partitioned:
        def __getattr__(self, name: str):
            attr = getattr(real_lock, name)
            if name in ("get", "create", "update") and cut.is_set():

                def fail(*args: object, **kwargs: object) -> None:
                    raise LockError("network unreachable")

                return fail
            return attr

    old.lock = Partitioned()  # type: ignore[assignment]
    with Sampler(electors) as sampler:
        cut.set()
        parted = time.monotonic()
        apiserver.wait_for(lambda: not old.is_leader(), timeout=GENEROUS, interval=0.002)
        stepped_down = time.monotonic() - parted
        others = [e for e in electors if e is not old]
        cluster.wait_leader(others)
        takeover = time.monotonic() - parted
    print(
        f"\npartition: old leader stepped down after {stepped_down:.3f}s, "
        f"takeover after {takeover:.3f}s"
    )
    assert stepped_down < LEASE_DURATION  # before anyone may take over
    assert takeover > stepped_down
    assert sampler.max_leaders == 1, sampler.worst
    stops = [who for _, who, what in cluster.events.log if what == "stop"]
    assert old.identity in stops


def test_release_on_stop_gives_immediate_takeover(cluster: Cluster) -> None:
    electors = start_all(cluster, 2)
    with Sampler(electors) as sampler:
        old = cluster.wait_leader()
        settled(cluster, old)
        stopping = time.monotonic()
        assert old.stop(GENEROUS)
        stopped = time.monotonic() - stopping
        new = cluster.wait_leader([e for e in electors if e is not old])
        takeover = time.monotonic() - stopping
    print(f"\ntakeover after a released lease: {takeover:.3f}s (stop took {stopped:.3f}s)")
    assert takeover < LEASE_DURATION  # did not wait out the lease
    assert sampler.max_leaders == 1, sampler.worst
    released = [
        r
        for r in cluster.server.requests
        if r.method == "PUT" and "leases" in r.path and r.body["spec"]["holderIdentity"] == ""
    ]
    assert len(released) == 1 and released[0].status == 200
    assert released[0].body["spec"]["leaseDurationSeconds"] == 1
    assert cluster.lease().holder_identity == new.identity
    log = [(who, what) for _, who, what in cluster.events.log]
    assert log.index((old.identity, "stop")) < log.index((new.identity, "start"))


def test_conflicts_and_unavailability_never_make_two_leaders(
    cluster: Cluster, apiserver: EmulatedAPIServer
) -> None:
    faults = [
        apiserver.faults.add(Fault(method="PUT", path_regex=LEASE_PATH, status=409, times=8)),
        apiserver.faults.add(
            Fault(path_regex=LEASE_PATH, status=503, headers={"Retry-After": "1"}, times=6)
        ),
        apiserver.faults.add(
            Fault(method="PUT", path_regex=LEASE_PATH, kind="delay", delay=0.3, times=4)
        ),
        apiserver.faults.add(Fault(method="GET", path_regex=LEASE_PATH, kind="drop", times=4)),
    ]
    electors = start_all(cluster, 3)
    with Sampler(electors) as sampler:
        wait_until(lambda: all(f.exhausted for f in faults), timeout=GENEROUS, interval=0.05)
        renewed(cluster.wait_leader(), 5)  # leadership holds again once the faults are over
    print(
        f"\nfaults fired: {[f.fired for f in faults]}; samples: {sampler.samples}; "
        f"conflicts seen: {sum(e.status().conflicts for e in electors)}"
    )
    assert all(f.fired for f in faults)
    assert sampler.samples > 100
    assert sampler.max_leaders == 1, sampler.worst
    assert len(cluster.leaders()) == 1


@pytest.mark.parametrize("outage", ["503", "drop", "hang"])
def test_api_down_makes_the_leader_step_down_after_the_renew_deadline(
    cluster: Cluster, apiserver: EmulatedAPIServer, outage: str
) -> None:
    electors = start_all(cluster, 2)
    leader = cluster.wait_leader()
    settled(cluster, leader)
    fault = {
        "503": Fault(path_regex=LEASE_PATH, status=503, headers={"Retry-After": "1"}, times=None),
        "drop": Fault(path_regex=LEASE_PATH, kind="drop", times=None),
        "hang": Fault(path_regex=LEASE_PATH, kind="delay", delay=1.0, times=None),
    }[outage]
    with Sampler(electors) as sampler:
        down = time.monotonic()
        apiserver.faults.add(fault)
        apiserver.wait_for(lambda: not leader.is_leader(), timeout=GENEROUS, interval=0.002)
        stepped_down = time.monotonic() - down
        apiserver.wait_for(
            lambda: any(
                w == leader.identity and what == "stop" for _, w, what in cluster.events.log
            ),
            timeout=GENEROUS,
        )
        failed = {e.identity: e.status().failed_attempts for e in electors}
        wait_until(  # every candidate tried again, and failed
            lambda: all(e.status().failed_attempts >= failed[e.identity] + 2 for e in electors),
            timeout=2 * GENEROUS,  # a Retry-After of 1 s spaces the attempts
        )
        assert cluster.leaders() == []  # nobody can lead without the API
        apiserver.faults.clear()
        back = time.monotonic()
        cluster.wait_leader()
        recovered = time.monotonic() - back
    print(
        f"\nAPI down ({outage}): leader stepped down after {stepped_down:.3f}s, "
        f"a leader again {recovered:.3f}s after the API came back"
    )
    assert stepped_down < LEASE_DURATION  # before anyone may take over
    assert sampler.max_leaders <= 1, sampler.worst
    if outage == "hang":
        time.sleep(fault.delay)  # let the server finish the requests it still holds
