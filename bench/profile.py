"""`python -m bench profile`: where one review's CPU goes, per case, with cProfile.

Runs the webhook's per-request work in process (the same `handler` as `bench/rules_cost.py`:
decode the AdmissionReview, parse the request, the route's admitter, encode the answer) for
each case, under cProfile, and prints the functions with the most own time as a Markdown table
(calls per review, own and cumulative µs per review). cProfile inflates cheap Python calls, so
read the shares, not the absolute figures; those are in `rules_cost`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import report
from bench.payloads import cases, policy
from bench.rules_cost import handler_for

DEFAULT_SECONDS = 1.0
TOP = 12


def _label(func: tuple[str, int, str]) -> str:
    path, line, name = func
    if path == "~":
        return name.strip("<>")
    for marker in ("/site-packages/", "/tronador/", "/webhook/", "/lib/python"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker in ("/tronador/", "/webhook/"):
                path = marker.strip("/") + "/" + path
            break
    return f"{path}:{line} {name}"


def profile_case(handle: Callable[[], Any], seconds: float) -> tuple[int, pstats.Stats, float]:
    """(reviews, stats, wall µs per review without the profiler)."""
    handle()
    started = time.perf_counter()
    reviews = 0
    while time.perf_counter() - started < seconds / 2:
        handle()
        reviews += 1
    plain_us = (time.perf_counter() - started) / reviews * 1e6
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(reviews):
        handle()
    profiler.disable()
    return reviews, pstats.Stats(profiler), plain_us


def rows(reviews: int, stats: pstats.Stats, top: int = TOP) -> list[list[Any]]:
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in entries.values()) or 1.0
    ordered = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    out = []
    for func, (_cc, calls, own, cumulative, _callers) in ordered:
        out.append(
            [
                _label(func),
                round(calls / reviews, 1),
                round(own / reviews * 1e6, 1),
                f"{own / total:.0%}",
                round(cumulative / reviews * 1e6, 1),
            ]
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench profile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="per case")
    parser.add_argument("--cases", default="", help="subset, e.g. validate/seed,mutate/large")
    parser.add_argument("--top", type=int, default=TOP)
    args = parser.parse_args(argv)
    pol = policy()
    wanted = {c for c in args.cases.split(",") if c}
    for case in cases(pol):
        if wanted and case.name not in wanted:
            continue
        reviews, stats, plain_us = profile_case(handler_for(case, pol), args.seconds)
        print(f"\n#### {case.name} ({len(case.body)} bytes, {plain_us:.1f} µs/review unprofiled)\n")
        header = ["function", "calls/review", "own µs", "own share", "cumulative µs"]
        print(report.table(header, rows(reviews, stats, args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
