"""A flood of adversarial AdmissionReviews against `tronador webhook`: do the kubelet's probes
and the ordinary reviews keep being answered?

The webhook runs with its default settings. Throughout, a prober process opens a new TLS
connection every `probe_interval` seconds and GETs /healthz, as the kubelet does, and sends the
seed EP over a kept-alive connection, as the API server does; both record their latency, before
the flood (the machine's baseline) and during it. During the flood, `clients` threads in another
process each keep a connection and send the reviews of PAYLOADS one after the other, each
hostile in its own way (issue 26), every one within the webhook's 3 MiB body limit. The
webhook's RSS is sampled from /proc every 100 ms.
"""

from __future__ import annotations

import copy
import http.client
import json
import multiprocessing
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.payloads import (
    MUTATE_PATH,
    VALIDATE_PATH,
    admission_review,
    seed_ep,
)
from bench.report import percentiles
from bench.tls import TLSFiles, write_throwaway_tls
from bench.webhook import _free_port, _wait_ready, stop_server, webhook_argv

MAX_BODY_BYTES = 3 * 1024 * 1024
"""webhook/routes.py's limit (spelled here so the payloads stay inside it)."""
PROBE_TARGET_MS = 100.0
"""Issue 26: /healthz answers within 100 ms during the flood."""
ATTACKER_NICENESS = 10
"""The attacker yields its CPU to the prober, so a probe's latency is the webhook's, not the
time the prober waited for a CPU the attacker held (the webhook has a CPU of its own when the
machine has two: `taskset`)."""


@dataclass(frozen=True)
class Settings:
    clients: int = 8
    duration: float = 20.0
    probe_interval: float = 0.05
    baseline: float = 3.0


SMOKE = Settings(clients=2, duration=2.0, probe_interval=0.1, baseline=1.0)


def _values_ep(values: Any) -> dict[str, Any]:
    ep = seed_ep()
    ep["spec"]["application"]["release"]["values"]["hostile"] = values
    return ep


def _fill(make: Callable[[int], Any], per_copy: int) -> Any:
    """The largest `make(n)` whose JSON stays under `per_copy` bytes (bisection on n)."""
    low, high = 1, 1
    while len(json.dumps(make(high))) < per_copy:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if len(json.dumps(make(middle))) < per_copy:
            low = middle
        else:
            high = middle
    return make(low)


def _review(name: str, ep: dict[str, Any], update: bool) -> bytes:
    review = admission_review(ep, f"flood-{name}")
    if update:
        review["request"]["operation"] = "UPDATE"
        review["request"]["oldObject"] = ep
        review["request"]["options"]["kind"] = "UpdateOptions"
    body = json.dumps(review, separators=(",", ":")).encode()
    if len(body) > MAX_BODY_BYTES:
        raise ValueError(f"payload {name} is {len(body)} bytes, over the body limit")
    return body


def _deep(depth: int) -> Any:
    tree: Any = {}
    for _ in range(depth):
        tree = {"a": tree}
    return tree


def payloads() -> dict[str, tuple[str, bytes]]:
    """name: (route, body). UPDATE reviews carry the object twice, so each copy gets ~half."""
    copy_bytes = MAX_BODY_BYTES // 2 - 16 * 1024
    spaces = _values_ep("{{" + " " * 4000)
    braces = _values_ep(_fill(lambda n: "{{ " * n, copy_bytes))
    placeholders = _values_ep(
        _fill(lambda n: {f"k{i}": "{{APPLICATION_IMAGE_TAG}}" for i in range(n)}, copy_bytes)
    )
    mappings = _values_ep(_fill(lambda n: [{"a": {}} for _ in range(n)], copy_bytes))
    deep = _values_ep(_fill(lambda n: [_deep(90) for _ in range(n)], copy_bytes))
    nesting = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":' + (
        b"[" * 100_000
    )
    return {
        "spaces-4000": (VALIDATE_PATH, _review("spaces", spaces, update=False)),
        "braces-run": (MUTATE_PATH, _review("braces", braces, update=True)),
        "placeholders": (VALIDATE_PATH, _review("placeholders", placeholders, update=True)),
        "placeholders-mutate": (MUTATE_PATH, _review("placeholders-m", placeholders, False)),
        "small-mappings": (VALIDATE_PATH, _review("mappings", mappings, update=True)),
        "deep-trees": (VALIDATE_PATH, _review("deep", copy.deepcopy(deep), update=True)),
        "nesting-100k": (VALIDATE_PATH, nesting),
    }


