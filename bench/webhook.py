"""The webhook benchmark: the same load against the limit, kopf and ours, each in its own process.

Per server: start it (pinned to CPU 0 when the machine has two or more), check one answer per
case in full (uid, allowed, and for mutate that its JSON Patch gives the same object as our
rules' patch), load it with wrk (pinned to CPU 1) or the Python fallback at each concurrency
for each case, then a fixed-rate open-loop run, then read its RSS from /proc.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import jsonpatch

from bench import machine, rules_cost
from bench.payloads import CONFIG_FILE, Case, cases, policy
from bench.tls import TLSFiles, write_throwaway_tls

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "admission.lua"
SERVER_CPU = 0
LOAD_CPU = 1


@dataclass(frozen=True)
class Settings:
    concurrency: tuple[int, ...] = (1, 8, 32, 128)
    duration: float = 5.0
    rate: float = 200.0
    rate_duration: float = 10.0
    servers: tuple[str, ...] = ("limit", "limit-stdlib", "kopf", "ours")
    cases: tuple[str, ...] = ("mutate/seed", "validate/seed", "mutate/large", "validate/large")
    generator: str = "auto"
    """`wrk`, `python`, or `auto` (wrk when installed)."""
    pin: bool = True
    rules_budget: float = 1.0
    repeat: int = 1
    """Rounds of the closed-loop runs; the tables show the median round."""
    timeout: float = 10.0


SMOKE = Settings(
    concurrency=(1, 8),
    duration=0.5,
    rate=50.0,
    rate_duration=0.5,
    cases=("mutate/seed", "validate/large"),
    rules_budget=0.05,
)


@dataclass(frozen=True)
class Server:
    name: str
    argv: Callable[[int, TLSFiles], list[str]]
    answers_patch: bool
    """False for the limit, which answers `allowed` without mutating."""
    env: tuple[tuple[str, str], ...] = ()


MALLOC_ENV = (("MALLOC_MMAP_THRESHOLD_", "131072"), ("MALLOC_TRIM_THRESHOLD_", "131072"))
"""glibc malloc tuning: allocations over 128 KiB get their own mapping, and free memory over
128 KiB at the top of the heap goes back to the system (the dynamic defaults keep it)."""


def _module(module: str, *more: str) -> Callable[[int, TLSFiles], list[str]]:
    def argv(port: int, tls: TLSFiles) -> list[str]:
        return [
            sys.executable, "-m", module, "--port", str(port),
            "--cert", str(tls.cert_file), "--key", str(tls.key_file), *more,
        ]  # fmt: skip

    return argv


def _ours(port: int, tls: TLSFiles) -> list[str]:
    return webhook_argv(port, tls, "--log-level", "info")


SERVERS = {
    "limit": Server("limit", _module("bench.servers.limit", "--json", "orjson"), False),
    "limit-stdlib": Server(
        "limit-stdlib", _module("bench.servers.limit", "--json", "stdlib"), answers_patch=False
    ),
    "kopf": Server("kopf", _module("bench.servers.kopf_peer"), answers_patch=True),
    "ours": Server("ours", _ours, answers_patch=True),
    "ours-malloc": Server("ours-malloc", _ours, answers_patch=True, env=MALLOC_ENV),
}
"""`limit` decodes with orjson like ours (webhook/json_codec.py), `limit-stdlib` with `json` (the
limit before the webhook moved to orjson); `ours-malloc` is ours with MALLOC_ENV, to show what
the environment alone does to RSS."""


def _missing_requirement(name: str) -> str | None:
    """Why a server cannot run here (kopf is a benchmark-only dependency), or None."""
    if name == "kopf" and importlib.util.find_spec("kopf") is None:
        return "kopf is not installed (pip install -r bench/requirements.txt)"
    return None


def webhook_argv(port: int, tls: TLSFiles, *extra: str) -> list[str]:
    """`tronador webhook` on 127.0.0.1:`port` with the throwaway TLS files and the example
    TronadorConfig's policy (the load benchmarks' own servers)."""
    return [
        sys.executable, "-m", "tronador", "webhook", "--address", "127.0.0.1",
        "--port", str(port), "--cert", str(tls.cert_file), "--key", str(tls.key_file),
        "--config", str(CONFIG_FILE), *extra,
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pinning(settings: Settings) -> bool:
    return settings.pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def _pinned(cpu: int, argv: list[str], settings: Settings) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv] if _pinning(settings) else argv


def _post(url: str, body: bytes, context: ssl.SSLContext, timeout: float = 10.0) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=context, timeout=timeout) as answer:
        return answer.read()  # type: ignore[no-any-return]


def _wait_ready(
    process: subprocess.Popen[bytes], url: str, body: bytes, context: ssl.SSLContext
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            _post(url, body, context, timeout=2)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError("the server did not answer within 60 s")


def check_answer(server: Server, case: Case, answer: bytes) -> str | None:
    """None when `answer` is a correct AdmissionReview for `case`, else what is wrong."""
    try:
        review = json.loads(answer)
        response = review["response"]
    except (ValueError, KeyError, TypeError):
        return "not an AdmissionReview"
    if review.get("apiVersion") != "admission.k8s.io/v1" or review.get("kind") != "AdmissionReview":
        return f"apiVersion/kind {review.get('apiVersion')}/{review.get('kind')}"
    if response.get("uid") != case.uid:
        return "uid does not match"
    if response.get("allowed") is not True:
        return f"not allowed: {response.get('status')}"
    if server.answers_patch and case.expect_patch is not None:
        expected = jsonpatch.apply_patch(copy.deepcopy(case.obj), case.expect_patch)
        if not case.expect_patch:
            return None if "patch" not in response else "a patch where none was expected"
        if response.get("patchType") != "JSONPatch":
            return "no JSON Patch"
        patch = json.loads(base64.b64decode(response["patch"]))
        if jsonpatch.apply_patch(copy.deepcopy(case.obj), patch) != expected:
            return "the patch gives a different object from our rules' patch"
    return None


def _generator(settings: Settings) -> str:
    if settings.generator == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    return settings.generator


PACED_CONNECTIONS = 4


def _load(
    settings: Settings, url: str, body_file: Path, case: Case, server: Server, tls: TLSFiles,
    pid: int, concurrency: int | None = None, rate: float | None = None,
    generator: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One run: closed loop at `concurrency`, or at `rate` req/s (open loop with the Python
    generator, paced connections with wrk)."""
    need_patch = server.answers_patch and bool(case.expect_patch)
    generator = generator or _generator(settings)
    env = dict(os.environ)
    seconds = settings.rate_duration if rate else settings.duration
    if generator == "wrk":
        if rate:
            concurrency = PACED_CONNECTIONS
            env["WRK_DELAY_MS"] = f"{PACED_CONNECTIONS * 1000 / rate:g}"
        argv = [
            "wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
            f"--timeout={settings.timeout:g}s", "-s", str(LUA_SCRIPT), url,
            "--", str(body_file), case.uid, "1" if need_patch else "0",
        ]  # fmt: skip
    else:
        argv = [
            sys.executable, "-m", "bench.pyload", url, str(body_file), case.uid,
            "--cafile", str(tls.ca_file), f"--timeout={settings.timeout:g}",
            f"--duration={seconds:g}",
        ]  # fmt: skip
        argv += ["--patch"] if need_patch else []
        argv += [f"--rate={rate:g}"] if rate else [f"--concurrency={concurrency}"]
    cpu_before = machine.process_cpu_seconds(pid)
    busy_before = machine.cpu_busy_seconds(SERVER_CPU)
    done = subprocess.run(
        _pinned(LOAD_CPU, argv, settings), capture_output=True, text=True, check=False, env=env
    )
    server_cpu = machine.process_cpu_seconds(pid) - cpu_before
    busy_after = machine.cpu_busy_seconds(SERVER_CPU)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    elapsed = result["duration_us"] / 1e6
    result["generator"] = generator
    result["rps"] = round(result["requests"] / elapsed, 1) if elapsed else 0.0
    result["server_cpu_s"] = round(server_cpu, 2)
    result["server_cpu_us_per_request"] = (
        round(server_cpu * 1e6 / result["requests"], 1) if result["requests"] else None
    )
    if busy_before is not None and busy_after is not None and _pinning(settings):
        # What else ran on the server's CPU meanwhile (other processes of a noisy machine).
        result["server_cpu_others_s"] = round(max(0.0, busy_after - busy_before - server_cpu), 2)
    result["server_rss_after_kib"] = machine.rss_kib(pid).get("VmRSS")
    errors = result["errors"]
    result["error_total"] = (
        sum(errors[k] for k in ("connect", "read", "write", "timeout")) + result["bad_responses"]
    )
    return result


