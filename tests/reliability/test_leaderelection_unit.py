"""The election step against an in-memory Lease and a fake clock: deterministic, no threads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from controller.leaderelection import (
    LeaderElectionConfig,
    LeaderElector,
    LeaseConflict,
    LeaseRecord,
    LockError,
    may_acquire,
    next_record,
    released_record,
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime(2024, 5, 1, tzinfo=UTC) + timedelta(seconds=self.t)

    def advance(self, seconds: float) -> None:
        self.t += seconds


class MemoryLease:
    """One Lease shared by several locks, with resourceVersion checks like the API server."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.version = 0
        self.fail_next: list[LockError] = []

    def write(self, record: LeaseRecord, expected: int | None) -> int:
        if self.fail_next:
            raise self.fail_next.pop(0)
        if expected is None and self.record is not None:
            raise LeaseConflict("create lease: 409 AlreadyExists", 409)
        if expected is not None and expected != self.version:
            raise LeaseConflict("update lease: 409 Conflict", 409)
        self.version += 1
        self.record = record
        return self.version


class MemoryLock:
    def __init__(self, lease: MemoryLease) -> None:
        self.lease = lease
        self.seen: int | None = None

    def describe(self) -> str:
        return "memory/lease"

    def get(self, timeout: float | None) -> LeaseRecord | None:
        if self.lease.fail_next:
            raise self.lease.fail_next.pop(0)
        self.seen = self.lease.version if self.lease.record else None
        return self.lease.record

    def create(self, record: LeaseRecord, timeout: float | None) -> None:
        self.seen = self.lease.write(record, None)

    def update(self, record: LeaseRecord, timeout: float | None) -> None:
        if self.seen is None:
            raise LockError("update before get")
        self.seen = self.lease.write(record, self.seen)


