"""The benchmarks keep working: each runs for a second or two and writes its JSON.

Nothing here asserts a timing; the figures are in bench/RESULTS.md. Without `wrk` the webhook
benchmark uses its Python load generator, so CI needs nothing extra.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from tests.tools import optional_module, optional_tool

REPO = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--out", str(tmp_path), *args, "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    name = f"{args[0]}-smoke"
    assert (tmp_path / f"{name}.md").read_text().strip()
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_webhook_benchmark_smoke_writes_figures_for_every_server(tmp_path: Path) -> None:
    result = _run(tmp_path, "webhook")
    assert set(result) >= {"machine", "settings", "in_process_us", "servers", "ratios"}
    assert set(result["servers"]) == {"limit", "limit-stdlib", "kopf", "ours"}
    if importlib.util.find_spec("kopf") is None:
        assert "skipped" in result["servers"].pop("kopf")
    for name, server in result["servers"].items():
        assert "failed" not in server, name
        assert set(server["correctness"].values()) == {"ok"}, (name, server["correctness"])
        assert server["runs"] and server["fixed_rate"], name
        for run in server["runs"] + server["fixed_rate"]:
            assert {"rps", "latency_us", "errors", "bad_responses", "error_total"} <= set(run)
            assert {"p50", "p90", "p99"} <= set(run["latency_us"])
        assert server["memory_kib"]["VmRSS"] > 0
    for entry in result["ratios"].values():
        assert {"limit", "kopf", "ours", "ours_over_limit", "ours_over_kopf"} <= set(entry)
        assert {"limit-stdlib", "ours_over_limit_stdlib"} <= set(entry)
    for entry in result["in_process_us"].values():
        assert entry["rules"]["median_us"] > 0


def test_webhook_benchmark_with_wrk_when_it_is_installed(tmp_path: Path) -> None:
    optional_tool("wrk")
    result = _run(tmp_path, "webhook", "--generator", "wrk", "--servers", "limit")
    assert result["settings"]["generator"] == "wrk"
    runs = result["servers"]["limit"]["runs"]
    assert runs and all(r["generator"] == "wrk" and r["requests"] > 0 for r in runs)


def test_webhook_benchmark_with_kopf_when_it_is_installed(tmp_path: Path) -> None:
    optional_module("kopf")
    result = _run(tmp_path, "webhook", "--generator", "python", "--servers", "kopf")
    kopf = result["servers"]["kopf"]
    assert "skipped" not in kopf and "failed" not in kopf
    assert set(kopf["correctness"].values()) == {"ok"}


def test_webhook_benchmark_python_generator_needs_no_wrk(tmp_path: Path) -> None:
    result = _run(tmp_path, "webhook", "--generator", "python", "--servers", "limit")
    assert result["settings"]["generator"] == "python"
    runs = result["servers"]["limit"]["runs"]
    assert runs and all(r["generator"] == "python" and r["requests"] > 0 for r in runs)


def test_controller_benchmark_smoke_counts_calls_and_idle_writes(tmp_path: Path) -> None:
    result = _run(tmp_path, "controller")
    assert result["ok"]
    assert set(result) >= {"machine", "settings", "emulator_probe", "sizes", "growth"}
    for size in result["sizes"]:
        for phase in ("create", "update"):
            figures = size[phase]
            assert figures["all_deployed"], (size["n"], phase)
            assert {"time_to_all_deployed_s", "calls", "reconciles_per_ep"} <= set(figures)
            assert figures["calls"]["per_ep_by_verb"]
        assert {"writes", "reads", "reconciles"} <= set(size["idle"])
        assert size["controller_memory_kib"]["VmHWM"] > 0


def test_slowloris_benchmark_smoke_reports_every_phase(tmp_path: Path) -> None:
    result = _run(tmp_path, "slowloris")
    assert set(result["phases"]) == {"per_connection", "per_connection_body", "defaults"}
    for name in ("per_connection", "per_connection_body"):
        phase = result["phases"][name]
        assert phase["opened"] == phase["connections"] and phase["kib_per_connection"] > 0
    defaults = result["phases"]["defaults"]
    assert defaults["closed_by_server"] == defaults["opened"] > 0
    assert defaults["not_closed"] == 0
    assert defaults["legit"]["kept_alive_ms"]["count"] > 0
    assert {"idle", "max", "after", "container_limit"} <= set(defaults["rss_mib"])


def test_publish_benchmark_smoke_lands_every_publisher(tmp_path: Path) -> None:
    from tests.tools import need_tool

    need_tool("git", "the publishers run the real git CLI")
    result = _run(tmp_path, "publish")
    assert result["ok"]
    assert result["single_publisher_s"] > 0 and result["single_publisher_cpu_s"] > 0
    for round_ in result["rounds"]:
        assert round_["all_landed"] and round_["fast_forwards_only"]
        assert round_["cpu_seconds"] > 0
        assert len(round_["attempts"]) == result["settings"]["publishers"]
        assert min(round_["attempts"]) >= 1
        assert round_["retries"] == sum(round_["attempts"]) - len(round_["attempts"])


def test_flood_benchmark_smoke_probes_and_answers_every_payload(tmp_path: Path) -> None:
    result = _run(tmp_path, "flood")
    assert result["healthz_ms_during"]["count"] > 0
    assert result["prober_errors"] == 0
    for name, entry in result["reviews"].items():
        assert entry["ms"]["count"] > 0, name
        assert "500" not in entry["statuses"], (name, entry)
    assert result["reviews"]["nesting-100k"]["statuses"].keys() <= {"400", "503"}
    assert result["payload_bytes"]["braces-run"] <= 3 * 1024 * 1024
