"""Figures as Markdown tables (printed, and pasted into RESULTS.md) and as JSON files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; a row shorter than the header (a note such as "skipped: ...") is padded
    with empty cells, a longer one is an error."""
    for row in rows:
        if len(row) > len(header):
            raise ValueError(f"row has {len(row)} cells for {len(header)} columns: {row!r}")
    cells = [[str(c) for c in header]] + [
        [_cell(c) for c in row] + [""] * (len(header) - len(row)) for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def percentiles(values: list[float], digits: int = 2) -> dict[str, float | int]:
    """count, p50, p99 and max of `values` (just the count when there are none)."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], digits)

    return {
        "count": len(ordered),
        "p50": at(0.5),
        "p99": at(0.99),
        "max": round(ordered[-1], digits),
    }


def ms(us: float | int | None) -> float | None:
    return None if us is None else us / 1000


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def machine_lines(info: dict[str, Any]) -> str:
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v)
    return (
        f"- CPU: {info['cpu_model']}, nproc {info['nproc']}, Linux {info['kernel']}\n"
        f"- Python {info['python']}; {packages}\n"
        f"- load generator: {info['wrk'] or 'wrk not installed (Python fallback)'}"
    )


def webhook_tables(result: dict[str, Any]) -> str:
    servers: dict[str, Any] = result["servers"]
    parts = ["### Machine", machine_lines(result["machine"])]
    settings = result["settings"]
    parts.append(
        f"generator {settings['generator']}, {settings['duration']:g} s per run, "
        f"{settings.get('repeat', 1)} round(s) interleaved across servers (median shown), "
        f"pinned (server CPU 0, load CPU 1): {settings['pinned']}"
    )

    rows = []
    for name, data in servers.items():
        if "failed" in data or "skipped" in data:
            why = f"FAILED: {data['failed']}" if "failed" in data else f"skipped: {data['skipped']}"
            rows.append([name, why[:70]])
            continue
        for run in data.get("summary", data["runs"]):
            lat = run["latency_us"]
            rows.append([
                name, run["case"], run["concurrency"], run["rps"], ms(lat["p50"]),
                ms(lat["p90"]), ms(lat["p99"]), run["error_total"], run["errors"]["status"],
                run.get("server_cpu_us_per_request"), run.get("server_cpu_others_s"),
            ])  # fmt: skip
    parts += [
        "### Closed loop: throughput and latency "
        "(CPU µs/req: the server's own CPU time per request; others s: CPU time other "
        "processes took on the server's CPU during the run)",
        table(
            [
                "server",
                "case",
                "conc",
                "req/s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "errors",
                "non-2xx",
                "CPU µs/req",
                "others s",
            ],
            rows,
        ),
    ]

    rows = []
    for case, entry in result["ratios"].items():
        costs = entry.get("cpu_us_per_request", {})
        rows.append([
            case, entry.get("limit"), entry.get("limit-stdlib"), entry.get("kopf"),
            entry.get("ours"), entry["ours_over_limit"], entry.get("ours_over_limit_stdlib"),
            entry["ours_over_kopf"], costs.get("limit"), costs.get("limit-stdlib"),
            costs.get("kopf"), costs.get("ours"), entry.get("ours_over_limit_by_cpu"),
            entry.get("ours_over_limit_stdlib_by_cpu"), entry.get("ours_over_kopf_by_cpu"),
        ])  # fmt: skip
    parts += [
        "### Peak throughput (best concurrency), CPU per request (best run at conc >= 8), ratios",
        table(
            [
                "case",
                "limit req/s",
                "limit-stdlib req/s",
                "kopf req/s",
                "ours req/s",
                "ours/limit",
                "ours/limit-stdlib",
                "ours/kopf",
                "limit µs",
                "limit-stdlib µs",
                "kopf µs",
                "ours µs",
                "ours/limit by CPU",
                "ours/limit-stdlib by CPU",
                "ours/kopf by CPU",
            ],
            rows,
        ),
    ]

    rows = []
    for name, data in servers.items():
        for run in data.get("fixed_rate", []):
            lat = run["latency_us"]
            rows.append([
                name, run["case"], run.get("mode", "open"), run["rate"], run["rps"],
                ms(lat["p50"]), ms(lat["p90"]), ms(lat["p99"]), ms(lat["max"]), run["error_total"],
            ])  # fmt: skip
    parts += [
        "### Fixed rate (open: Python open loop, latency from when each request was due; "
        "paced: wrk, 4 connections each waiting 4/rate s before each request)",
        table(
            [
                "server",
                "case",
                "mode",
                "target/s",
                "got/s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "errors",
            ],
            rows,
        ),
    ]

    rows = []
    for name, data in servers.items():
        memory = data.get("memory_kib", {})
        correct = data.get("correctness", {})
        wrong = {k: v for k, v in correct.items() if v != "ok"}
        rows.append([
            name, _mib(data.get("memory_start_kib")), _mib(data.get("memory_after_seed_runs_kib")),
            _mib(memory.get("VmRSS")), _mib(memory.get("VmHWM")),
            "all ok" if correct and not wrong else (wrong or "-"),
        ])  # fmt: skip
    parts += [
        "### Server memory (RSS from /proc) and answer checks",
        table(
            ["server", "at start MiB", "after seed runs MiB", "after the run MiB", "peak MiB",
             "full answer check"],
            rows,
        ),
    ]  # fmt: skip

    rows = []
    for case, entry in result["in_process_us"].items():
        rows.append([
            case, entry["body_bytes"], entry["rules"]["median_us"],
            entry.get("handler", {}).get("median_us"), entry["json_loads"]["median_us"],
            entry.get("orjson_loads", {}).get("median_us"),
        ])  # fmt: skip
    parts += [
        "### In-process cost per review (median µs)",
        table(
            ["case", "body bytes", "rules µs", "handler µs", "json.loads µs", "orjson.loads µs"],
            rows,
        ),
    ]
    return "\n\n".join(parts) + "\n"


def _mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)
