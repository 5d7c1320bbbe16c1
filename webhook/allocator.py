"""glibc malloc settings the process applies to itself, so that memory freed after a burst of
connections or large reviews goes back to the OS wherever the webhook runs, not only where a
Deployment sets MALLOC_* variables.

- M_ARENA_MAX 2: the webhook is one event loop (plus a few helper threads); one arena per thread
  only multiplies the memory kept.
- M_MMAP_THRESHOLD and M_TRIM_THRESHOLD 4 MiB, fixed: glibc's default raises both after each
  large free (up to 32 and 64 MiB), which is what kept a burst's memory for good; free memory at
  the top of the heap now goes back past 4 MiB. Not lower: at 128 KiB every 200 KiB review's
  body, decoded copy and serializations were mmapped, page-faulted and unmapped anew, which cost
  about 30% of a large review's CPU (bench/RESULTS.md), for 2 MiB less RSS after a burst.
- `release_free_memory` (malloc_trim(0)) returns free pages inside the heap too, which the
  thresholds do not: the listener calls it when a burst of connections has closed.

On other C libraries (musl, macOS) every call here does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import platform
import time
from functools import cache

from webhook.listener import ConnectionCount

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

SETTINGS = {M_ARENA_MAX: 2, M_MMAP_THRESHOLD: 4 * 1024 * 1024, M_TRIM_THRESHOLD: 4 * 1024 * 1024}
SETTING_NAMES = {
    M_ARENA_MAX: "M_ARENA_MAX",
    M_MMAP_THRESHOLD: "M_MMAP_THRESHOLD",
    M_TRIM_THRESHOLD: "M_TRIM_THRESHOLD",
}


@cache
def _glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    return libc


def apply_malloc_settings() -> dict[str, int]:
    """Applies SETTINGS; returns those glibc accepted, by name (empty when not on glibc)."""
    libc = _glibc()
    if libc is None:
        return {}
    return {
        SETTING_NAMES[param]: value
        for param, value in SETTINGS.items()
        if libc.mallopt(param, value) == 1
    }


def release_free_memory() -> bool:
    """malloc_trim(0); True when glibc returned memory to the OS."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


class ReleaseAfterBurst:
    """Called after every connection close: once the open connections are back to `low` after
    reaching `high` since the last release, and `delay` seconds later (the burst's last closes),
    collects the connections' reference cycles and returns the freed memory to the OS. A steady
    load of kept-alive connections never triggers it; a flood's end does.
    `freeze_startup_objects` keeps the collection short."""

    def __init__(self, *, high: int = 64, low: int = 8, delay: float = 1.0) -> None:
        self.high = high
        self.low = low
        self.delay = delay
        self.releases = 0
        self._pending = False

    def __call__(self, count: ConnectionCount) -> None:
        if self._pending or count.peak < self.high or count.open > self.low:
            return
        self._pending = True
        asyncio.get_running_loop().call_later(self.delay, self._release, count)

    def _release(self, count: ConnectionCount) -> None:
        self._pending = False
        count.reset_peak()
        self.releases += 1
        started = time.perf_counter()
        collected = gc.collect()
        released = release_free_memory()
        log.info(
            "connection burst over: freed memory returned to the OS",
            extra={
                "fields": {
                    "returned": released,
                    "collected": collected,
                    "open": count.open,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                }
            },
        )


def freeze_startup_objects() -> None:
    """gc.freeze(): what exists once the server listens (modules, the policy, the app) is never
    garbage and is left out of every later collection."""
    gc.collect()
    gc.freeze()
