"""Timing one in-process call: the batches both in-process benchmarks measure with."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def batch_samples_us(
    fn: Callable[[], Any], budget_s: float, repeats: int = 5
) -> tuple[list[float], int]:
    """Microseconds of this process's CPU time per call in each of `repeats` timed batches sized
    to fill `budget_s` in total (after one warm-up call and one call that sizes the batches), and
    the batch size. CPU time, so other jobs on a shared machine inflate it less than wall time."""
    fn()
    start = time.process_time()
    fn()
    once = max(time.process_time() - start, 1e-6)
    number = max(1, int(budget_s / repeats / once))
    samples = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(number):
            fn()
        samples.append((time.process_time() - t0) / number * 1e6)
    return samples, number