def _rate_generators(settings: Settings) -> list[str]:
    """The Python open loop always; wrk's paced connections too when wrk is used."""
    return ["python", "wrk"] if _generator(settings) == "wrk" else ["python"]


@dataclass
class Running:
    server: Server
    process: subprocess.Popen[bytes]
    base: str
    log: IO[bytes]
    out: dict[str, Any]


def _start(server: Server, settings: Settings, tls: TLSFiles, logs: Path) -> Running:
    port = _free_port()
    log = (logs / f"{server.name}.log").open("wb")
    process = subprocess.Popen(
        _pinned(SERVER_CPU, server.argv(port, tls), settings),
        stdout=log,
        stderr=log,
        env={**os.environ, **dict(server.env)},
    )
    out: dict[str, Any] = {"runs": [], "fixed_rate": [], "correctness": {}}
    return Running(server, process, f"https://127.0.0.1:{port}", log, out)


def stop_server(process: subprocess.Popen[bytes], log: IO[bytes], grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; the log is closed either way."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def _stop(running: Running) -> None:
    stop_server(running.process, running.log)


def _rotated(items: list[Running], by: int) -> list[Running]:
    by %= len(items) or 1
    return items[by:] + items[:by]


def run_servers(
    names: tuple[str, ...], settings: Settings, tls: TLSFiles, bodies: dict[str, Path],
    selected: list[Case], logs: Path,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """All servers run at once, idle but for the one under load, and the runs are interleaved
    (each case and concurrency against every server in turn, the order rotating each round)
    so that the machine's noise falls on all of them alike and the ratios stay fair."""
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    results: dict[str, dict[str, Any]] = {}
    running: list[Running] = []
    try:
        for name in names:
            missing = _missing_requirement(name)
            if missing:
                results[name] = {"skipped": missing, "runs": [], "fixed_rate": []}
                print(f"  {name} skipped: {missing}", file=sys.stderr, flush=True)
                continue
            running.append(_start(SERVERS[name], settings, tls, logs))
            results[name] = running[-1].out
        for r in list(running):
            try:
                _wait_ready(r.process, r.base + selected[0].path, selected[0].body, context)
                for case in selected:
                    answer = _post(r.base + case.path, case.body, context)
                    r.out["correctness"][case.name] = check_answer(r.server, case, answer) or "ok"
                r.out["memory_start_kib"] = machine.rss_kib(r.process.pid).get("VmRSS")
            except (RuntimeError, OSError, urllib.error.URLError) as exc:
                r.out["failed"] = str(exc)
                print(f"  {r.server.name} failed: {exc}", file=sys.stderr, flush=True)
                _stop(r)
                running.remove(r)
        for round_ in range(settings.repeat):
            for case in selected:
                for concurrency in settings.concurrency:
                    for r in _rotated(running, round_):
                        result = _load(
                            settings, r.base + case.path, bodies[case.name], case, r.server, tls,
                            r.process.pid, concurrency=concurrency,
                        )  # fmt: skip
                        r.out["runs"].append(
                            {"case": case.name, "concurrency": concurrency, "round": round_,
                             **result}
                        )  # fmt: skip
                        _progress(r.server.name, case.name, f"c={concurrency}", result)
        for case in selected:
            for generator in _rate_generators(settings):
                for r in running:
                    result = _load(
                        settings, r.base + case.path, bodies[case.name], case, r.server, tls,
                        r.process.pid, rate=settings.rate, generator=generator,
                    )  # fmt: skip
                    mode = "open" if generator == "python" else "paced"
                    r.out["fixed_rate"].append(
                        {"case": case.name, "rate": settings.rate, "mode": mode, **result}
                    )
                    _progress(r.server.name, case.name, f"{settings.rate:g}/s {mode}", result)
        for r in running:
            r.out["memory_kib"] = machine.rss_kib(r.process.pid)
    finally:
        for r in running:
            _stop(r)
    for data in results.values():
        data["summary"] = summarize(data.get("runs", []))
        seed_runs = [
            r["server_rss_after_kib"]
            for r in data.get("runs", [])
            if r["case"].endswith("/seed") and r.get("round") == 0
        ]
        data["memory_after_seed_runs_kib"] = max(seed_runs) if seed_runs else None
    return results


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (case, concurrency): the run with the median throughput over the rounds."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["case"], run["concurrency"]), []).append(run)
    out = []
    for (case, concurrency), group in groups.items():
        ordered = sorted(group, key=lambda r: r["rps"])
        median = ordered[(len(ordered) - 1) // 2]
        out.append({
            **median, "case": case, "concurrency": concurrency, "rounds": len(group),
            "rps_all": [r["rps"] for r in group],
            "error_total": sum(r["error_total"] for r in group),
        })  # fmt: skip
    return out


def _progress(server: str, case: str, load: str, result: dict[str, Any]) -> None:
    latency = result["latency_us"]
    print(
        f"  {server:<6} {case:<15} {load:>7}: {result['rps']:>8.1f} req/s  "
        f"p50 {latency['p50'] / 1000:.2f} ms  p99 {latency['p99'] / 1000:.2f} ms  "
        f"errors {result['error_total']}",
        file=sys.stderr,
        flush=True,
    )


def ratios(servers: dict[str, dict[str, Any]], case_names: list[str]) -> dict[str, Any]:
    """Per case: peak throughput (best concurrency) and server CPU per request (best saturated
    run, concurrency >= 8), and the ratios ours/limit and ours/kopf of both. The CPU-based
    ratio is what the throughput ratio would be on a quiet dedicated core."""

    def rows(name: str, case: str) -> list[dict[str, Any]]:
        return [r for r in servers.get(name, {}).get("summary", []) if r["case"] == case]

    def peak(name: str, case: str) -> float | None:
        found = [r["rps"] for r in rows(name, case)]
        return max(found) if found else None

    def cpu(name: str, case: str) -> float | None:
        found = [
            r["server_cpu_us_per_request"]
            for r in rows(name, case)
            if r["concurrency"] >= 8 and r.get("server_cpu_us_per_request")
        ]
        return min(found) if found else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a and b else None

    out: dict[str, Any] = {}
    for case in case_names:
        names = [n for n in servers if servers[n].get("summary")]
        entry: dict[str, Any] = {
            n: peak(n, case) for n in ("limit", "limit-stdlib", "kopf", "ours")
        }
        entry["cpu_us_per_request"] = {n: cpu(n, case) for n in names}
        costs = entry["cpu_us_per_request"]
        entry["ours_over_limit"] = ratio(entry["ours"], entry["limit"])
        entry["ours_over_limit_stdlib"] = ratio(entry["ours"], entry["limit-stdlib"])
        entry["ours_over_limit_stdlib_by_cpu"] = ratio(costs.get("limit-stdlib"), costs.get("ours"))
        entry["ours_over_kopf"] = ratio(entry["ours"], entry["kopf"])
        entry["ours_over_limit_by_cpu"] = ratio(costs.get("limit"), costs.get("ours"))
        entry["ours_over_kopf_by_cpu"] = ratio(costs.get("kopf"), costs.get("ours"))
        out[case] = entry
    return out


def run(settings: Settings) -> dict[str, Any]:
    pol = policy()
    selected = [c for c in cases(pol) if c.name in settings.cases]
    print("in-process cost per review ...", file=sys.stderr, flush=True)
    in_process = rules_cost.measure(settings.rules_budget)
    result: dict[str, Any] = {
        "benchmark": "webhook",
        "machine": machine.describe(),
        "settings": {
            **settings.__dict__,
            "generator": _generator(settings),
            "pinned": _pinning(settings),
            "body_bytes": {c.name: len(c.body) for c in selected},
        },
        "in_process_us": in_process,
        "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="tronador-bench-") as tmp:
        work = Path(tmp)
        tls = write_throwaway_tls(work / "tls")
        bodies = {}
        for case in selected:
            bodies[case.name] = work / f"{case.name.replace('/', '-')}.json"
            bodies[case.name].write_bytes(case.body)
        logs = BENCH_DIR / "out" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        result["servers"] = run_servers(settings.servers, settings, tls, bodies, selected, logs)
    result["ratios"] = ratios(result["servers"], [c.name for c in selected])
    return result
