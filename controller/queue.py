"""A work queue of keys, as client-go's: deduplicated, one worker per key at a time, delayed
adds, and per-key exponential backoff with jitter."""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable

from kube.backoff import Backoff


class WorkQueue:
    """Keys waiting to be processed.

    A key added while waiting is not added twice; a key added while a worker holds it is
    processed again after `done`, never by two workers at once.
    """

    def __init__(self, backoff: Backoff, clock: Callable[[], float] = time.monotonic) -> None:
        self._backoff = backoff
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._failures: dict[str, int] = {}
        self._shutdown = False

    def add(self, key: str) -> None:
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: str) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._waiting.pop(key, None)
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown or key in self._dirty:
                return
            when = self._clock() + delay
            if when < self._waiting.get(key, float("inf")):
                self._waiting[key] = when
                heapq.heappush(self._heap, (when, key))
                self._cond.notify()

    def add_rate_limited(self, key: str, at_least: float | None = None) -> float:
        """Requeue `key` after its next backoff delay, or after `at_least` seconds (a server's
        Retry-After, capped at the maximum backoff) when that is longer; returns the delay."""
        with self._cond:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
        delay = self._backoff.delay(failures)
        if at_least is not None:
            delay = max(delay, min(at_least, self._backoff.maximum))
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        """Reset `key`'s backoff after a success."""
        with self._cond:
            self._failures.pop(key, None)

    def drop(self, key: str) -> None:
        """Forget everything kept for `key` but a pending add (its object is gone): its backoff
        and any delayed add, so no per-key state outlives the object."""
        with self._cond:
            self._failures.pop(key, None)
            self._waiting.pop(key, None)
            kept = [entry for entry in self._heap if entry[1] != key]
            if len(kept) != len(self._heap):
                heapq.heapify(kept)
                self._heap = kept

    def failures(self, key: str) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    def get(self, timeout: float | None = None) -> str | None:
        """The next key to process, or None on shutdown (or when `timeout` passes)."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                self._promote_due_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                wait = self._heap[0][0] - self._clock() if self._heap else None
                if deadline is not None:
                    left = deadline - self._clock()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(None if wait is None else max(wait, 0.001))

    def _promote_due_locked(self) -> None:
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            when, key = heapq.heappop(self._heap)
            if self._waiting.get(key) == when:
                del self._waiting[key]
                self._add_locked(key)

    def done(self, key: str) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def sizes(self) -> dict[str, int]:
        """How many keys each internal structure holds (what a leak check compares)."""
        with self._cond:
            return {
                "queue": len(self._queue),
                "dirty": len(self._dirty),
                "processing": len(self._processing),
                "waiting": len(self._waiting),
                "heap": len(self._heap),
                "failures": len(self._failures),
            }

    @property
    def pending(self) -> int:
        """Keys queued, delayed or in process."""
        with self._cond:
            return len(self._queue) + len(self._waiting) + len(self._processing)
