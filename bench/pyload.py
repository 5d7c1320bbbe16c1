"""A pure-Python load generator (aiohttp client), printing the same JSON line as admission.lua.

Two modes:
- closed loop (`--concurrency C`): C connections, each sending its next request when the last
  answer arrived; the fallback when `wrk` is not installed (e.g. for the smoke test).
- open loop (`--rate R`): request i is due at start + i/R whatever happened before, and its
  latency counts from when it was due, not from when it was sent, so a stalled server cannot
  hide its queue (no coordinated omission). This is the fixed-rate run; wrk paces connections
  only in a closed loop (`delay()`), and wrk2 is not packaged in Debian.

Run it as its own process: `python -m bench.pyload URL BODY_FILE UID [--patch] ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

SPIN_SECONDS = 0.002


@dataclass
class Tally:
    uid: str
    need_patch: bool
    latencies: list[float] = field(default_factory=list)
    bytes: int = 0
    checked: int = 0
    bad: int = 0
    errors: dict[str, int] = field(
        default_factory=lambda: {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    )

    def check(self, status: int, body: bytes) -> None:
        self.checked += 1
        self.bytes += len(body)
        if not 200 <= status < 300:
            self.errors["status"] += 1
        if not _correct(status, body, self.uid, self.need_patch):
            self.bad += 1


def _correct(status: int, body: bytes, uid: str, need_patch: bool) -> bool:
    if status != 200:
        return False
    try:
        review = json.loads(body)
        response = review["response"]
    except (ValueError, KeyError, TypeError):
        return False
    return (
        review.get("kind") == "AdmissionReview"
        and response.get("uid") == uid
        and response.get("allowed") is True
        and (not need_patch or response.get("patchType") == "JSONPatch")
    )


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, tally: Tally, started: float
) -> None:
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
            answer = await r.read()
            tally.latencies.append(time.perf_counter() - started)
            tally.check(r.status, answer)
    except aiohttp.ClientConnectorError:
        tally.errors["connect"] += 1
    except TimeoutError:
        tally.errors["timeout"] += 1
    except (aiohttp.ClientError, OSError):
        tally.errors["read"] += 1


async def closed_loop(
    session: aiohttp.ClientSession, url: str, body: bytes, tally: Tally, concurrency: int,
    duration: float,
) -> float:  # fmt: skip
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await _post(session, url, body, tally, time.perf_counter())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def open_loop(
    session: aiohttp.ClientSession, url: str, body: bytes, tally: Tally, rate: float,
    duration: float,
) -> float:  # fmt: skip
    total = int(rate * duration)
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        due = start + i / rate
        await _until(due)
        tasks.append(asyncio.create_task(_post(session, url, body, tally, due)))
    await asyncio.gather(*tasks)
    return max(time.perf_counter() - start, total / rate)


async def _until(due: float) -> None:
    """Sleep until `due`: the event loop's timers wake up to a millisecond late, so the last
    stretch yields to the loop (answers keep being read) without sleeping."""
    coarse = due - time.perf_counter() - SPIN_SECONDS
    if coarse > 0:
        await asyncio.sleep(coarse)
    while time.perf_counter() < due:
        await asyncio.sleep(0)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    body = open(args.body_file, "rb").read()  # noqa: SIM115 - read once, before timing
    context = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
    connector = aiohttp.TCPConnector(ssl=context or False, limit=args.connections)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        warm = Tally(args.uid, args.patch)
        await closed_loop(session, args.url, body, warm, min(args.connections, 8), args.warmup)
        tally = Tally(args.uid, args.patch)
        if args.rate:
            elapsed = await open_loop(session, args.url, body, tally, args.rate, args.duration)
        else:
            elapsed = await closed_loop(
                session, args.url, body, tally, args.concurrency, args.duration
            )
    ordered = sorted(tally.latencies)
    us = [x * 1e6 for x in ordered]
    return {
        "requests": len(ordered) + sum(tally.errors[k] for k in ("connect", "read", "timeout")),
        "duration_us": int(elapsed * 1e6),
        "bytes": tally.bytes,
        "errors": tally.errors,
        "bad_responses": tally.bad,
        "checked": tally.checked,
        "latency_us": {
            "min": int(us[0]) if us else 0,
            "mean": round(sum(us) / len(us), 1) if us else 0.0,
            "max": int(us[-1]) if us else 0,
            "p50": int(_percentile(us, 50)),
            "p90": int(_percentile(us, 90)),
            "p99": int(_percentile(us, 99)),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("body_file")
    parser.add_argument("uid")
    parser.add_argument("--patch", action="store_true", help="a JSON Patch is expected")
    parser.add_argument("--cafile")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop at this many req/s")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    args.connections = max(args.concurrency, 256 if args.rate else 0)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
