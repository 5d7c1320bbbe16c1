"""The cyclic garbage collector, paused while a review's tree is alive.

JSON cannot make a reference cycle, so nothing a review builds needs the collector: reference
counting frees it all when the review is answered. Left running, the collector is triggered by
the allocations themselves and scans the growing tree again and again: decoding a 3 MiB body of
180,000 small mappings took 140 ms instead of 40, and once the collector was back on, its first
pass over the still-young tree held the interpreter lock for ~30 ms, stalling the event loop
(bench/flood.py). Paused from decoding to answering, the tree is gone before it runs again.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """gc disabled for the block; re-enabled (if it was) when the last concurrent block ends."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