# --- the processes: prober and attacker, each in its own so neither delays the other ---------


def _prober(port: int, ca_file: str, interval: float, stop: Any, results: Any) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    review = json.dumps(admission_review(seed_ep(), "flood-legit")).encode()
    headers = {"Content-Type": "application/json"}
    probes: list[tuple[float, float]] = []
    legit: list[tuple[float, float]] = []
    errors: list[str] = []
    kept: http.client.HTTPSConnection | None = None
    while not stop.is_set():
        fresh = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        started = time.perf_counter()
        try:
            fresh.request("GET", "/healthz")
            answer = fresh.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"HTTP {answer.status}")
            probes.append((time.time(), (time.perf_counter() - started) * 1000))
        except (OSError, RuntimeError, http.client.HTTPException) as exc:
            errors.append(f"healthz: {type(exc).__name__}: {exc}")
        finally:
            fresh.close()
        try:
            if kept is None:
                kept = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
            started = time.perf_counter()
            kept.request("POST", MUTATE_PATH, review, headers)
            answer = kept.getresponse()
            data = answer.read()
            if answer.status != 200 or b'"allowed":true' not in data:
                raise RuntimeError(f"HTTP {answer.status}")
            legit.append((time.time(), (time.perf_counter() - started) * 1000))
        except (OSError, RuntimeError, http.client.HTTPException) as exc:
            errors.append(f"review: {type(exc).__name__}: {exc}")
            kept = None
        time.sleep(interval)
    results.put({"probes": probes, "legit": legit, "errors": errors})


