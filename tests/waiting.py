"""Waiting on a condition instead of on time: the one poll loop the tests share."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.01, what: str = ""
) -> T:
    """Poll `predicate` until it returns something truthy, and return that; `TimeoutError`
    (naming `what` when given) when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what or 'condition'} not met within {timeout}s")
        time.sleep(interval)
