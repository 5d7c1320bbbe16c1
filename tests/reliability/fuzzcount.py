"""How many generated cases each fuzz property saw; printed in pytest's terminal summary (report
output, not a test: a count alone asserts nothing)."""

from __future__ import annotations

from collections import Counter

RUNS: Counter[str] = Counter()


def summary_lines() -> list[str]:
    if not RUNS:
        return []
    total = sum(v for k, v in RUNS.items() if not k.startswith("("))
    return [f"fuzz cases run: {total}"] + [
        f"  {count:5d}  {name}" for name, count in sorted(RUNS.items())
    ]
