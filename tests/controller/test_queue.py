from __future__ import annotations

import threading

from controller.queue import WorkQueue
from kube.backoff import Backoff


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _queue(clock: FakeClock | None = None) -> WorkQueue:
    backoff = Backoff(base=1.0, maximum=8.0, rng=lambda: 1.0)
    return WorkQueue(backoff, clock) if clock else WorkQueue(backoff)


def test_a_key_added_twice_is_processed_once() -> None:
    queue = _queue()
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert [queue.get(0), queue.get(0), queue.get(0)] == ["a", "b", None]


def test_a_key_added_while_processing_waits_for_done() -> None:
    queue = _queue()
    queue.add("a")
    assert queue.get(0) == "a"
    queue.add("a")
    assert queue.get(0) is None  # never two workers on one key
    queue.done("a")
    assert queue.get(0) == "a"


def test_delayed_keys_come_due() -> None:
    clock = FakeClock()
    queue = _queue(clock)
    queue.add_after("a", 5)
    assert queue.get(0) is None
    clock.now += 5
    assert queue.get(0) == "a"


def test_an_earlier_delay_wins() -> None:
    clock = FakeClock()
    queue = _queue(clock)
    queue.add_after("a", 10)
    queue.add_after("a", 2)
    clock.now += 2
    assert queue.get(0) == "a"


def test_backoff_grows_exponentially_up_to_the_maximum_and_forget_resets() -> None:
    queue = _queue(FakeClock())
    delays = [queue.add_rate_limited("a") for _ in range(6)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    queue.forget("a")
    assert queue.add_rate_limited("a") == 1.0


def test_jitter_stays_within_half_to_full_delay() -> None:
    low = Backoff(1.0, 60.0, rng=lambda: 0.0)
    assert low.delay(3) == 2.0
    high = Backoff(1.0, 60.0, rng=lambda: 0.999)
    assert 3.99 < high.delay(3) <= 4.0


def test_shutdown_wakes_blocked_workers() -> None:
    queue = _queue()
    results: list[str | None] = []
    worker = threading.Thread(target=lambda: results.append(queue.get()))
    worker.start()
    queue.shutdown()
    worker.join(timeout=5)
    assert results == [None]


def test_retry_after_lengthens_the_backoff_up_to_its_maximum() -> None:
    queue = WorkQueue(Backoff(base=1.0, maximum=8.0, rng=lambda: 1.0), clock=lambda: 0.0)
    assert queue.add_rate_limited("a", at_least=5.0) == 5.0
    assert queue.add_rate_limited("b", at_least=0.5) == 1.0  # the backoff is longer
    assert queue.add_rate_limited("c", at_least=3600.0) == 8.0


def test_dropping_a_key_forgets_its_backoff_and_delayed_adds() -> None:
    clock = FakeClock()
    queue = _queue(clock)
    empty = queue.sizes()
    queue.add_rate_limited("gone")
    queue.add_rate_limited("gone")
    queue.add_after("kept", 5.0)
    queue.drop("gone")
    assert queue.failures("gone") == 0
    assert queue.sizes() == {**empty, "waiting": 1, "heap": 1}
    clock.now += 10
    assert queue.get(0) == "kept"
    queue.done("kept")
    assert queue.get(0) is None
    assert queue.sizes() == empty


def test_a_pending_add_survives_a_drop() -> None:
    queue = _queue()
    queue.add("gone")
    queue.drop("gone")
    assert queue.get(0) == "gone"  # processed once more: it finds the object gone
