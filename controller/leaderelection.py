"""Leader election on a `coordination.k8s.io/v1` Lease: one active controller replica.

The protocol is client-go's `tools/leaderelection` (Lease lock):

- Every candidate reads the Lease every `retry_period` (with jitter). It may take the Lease
  when nobody holds it (`holderIdentity` empty: released) or when the record has not changed
  for `leaseDurationSeconds` **as measured by the candidate's own monotonic clock since it
  first saw that record** ("observed time"). The timestamps in the Lease are written for
  people and tools; no decision trusts another process's clock.
- Every write is a `replace` carrying the `resourceVersion` that was read, so when two
  candidates race only one write succeeds; the other gets 409 Conflict and stays a follower.
- `leaseTransitions` increments when the holder changes; `acquireTime` is set on acquiring and
  kept on renewals.
- The leader renews every `retry_period`. It considers itself leader only until
  `renew_deadline` after the *start* of its last successful renewal; when that passes without
  a renewal it steps down (`on_stopped_leading`). Because `renew_deadline < lease_duration`,
  it stops acting before any other candidate may take over (given clocks that run at about the
  same rate; the margin `lease_duration - renew_deadline` absorbs drift and slow requests).
- On `stop()` (the SIGTERM path) a leader first stops leading (`is_leader()` turns False,
  `on_stopped_leading` runs), then releases the Lease (`release_on_cancel`): it clears
  `holderIdentity` and sets `leaseDurationSeconds: 1`, so a standby takes over on its next
  retry instead of waiting out the lease (client-go's `ReleaseOnCancel`).

Callbacks run on the elector's thread and must return quickly (start or stop your workers and
return): a callback that blocks delays renewals. `on_stopped_leading` should stop everything
the lease guards before it returns, because the Lease is released right after it.

This gives "at most one leader" under the usual assumptions (bounded clock-rate drift, no
process pauses longer than the margin), not fencing: writes that are already in flight when
leadership is lost still land. Gate every write on `is_leader()`.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from kube.api import ApiError, Kube, Obj
from kube.resources import LEASES
from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE

log = logging.getLogger("controller.leaderelection")

DEFAULT_LEASE_NAME = "tronador-controller"
DEFAULT_LEASE_DURATION = 15.0
DEFAULT_RENEW_DEADLINE = 10.0
DEFAULT_RETRY_PERIOD = 2.0
JITTER_FACTOR = 1.2
"""As client-go: candidates wait retry_period * (1 + random * JITTER_FACTOR) between tries."""


# --- configuration -----------------------------------------------------------------------------


def default_identity() -> str:
    """`<pod name or hostname>_<random>`: unique even when a pod restarts with the same name."""
    base = os.environ.get("POD_NAME") or socket.gethostname() or "tronador"
    return f"{base}_{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class LeaderElectionConfig:
    """Settings; the defaults are client-go's (15 s / 10 s / 2 s)."""

    identity: str = field(default_factory=default_identity)
    lease_name: str = DEFAULT_LEASE_NAME
    namespace: str = DEFAULT_SYSTEM_NAMESPACE
    lease_duration: float = DEFAULT_LEASE_DURATION
    """How long a candidate waits, after it last saw the Lease change, before taking it over."""
    renew_deadline: float = DEFAULT_RENEW_DEADLINE
    """How long the leader keeps leading without a successful renewal."""
    retry_period: float = DEFAULT_RETRY_PERIOD
    """How often candidates try to acquire and the leader renews."""
    release_on_cancel: bool = True
    """Release the Lease on stop() so a standby takes over at once."""
    rejoin: bool = True
    """After losing the lease, become a candidate again (False: the run loop ends)."""

    def problems(self) -> list[str]:
        out = []
        if not self.identity:
            out.append("identity must not be empty")
        if not self.lease_name:
            out.append("lease_name must not be empty")
        if not self.namespace:
            out.append("namespace must not be empty")
        if self.retry_period <= 0:
            out.append("retry_period must be greater than zero")
        if self.lease_duration <= self.renew_deadline:
            out.append("lease_duration must be greater than renew_deadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            out.append(f"renew_deadline must be greater than retry_period * {JITTER_FACTOR}")
        return out

    def validated(self) -> LeaderElectionConfig:
        problems = self.problems()
        if problems:
            raise ValueError("invalid leader election settings: " + "; ".join(problems))
        return self

    @property
    def lease_duration_seconds(self) -> int:
        """What the Lease records (whole seconds, rounded up so it never understates)."""
        return max(1, math.ceil(self.lease_duration))


# --- the record (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaseRecord:
    """The part of a Lease's spec the election uses."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int = 0

    @classmethod
    def from_spec(cls, spec: Any) -> LeaseRecord:
        """From a Lease spec as JSON (None when the Lease has none)."""
        if not isinstance(spec, dict):
            return cls()
        return cls(
            holder_identity=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=_int(spec.get("leaseDurationSeconds")),
            acquire_time=_time_text(spec.get("acquireTime")),
            renew_time=_time_text(spec.get("renewTime")),
            lease_transitions=_int(spec.get("leaseTransitions")),
        )

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "leaseTransitions": self.lease_transitions,
        }
        if self.acquire_time is not None:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time is not None:
            spec["renewTime"] = self.renew_time
        return spec


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _time_text(value: Any) -> str | None:
    if isinstance(value, datetime):
        return micro_time(value)
    return value if isinstance(value, str) else None


def micro_time(moment: datetime) -> str:
    """metav1.MicroTime's wire form: `2024-05-01T10:00:00.123456Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def next_record(
    observed: LeaseRecord | None, identity: str, now: str, lease_duration_seconds: int
) -> LeaseRecord:
    """The record this candidate writes to acquire or renew, given the one it read."""
    if observed is None:
        return LeaseRecord(identity, lease_duration_seconds, now, now, 0)
    if observed.holder_identity == identity:
        return replace(
            observed,
            lease_duration_seconds=lease_duration_seconds,
            renew_time=now,
            acquire_time=observed.acquire_time or now,
        )
    return LeaseRecord(identity, lease_duration_seconds, now, now, observed.lease_transitions + 1)