def config(identity: str) -> LeaderElectionConfig:
    return LeaderElectionConfig(
        identity=identity, lease_duration=15, renew_deadline=10, retry_period=2
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def lease() -> MemoryLease:
    return MemoryLease()


def elector(name: str, lease: MemoryLease, clock: FakeClock, **kwargs) -> LeaderElector:
    return LeaderElector(config(name), MemoryLock(lease), clock=clock, **kwargs)


def lead(e: LeaderElector) -> None:
    """What run() does after acquiring (the loop is tested against the emulated server)."""
    assert e.try_acquire_or_renew()
    e._leading = True


def test_first_candidate_creates_the_lease(lease: MemoryLease, clock: FakeClock) -> None:
    a = elector("a", lease, clock)
    assert a.try_acquire_or_renew()
    assert lease.record is not None
    assert lease.record.holder_identity == "a"
    assert lease.record.lease_duration_seconds == 15
    assert lease.record.lease_transitions == 0
    assert lease.record.acquire_time == lease.record.renew_time == "2024-05-01T00:16:40.000000Z"


def test_follower_waits_a_full_lease_from_its_own_observation(
    lease: MemoryLease, clock: FakeClock
) -> None:
    a, b = elector("a", lease, clock), elector("b", lease, clock)
    lead(a)
    assert not b.try_acquire_or_renew()
    assert b.leader() == "a"
    clock.advance(14.9)
    assert not b.try_acquire_or_renew()
    clock.advance(0.1)
    assert b.try_acquire_or_renew()
    assert lease.record is not None and lease.record.holder_identity == "b"
    assert lease.record.lease_transitions == 1


def test_expiry_is_judged_by_observed_time_not_the_holders_timestamps(
    lease: MemoryLease, clock: FakeClock
) -> None:
    # The holder's clock is far behind: its renewTime says 1970. Still not expired for b.
    lease.record = LeaseRecord("a", 15, "1970-01-01T00:00:00.000000Z", "1970-01-01T00:00:00Z", 3)
    lease.version = 7
    b = elector("b", lease, clock)
    assert not b.try_acquire_or_renew()
    clock.advance(10)
    # ... and a's renewal (a changed record) restarts b's wait, whatever the timestamps say.
    lease.record = replace(lease.record, renew_time="1970-01-01T00:00:01.000000Z")
    lease.version += 1
    assert not b.try_acquire_or_renew()
    clock.advance(14)
    assert not b.try_acquire_or_renew()
    clock.advance(1)
    assert b.try_acquire_or_renew()
    assert lease.record.lease_transitions == 4


def test_a_renewing_leader_keeps_the_lease(lease: MemoryLease, clock: FakeClock) -> None:
    a, b = elector("a", lease, clock), elector("b", lease, clock)
    lead(a)
    for _ in range(20):
        clock.advance(2)
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
    assert a.is_leader() and not b.is_leader()
    assert lease.record is not None and lease.record.lease_transitions == 0
    assert lease.record.acquire_time == "2024-05-01T00:16:40.000000Z"


def test_released_lease_is_taken_at_once(lease: MemoryLease, clock: FakeClock) -> None:
    a, b = elector("a", lease, clock), elector("b", lease, clock)
    lead(a)
    assert not b.try_acquire_or_renew()
    a._leading = False
    assert a.release()
    assert lease.record is not None
    assert lease.record.holder_identity == "" and lease.record.lease_duration_seconds == 1
    assert b.try_acquire_or_renew()
    assert lease.record.holder_identity == "b" and lease.record.lease_transitions == 1


def test_release_is_a_no_op_for_a_follower(lease: MemoryLease, clock: FakeClock) -> None:
    a, b = elector("a", lease, clock), elector("b", lease, clock)
    lead(a)
    b.try_acquire_or_renew()
    version = lease.version
    assert b.release()
    assert lease.version == version


def test_concurrent_takeover_only_one_wins(lease: MemoryLease, clock: FakeClock) -> None:
    a, b, c = (elector(n, lease, clock) for n in "abc")
    lead(a)
    assert not b.try_acquire_or_renew() and not c.try_acquire_or_renew()
    clock.advance(16)
    # Both read the expired record, then both write: the second write is stale.
    b_lock, c_lock = b.lock, c.lock
    current = b_lock.get(None)
    c_lock.get(None)
    assert current is not None
    b_lock.update(next_record(current, "b", "t", 15), None)
    with pytest.raises(LeaseConflict):
        c_lock.update(next_record(current, "c", "t", 15), None)
    # Through the elector: a conflict counts and leaves c a follower.
    lease.fail_next.append(LeaseConflict("update lease: 409 Conflict", 409))
    assert not c.try_acquire_or_renew()
    assert c.status().conflicts == 1 and not c.is_leader()


def test_leader_steps_down_after_the_renew_deadline(lease: MemoryLease, clock: FakeClock) -> None:
    a = elector("a", lease, clock)
    lead(a)
    assert a.is_leader()
    lease.fail_next.extend(LockError("get lease: 503", 503, retry_after=1) for _ in range(10))
    clock.advance(9.9)
    assert not a.try_acquire_or_renew()
    assert a.is_leader()
    clock.advance(0.1)
    assert not a.is_leader()  # 10 s after the start of its last renewal
    assert a.status().failed_attempts >= 1


def test_callbacks_report_a_new_leader(lease: MemoryLease, clock: FakeClock) -> None:
    seen: list[str] = []
    a = elector("a", lease, clock)
    b = elector("b", lease, clock, on_new_leader=seen.append)
    lead(a)
    b.try_acquire_or_renew()
    b._report_transition()
    b._report_transition()
    assert seen == ["a"]


def test_pure_helpers() -> None:
    held = LeaseRecord("a", 15, "t0", "t1", 2)
    assert next_record(None, "b", "t", 15) == LeaseRecord("b", 15, "t", "t", 0)
    assert next_record(held, "a", "t2", 15) == LeaseRecord("a", 15, "t0", "t2", 2)
    assert next_record(held, "b", "t2", 15) == LeaseRecord("b", 15, "t2", "t2", 3)
    assert released_record(held, "t3") == LeaseRecord("", 1, "t3", "t3", 2)
    assert may_acquire(LeaseRecord(), "b", 0, 0)
    assert may_acquire(held, "a", 0, 0)
    assert not may_acquire(held, "b", 100, 114.9)
    assert may_acquire(held, "b", 100, 115)
    wire = {"holderIdentity": "a", "leaseDurationSeconds": 15, "leaseTransitions": 2}
    assert LeaseRecord.from_spec(wire) == LeaseRecord("a", 15, None, None, 2)
    assert LeaseRecord.from_spec(held.to_spec()) == held


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"lease_duration": 10, "renew_deadline": 10}, "lease_duration must be greater"),
        ({"renew_deadline": 2.4, "retry_period": 2}, "renew_deadline must be greater"),
        ({"retry_period": 0}, "retry_period must be greater than zero"),
        ({"identity": ""}, "identity must not be empty"),
    ],
)
def test_settings_are_checked(settings: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        LeaderElectionConfig(**settings).validated()


def test_lease_duration_is_recorded_rounded_up() -> None:
    assert LeaderElectionConfig(lease_duration=1.2, renew_deadline=1).lease_duration_seconds == 2
    assert LeaderElectionConfig().lease_duration_seconds == 15


def test_leader_that_sees_another_holder_stops_at_once(
    lease: MemoryLease, clock: FakeClock
) -> None:
    a = elector("a", lease, clock)
    lead(a)
    assert lease.record is not None
    # Someone force-wrote the Lease (an operator, or a takeover a paused leader missed).
    lease.record = replace(lease.record, holder_identity="b", lease_transitions=1)
    lease.version += 1
    clock.advance(1)
    assert not a.try_acquire_or_renew()
    assert not a.is_leader()  # long before its renew deadline
    assert a.leader() == "b"