def _attacker(port: int, ca_file: str, settings: Settings, results: Any) -> None:
    os.nice(ATTACKER_NICENESS)
    context = ssl.create_default_context(cafile=ca_file)
    bodies = list(payloads().items())
    headers = {"Content-Type": "application/json"}
    until = time.monotonic() + settings.duration
    tally: dict[str, dict[str, Any]] = {
        name: {"statuses": {}, "ms": [], "denied": 0} for name, _ in bodies
    }
    lock = threading.Lock()

    def client(offset: int) -> None:
        conn: http.client.HTTPSConnection | None = None
        sent = offset
        while time.monotonic() < until:
            name, (path, body) = bodies[sent % len(bodies)]
            sent += 1
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection(
                        "127.0.0.1", port, context=context, timeout=30
                    )
                conn.request("POST", path, body, headers)
                answer = conn.getresponse()
                data = answer.read()
                status = str(answer.status)
                denied = b'"allowed":false' in data
                if answer.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                status, denied = type(exc).__name__, False
                conn = None
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                entry = tally[name]
                entry["statuses"][status] = entry["statuses"].get(status, 0) + 1
                entry["ms"].append(elapsed)
                entry["denied"] += denied

    threads = [threading.Thread(target=client, args=(i,)) for i in range(settings.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(tally)


def _pinned(argv: list[str]) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", "0", *argv]
    return argv


def _pin_self_elsewhere() -> None:
    """The benchmark and its children (prober, attacker) on every CPU but the webhook's."""
    cpus = set(range(os.cpu_count() or 1)) - {0}
    if cpus and hasattr(os, "sched_setaffinity") and shutil.which("taskset"):
        os.sched_setaffinity(0, cpus)


def _between(samples: list[tuple[float, float]], start: float, end: float) -> list[float]:
    return [ms for at, ms in samples if start <= at <= end]


def run(settings: Settings, logs: Path | None = None) -> dict[str, Any]:
    sizes = {name: len(body) for name, (_, body) in payloads().items()}
    with tempfile.TemporaryDirectory(prefix="tronador-flood-") as tmp:
        tls = write_throwaway_tls(Path(tmp) / "tls")
        measured = _run(settings, tls, logs or Path(tmp))
    return {
        "machine": machine.describe(),
        "settings": asdict(settings),
        "payload_bytes": sizes,
        **measured,
    }


def _run(settings: Settings, tls: TLSFiles, logs: Path) -> dict[str, Any]:
    port = _free_port()
    argv = webhook_argv(port, tls, "--log-level", "warning")
    log = (logs / "flood-webhook.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    server = subprocess.Popen(_pinned(argv), stdout=log, stderr=log, env=env)
    _pin_self_elsewhere()
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    spawn = multiprocessing.get_context("spawn")
    stop, probe_results, attack_results = spawn.Event(), spawn.Queue(), spawn.Queue()
    prober = spawn.Process(
        target=_prober, args=(port, str(tls.ca_file), settings.probe_interval, stop, probe_results)
    )
    attacker = spawn.Process(
        target=_attacker, args=(port, str(tls.ca_file), settings, attack_results)
    )
    rss: list[int] = []
    try:
        warmup = json.dumps(admission_review(seed_ep(), "flood-warmup")).encode()
        _wait_ready(server, f"https://127.0.0.1:{port}{MUTATE_PATH}", warmup, context)
        idle = machine.rss_kib(server.pid)["VmRSS"]
        prober.start()
        time.sleep(settings.baseline)
        flood_start = time.time()
        attacker.start()
        while attacker.is_alive() and time.time() - flood_start < settings.duration + 60:
            rss.append(machine.rss_kib(server.pid)["VmRSS"])
            time.sleep(0.1)
        tally = attack_results.get(timeout=60)
        flood_end = time.time()
        attacker.join(timeout=30)
        stop.set()
        probed = probe_results.get(timeout=60)
        prober.join(timeout=30)
        if server.poll() is not None:
            raise RuntimeError(f"the webhook exited with {server.returncode} during the flood")
    finally:
        for child in (prober, attacker):
            if child.is_alive():
                child.kill()
        stop_server(server, log, grace=30)
    during = _between(probed["probes"], flood_start, flood_end)
    return {
        "healthz_ms_before": percentiles(_between(probed["probes"], 0, flood_start)),
        "healthz_ms_during": percentiles(during),
        "healthz_over_target": sum(ms > PROBE_TARGET_MS for ms in during),
        "legit_review_ms_before": percentiles(_between(probed["legit"], 0, flood_start)),
        "legit_review_ms_during": percentiles(_between(probed["legit"], flood_start, flood_end)),
        "prober_errors": len(probed["errors"]),
        "first_prober_errors": probed["errors"][:5],
        "reviews": {
            name: {
                "statuses": entry["statuses"],
                "denied": entry["denied"],
                "ms": percentiles(entry["ms"]),
            }
            for name, entry in tally.items()
        },
        "rss_mib": {
            "idle": round(idle / 1024, 1),
            "max": round(max(rss, default=idle) / 1024, 1),
        },
    }


def tables(result: dict[str, Any]) -> str:
    def three(d: dict[str, Any]) -> str:
        return f"{d.get('p50', '-')} / {d.get('p99', '-')} / {d.get('max', '-')}"

    probes = report.table(
        ["", "count", "ms p50 / p99 / max"],
        [
            ["/healthz, before", result["healthz_ms_before"]["count"],
             three(result["healthz_ms_before"])],
            ["/healthz, during", result["healthz_ms_during"]["count"],
             three(result["healthz_ms_during"])],
            ["seed review, before", result["legit_review_ms_before"]["count"],
             three(result["legit_review_ms_before"])],
            ["seed review, during", result["legit_review_ms_during"]["count"],
             three(result["legit_review_ms_during"])],
        ],
    )  # fmt: skip
    reviews = report.table(
        ["payload", "bytes", "answers (HTTP status: count)", "denied", "ms p50 / p99 / max"],
        [
            [
                name,
                result["payload_bytes"][name],
                ", ".join(f"{k}: {v}" for k, v in sorted(entry["statuses"].items())),
                entry["denied"],
                three(entry["ms"]),
            ]
            for name, entry in result["reviews"].items()
        ],
    )
    rss = result["rss_mib"]
    return (
        f"{probes}\n\n/healthz over {PROBE_TARGET_MS:.0f} ms during the flood: "
        f"{result['healthz_over_target']}; prober errors: {result['prober_errors']}\n\n"
        f"{reviews}\n\nRSS MiB idle / max: {rss['idle']} / {rss['max']}\n"
    )