def released_record(observed: LeaseRecord, now: str) -> LeaseRecord:
    """What a leader writes on release: no holder, a 1 s duration, the transitions kept."""
    return LeaseRecord("", 1, now, now, observed.lease_transitions)


def may_acquire(observed: LeaseRecord, identity: str, observed_at: float, now: float) -> bool:
    """Whether `identity` may write the Lease it read: it holds it, nobody does, or the record
    has not changed for its duration since `observed_at` (this process's monotonic clock)."""
    if not observed.holder_identity or observed.holder_identity == identity:
        return True
    return now >= observed_at + observed.lease_duration_seconds


# --- the lock (I/O) ----------------------------------------------------------------------------


class LockError(Exception):
    """A Lease read or write that failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class LeaseConflict(LockError):
    """409: somebody else wrote (or created) the Lease first."""


class LeaseLock(Protocol):
    """Where the record lives. `update` must be conditional on what `get` last returned."""

    def get(self, timeout: float | None) -> LeaseRecord | None:
        """The current record, or None when the Lease does not exist."""

    def create(self, record: LeaseRecord, timeout: float | None) -> None: ...

    def update(self, record: LeaseRecord, timeout: float | None) -> None: ...

    def describe(self) -> str: ...


class KubernetesLeaseLock:
    """A Lease through `kube.api.Kube`.

    Remembers the Lease it last read or wrote; `update` replaces it carrying that
    `resourceVersion`, so a concurrent writer makes it fail with `LeaseConflict`.
    """

    def __init__(self, api_client: Any, namespace: str, name: str) -> None:
        self.kube = Kube(api_client)
        self.namespace = namespace
        self.name = name
        self._lease: Obj | None = None

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    def get(self, timeout: float | None) -> LeaseRecord | None:
        try:
            lease = self.kube.get(LEASES, self.name, self.namespace, timeout=_timeout(timeout))
        except ApiError as exc:
            raise _lock_error("get", exc) from exc
        self._lease = lease
        return None if lease is None else LeaseRecord.from_spec(lease.get("spec"))

    def _body(self, metadata: dict[str, Any], record: LeaseRecord) -> Obj:
        return {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {"name": self.name, "namespace": self.namespace, **metadata},
            "spec": record.to_spec(),
        }

    def create(self, record: LeaseRecord, timeout: float | None) -> None:
        try:
            self._lease = self.kube.create(
                LEASES, self._body({}, record), timeout=_timeout(timeout)
            )
        except ApiError as exc:
            raise _lock_error("create", exc) from exc

    def update(self, record: LeaseRecord, timeout: float | None) -> None:
        if self._lease is None:
            raise LockError("update before get: no resourceVersion to update against")
        metadata = self._lease.get("metadata") or {}
        kept = {k: metadata.get(k) for k in ("resourceVersion", "labels", "annotations")}
        body = self._body({k: v for k, v in kept.items() if v is not None}, record)
        try:
            self._lease = self.kube.replace(LEASES, body, timeout=_timeout(timeout))
        except ApiError as exc:
            raise _lock_error("update", exc) from exc


def _timeout(seconds: float | None) -> float | None:
    return None if seconds is None else max(seconds, 0.05)


def _lock_error(verb: str, exc: ApiError) -> LockError:
    status = exc.status or None
    message = f"{verb} lease: {status} {exc.reason}" if status else f"{verb} lease: {exc.reason}"
    cls = LeaseConflict if status == 409 else LockError
    return cls(message, status, exc.retry_after)


# --- the elector -------------------------------------------------------------------------------


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class ElectorStatus:
    """A snapshot for metrics, probes and logs."""

    identity: str
    is_leader: bool
    leader: str
    """The holder last observed ('' when none)."""
    lease_transitions: int
    acquisitions: int
    renewals: int
    failed_attempts: int
    conflicts: int
    last_renewed_ago: float | None
    """Seconds since the start of the last successful renewal (leader only)."""


Callback = Callable[[], None]


class LeaderElector:
    """One candidate. `start()` runs it on a daemon thread; `stop()` releases and joins.

    `is_leader()` is safe to call from any thread and is the gate for every write the
    controller makes.
    """

    def __init__(
        self,
        config: LeaderElectionConfig,
        lock: LeaseLock,
        *,
        on_started_leading: Callback | None = None,
        on_stopped_leading: Callback | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config.validated()
        self.lock = lock
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0
        self._leading = False
        self._renewed_at: float | None = None
        self._reported_leader = ""
        self._retry_after: float | None = None
        self._counts = {"acquisitions": 0, "renewals": 0, "failed_attempts": 0, "conflicts": 0}

    @classmethod
    def for_kubernetes(
        cls, api_client: Any, config: LeaderElectionConfig, **kwargs: Any
    ) -> LeaderElector:
        """An elector on the Lease `config.namespace/config.lease_name`."""
        lock = KubernetesLeaseLock(api_client, config.namespace, config.lease_name)
        return cls(config, lock, **kwargs)

    # -- queries (any thread) --

    @property
    def identity(self) -> str:
        return self.config.identity

    def is_leader(self) -> bool:
        """True while this process leads: it acquired the Lease, its last successful renewal
        started less than `renew_deadline` ago, and it has not seen another holder since."""
        with self._mutex:
            return self._leading_now(self.clock.monotonic())

    def leader(self) -> str:
        """The identity of the last observed holder ('' when none was seen)."""
        with self._mutex:
            return self._observed.holder_identity if self._observed else ""

    def status(self) -> ElectorStatus:
        with self._mutex:
            now = self.clock.monotonic()
            observed = self._observed or LeaseRecord()
            return ElectorStatus(
                identity=self.identity,
                is_leader=self._leading_now(now),
                leader=observed.holder_identity,
                lease_transitions=observed.lease_transitions,
                last_renewed_ago=(
                    now - self._renewed_at
                    if self._leading and self._renewed_at is not None
                    else None
                ),
                **self._counts,
            )

    def _leading_now(self, now: float) -> bool:
        return (
            self._leading
            and self._renewed_at is not None
            and now < self._renewed_at + self.config.renew_deadline
            and self._observed is not None
            and self._observed.holder_identity == self.identity
        )

    def _lost_to_another(self) -> bool:
        with self._mutex:
            holder = self._observed.holder_identity if self._observed else ""
        return holder != self.identity

    # -- one step (also the unit under test) --

    def try_acquire_or_renew(self, timeout: float | None = None) -> bool:
        """Read the Lease, and write it if this candidate may hold it. True when this
        candidate holds the Lease afterwards. Never raises on API errors."""
        started = self.clock.monotonic()
        now_text = micro_time(self.clock.now())
        duration = self.config.lease_duration_seconds
        try:
            if self._leading and self._observed is not None:
                # Fast path (client-go): renew against the record we wrote last.
                try:
                    record = next_record(self._observed, self.identity, now_text, duration)
                    self.lock.update(record, timeout)
                    self._observe(record, started, wrote=True)
                    return True
                except LockError as exc:
                    self._note_failure(exc, "renew (fast path)")
            current = self.lock.get(timeout)
            if current is None:
                record = next_record(None, self.identity, now_text, duration)
                self.lock.create(record, timeout)
                self._observe(record, started, wrote=True)
                return True
            self._observe(current, self.clock.monotonic(), wrote=False)
            with self._mutex:
                observed_at = self._observed_at
            if not may_acquire(current, self.identity, observed_at, self.clock.monotonic()):
                return False
            record = next_record(current, self.identity, now_text, duration)
            self.lock.update(record, timeout)
            self._observe(record, started, wrote=True)
            return True
        except LockError as exc:
            self._note_failure(exc, "acquire or renew")
            return False
        except Exception as exc:  # a bug or an unexpected client error: keep the loop alive
            self._note_failure(LockError(f"{type(exc).__name__}: {exc}"), "acquire or renew")
            return False

    def _observe(self, record: LeaseRecord, at: float, *, wrote: bool) -> None:
        with self._mutex:
            if record != self._observed:
                self._observed = record
                self._observed_at = at
            if wrote:
                self._renewed_at = at
                self._retry_after = None

    def _note_failure(self, exc: LockError, what: str) -> None:
        with self._mutex:
            self._counts["failed_attempts"] += 1
            if isinstance(exc, LeaseConflict):
                self._counts["conflicts"] += 1
            self._retry_after = exc.retry_after
        log.debug(
            "lease %s failed",
            what,
            extra={"fields": {"lease": self.lock.describe(), "error": str(exc)}},
        )

    def _report_transition(self) -> None:
        leader = self.leader()
        if leader == self._reported_leader:
            return
        self._reported_leader = leader
        if not leader:
            return
        log.info(
            "new leader observed",
            extra={"fields": {"lease": self.lock.describe(), "leader": leader}},
        )
        callback = self.on_new_leader
        if callback is not None:
            self._call("on_new_leader", lambda: callback(leader))

    def _call(self, name: str, callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            log.exception("leader election callback failed", extra={"fields": {"callback": name}})

    # -- the loop --

    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stop() was called."""
        return self._stop.wait(max(seconds, 0.0))

    def _retry_delay(self, jitter: bool, cap: float) -> float:
        delay = self.config.retry_period
        if jitter:
            delay *= 1 + self._rng.random() * JITTER_FACTOR
        with self._mutex:
            retry_after = self._retry_after
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, cap)

    def _acquire(self) -> bool:
        """Try until this candidate holds the Lease (True) or stop() is called (False)."""
        log.info(
            "attempting to acquire leader lease",
            extra={"fields": {"lease": self.lock.describe(), "identity": self.identity}},
        )
        while not self._stop.is_set():
            acquired = self.try_acquire_or_renew(timeout=self.config.renew_deadline)
            self._report_transition()
            if acquired:
                return True
            if self._wait(self._retry_delay(jitter=True, cap=self.config.lease_duration)):
                return False
        return False

    def _renew(self) -> None:
        """Renew every retry_period until a renewal misses the deadline, another candidate is
        seen holding the Lease, or stop() is called."""
        while not self._wait(self.config.retry_period):
            with self._mutex:
                deadline = (self._renewed_at or 0.0) + self.config.renew_deadline
            renewed = False
            while not self._stop.is_set() and not self._lost_to_another():
                left = deadline - self.clock.monotonic()
                if left <= 0:
                    break
                if self.try_acquire_or_renew(timeout=left):
                    renewed = True
                    break
                left = deadline - self.clock.monotonic()
                if self._lost_to_another() or self._wait(
                    min(self._retry_delay(jitter=False, cap=left), left)
                ):
                    break
            self._report_transition()
            if not renewed:
                if not self._stop.is_set():
                    log.warning(
                        "lost the leader lease",
                        extra={
                            "fields": {
                                "lease": self.lock.describe(),
                                "holder": self.leader(),
                                "cause": "another holder"
                                if self._lost_to_another()
                                else "renew deadline passed",
                            }
                        },
                    )
                return
            with self._mutex:
                self._counts["renewals"] += 1

    def run(self) -> None:
        """Run the election until stop() (or until leadership is lost when `rejoin` is False).
        Blocks; `start()` runs it on a thread."""
        while not self._stop.is_set():
            if not self._acquire():
                break
            with self._mutex:
                self._leading = True
                self._counts["acquisitions"] += 1
            log.info(
                "became leader",
                extra={"fields": {"lease": self.lock.describe(), "identity": self.identity}},
            )
            if self.on_started_leading is not None:
                self._call("on_started_leading", self.on_started_leading)
            self._renew()
            self._step_down()
            if not self.config.rejoin:
                break

    def _step_down(self) -> None:
        with self._mutex:
            self._leading = False
        stopping = self._stop.is_set()
        log.info(
            "stopped leading",
            extra={"fields": {"lease": self.lock.describe(), "stopping": stopping}},
        )
        if self.on_stopped_leading is not None:
            self._call("on_stopped_leading", self.on_stopped_leading)
        if stopping and self.config.release_on_cancel:
            self.release()

    def release(self) -> bool:
        """Give the Lease up if this candidate holds it per the last record it saw or wrote.
        Called by the loop on stop; safe to call when not holding it (then a no-op)."""
        with self._mutex:
            observed = self._observed
        if observed is None or observed.holder_identity != self.identity:
            return True
        record = released_record(observed, micro_time(self.clock.now()))
        try:
            self.lock.update(record, self.config.retry_period)
        except LockError as exc:
            log.warning(
                "failed to release the leader lease",
                extra={"fields": {"lease": self.lock.describe(), "error": str(exc)}},
            )
            return False
        self._observe(record, self.clock.monotonic(), wrote=False)
        log.info("released the leader lease", extra={"fields": {"lease": self.lock.describe()}})
        return True

    def start(self) -> threading.Thread:
        """Run on a daemon thread named after the identity."""
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, name=f"leader-election-{self.identity}", daemon=True
        )
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = None) -> bool:
        """Stop: step down, release the Lease (when leading) and wait for the thread.
        True when the thread has finished."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def __enter__(self) -> LeaderElector:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
