"""Timing one in-process call: the batches both in-process benchmarks measure with."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def batch_samples_us(
    fn: Callable[[], Any], budget_s: float, repeats: int = 5
) -> tuple[list[float], int]:
    """Microseconds per call in each of `repeats` timed batches sized to fill `budget_s` in
    total (after one warm-up call and one call that sizes the batches), and the batch size."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(budget_s / repeats / once))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number * 1e6)
    return samples, number
