"""Slow TLS clients against `tronador webhook`: are they closed, does admission keep answering,
does memory stay bounded and come back?

Two phases, each against a fresh webhook process:

- `per_connection`: the webhook with limits lifted (a 600 s request deadline, no connection bound)
  holds N slow connections at once; (RSS with them - RSS idle) / N is the memory one open slow
  connection costs, which sets the default connection bound (docs/webhook.md).
- `per_connection_body`: the same with connections that send headers and all but the last byte
  of the largest body read without an in-flight slot (32 KiB), then stall: the most one
  connection can make the webhook hold.
- `defaults`: the webhook with its default settings; N clients, each opening a slow connection
  (a request line and one header, then one more header every `header_interval` seconds until
  the server closes it, or `hold` seconds pass: then it counts as not closed) and, for `sustain`
  seconds, a new one whenever the last was closed or refused.

Throughout, a separate process sends legit AdmissionReviews (the seed EP, mutate route) over one
kept-alive connection, as the API server does, and over a fresh connection every half second,
and records their latency, before the flood (the machine's baseline) and during it. The
webhook's RSS is sampled from /proc every 100 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import multiprocessing
import os
import resource
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from asyncio import sslproto
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import machine
from bench.payloads import MUTATE_PATH, admission_review, seed_ep
from bench.report import percentiles
from bench.tls import TLSFiles, write_throwaway_tls
from bench.webhook import _free_port, _post, _wait_ready, stop_server, webhook_argv
from webhook.inflight import SMALL_BODY_BYTES

CONTAINER_LIMIT_MIB = 128
"""The webhook container's memory limit in manifests/base/deployments/webhook.yaml."""

LIFTED_LIMITS = ("--request-timeout", "600", "--max-connections", "1000000")
HOLDING_PHASES = ("per_connection", "per_connection_body")

REOPEN_PAUSE = 0.2
"""Seconds a sustaining client waits after a refusal, so the probe does not spin the CPU the
webhook needs on this machine."""

STALLED_BODY_BYTES = SMALL_BODY_BYTES
"""`per_connection_body`: headers announcing the largest body the webhook reads without an
in-flight slot, then all of it but its last byte, then nothing: the most a connection can make
the webhook hold (a larger body waits for a slot unread, in smaller buffers, and is refused
after SLOT_WAIT_SECONDS)."""

SLOW_PATH = "/validate/environmentprovisioners"

BASELINE_SECONDS = 3.0
"""Legit reviews before the flood: what the machine gives without it."""


@dataclass(frozen=True)
class Settings:
    connections: int = 2000
    header_interval: float = 1.0
    hold: float = 20.0
    """Seconds a slow connection keeps sending before the client gives up on being closed."""
    opening_concurrency: int = 64
    """TLS handshakes the attacker runs at once."""
    legit_interval: float = 0.1
    settle: float = 5.0
    """Seconds after the last slow connection ends before RSS is read again."""
    phases: tuple[str, ...] = ("per_connection", "per_connection_body", "defaults")
    sustain: float = 20.0
    """`defaults` phase: for this many seconds each of the N clients opens a new slow connection
    as soon as its last one is closed or refused (after REOPEN_PAUSE), so the webhook stays under
    N would-be connections."""
    server_args: tuple[str, ...] = ()
    """Extra `tronador webhook` flags for the `defaults` phase (none: its defaults)."""


SMOKE = Settings(
    connections=40,
    sustain=3.0,
    hold=6.0,
    settle=1.0,
    legit_interval=0.2,
    server_args=("--request-timeout", "1"),
)


def _raise_open_files(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _rss_kib(pid: int) -> int:
    return machine.rss_kib(pid)["VmRSS"]


# --- the legit client, in its own process so the attacker's loop does not delay it ------------


def _legit_client(
    port: int, ca_file: str, interval: float, stop: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    context = ssl.create_default_context(cafile=ca_file)
    body = json.dumps(admission_review(seed_ep(), "bench-legit")).encode()
    headers = {"Content-Type": "application/json"}
    kept: http.client.HTTPSConnection | None = None
    kept_ms: list[tuple[float, float]] = []
    fresh_ms: list[tuple[float, float]] = []
    errors: list[str] = []
    last_fresh = 0.0

    def post(conn: http.client.HTTPSConnection) -> float:
        started = time.perf_counter()
        conn.request("POST", MUTATE_PATH, body, headers)
        answer = conn.getresponse()
        data = answer.read()
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status != 200 or b'"allowed":true' not in data:
            raise RuntimeError(f"HTTP {answer.status}")
        return elapsed

    while not stop.is_set():
        try:
            if kept is None:
                kept = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
                kept.connect()
            kept_ms.append((time.time(), post(kept)))
        except (OSError, RuntimeError, http.client.HTTPException) as exc:
            errors.append(f"kept-alive: {type(exc).__name__}: {exc}")
            kept = None
        if time.monotonic() - last_fresh >= 0.5:
            last_fresh = time.monotonic()
            fresh = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
            try:
                started = time.perf_counter()
                fresh.connect()
                post(fresh)
                fresh_ms.append((time.time(), (time.perf_counter() - started) * 1000))
            except (OSError, RuntimeError, http.client.HTTPException) as exc:
                errors.append(f"new connection: {type(exc).__name__}: {exc}")
            finally:
                fresh.close()
        time.sleep(interval)
    results.put({"kept_alive_ms": kept_ms, "new_connection_ms": fresh_ms, "errors": errors})


# --- the attacker ----------------------------------------------------------------------------


@dataclass
class Flood:
    opened: int = 0
    refused: int = 0
    closed_after: list[float] = field(default_factory=list)
    """Seconds from the handshake's end to the server closing the connection."""
    not_closed: int = 0
    open_now: int = 0
    peak_open: int = 0


@dataclass
class Attack:
    """What every slow connection of one flood shares: the webhook's port and the client's TLS
    context, the settings, the gate on concurrent handshakes, the event that ends held
    connections, and the tally."""

    port: int
    context: ssl.SSLContext
    settings: Settings
    gate: asyncio.Semaphore
    release: asyncio.Event
    flood: Flood


async def _slow_connection(attack: Attack, stalled_body: bool) -> None:
    settings, flood = attack.settings, attack.flood
    async with attack.gate:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", attack.port, ssl=attack.context), timeout=30
            )
        except (OSError, ssl.SSLError, TimeoutError):
            flood.refused += 1
            return
    opened = time.monotonic()
    flood.opened += 1
    flood.open_now += 1
    flood.peak_open = max(flood.peak_open, flood.open_now)
    closed_by_server = False
    try:
        writer.write(f"POST {SLOW_PATH} HTTP/1.1\r\nHost: webhook\r\n".encode())
        if stalled_body:
            writer.write(
                f"Content-Length: {STALLED_BODY_BYTES}\r\n\r\n".encode()
                + b" " * (STALLED_BODY_BYTES - 1)
            )
        sent = 0
        while not attack.release.is_set() and time.monotonic() - opened < settings.hold:
            try:
                data = await asyncio.wait_for(reader.read(4096), settings.header_interval)
            except TimeoutError:
                if not stalled_body:
                    sent += 1
                    writer.write(f"X-Slow-{sent}: {'a' * 32}\r\n".encode())
                    await writer.drain()
                continue
            if not data:
                closed_by_server = True
                break
    except (OSError, ssl.SSLError):
        closed_by_server = True
    finally:
        flood.open_now -= 1
        if closed_by_server:
            flood.closed_after.append(time.monotonic() - opened)
        else:
            flood.not_closed += 1
        writer.transport.abort()


async def _sustained(attack: Attack) -> None:
    """Slow connections one after the other until `settings.sustain` seconds have passed."""
    until = time.monotonic() + attack.settings.sustain
    while True:
        refused = attack.flood.refused
        await _slow_connection(attack, False)
        if time.monotonic() >= until:
            return
        if attack.flood.refused > refused:
            await asyncio.sleep(REOPEN_PAUSE)


async def _sample_rss(pid: int, samples: list[tuple[float, int]], stop: asyncio.Event) -> None:
    started = time.monotonic()
    while not stop.is_set():
        samples.append((round(time.monotonic() - started, 2), _rss_kib(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def _flood(
    pid: int,
    port: int,
    context: ssl.SSLContext,
    settings: Settings,
    hold_all: bool,
    stalled_body: bool = False,
) -> tuple[Flood, list[tuple[float, int]], int | None]:
    """Runs the slow connections; with `hold_all`, keeps them all open until every one is opened
    and RSS has been read with them, then closes them (client side). Returns the flood, the RSS
    samples and, with `hold_all`, RSS while all are open."""
    if hold_all:
        settings = replace(settings, hold=float("inf"))
    flood = Flood()
    gate = asyncio.Semaphore(settings.opening_concurrency)
    release = asyncio.Event()
    attack = Attack(port, context, settings, gate, release, flood)
    stop_sampling = asyncio.Event()
    samples: list[tuple[float, int]] = []
    sampler = asyncio.create_task(_sample_rss(pid, samples, stop_sampling))
    tasks = [
        asyncio.create_task(
            _slow_connection(attack, stalled_body)
            if hold_all or settings.sustain <= 0
            else _sustained(attack)
        )
        for _ in range(settings.connections)
    ]
    plateau: int | None = None
    if hold_all:
        while flood.opened + flood.refused < settings.connections:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)
        plateau = statistics.median(_rss_kib(pid) for _ in range(5))
        release.set()
    await asyncio.gather(*tasks)
    stop_sampling.set()
    await sampler
    return flood, samples, plateau


def _client_context(tls: TLSFiles) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls.ca_file))


def _idle_rss(pid: int, url: str, body: bytes, context: ssl.SSLContext) -> int:
    for _ in range(50):
        _post(url, body, context)
    time.sleep(1.0)
    return int(statistics.median(_rss_kib(pid) for _ in range(5)))


def _run_phase(name: str, settings: Settings, tls: TLSFiles, logs: Path) -> dict[str, Any]:
    port = _free_port()
    extra = LIFTED_LIMITS if name in HOLDING_PHASES else settings.server_args
    argv = webhook_argv(port, tls, "--log-level", "info", *extra)
    log = (logs / f"slowloris-{name}.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    server = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
    context = _client_context(tls)
    url = f"https://127.0.0.1:{port}{MUTATE_PATH}"
    body = json.dumps(admission_review(seed_ep(), "bench-warmup")).encode()
    spawn = multiprocessing.get_context("spawn")
    stop, results = spawn.Event(), spawn.Queue()
    prober = spawn.Process(
        target=_legit_client,
        args=(port, str(tls.ca_file), settings.legit_interval, stop, results),
    )
    try:
        _wait_ready(server, url, body, context)  # type: ignore[arg-type]
        idle = _idle_rss(server.pid, url, body, context)
        prober.start()
        time.sleep(BASELINE_SECONDS)
        started, flood_start = time.monotonic(), time.time()
        flood, samples, plateau = asyncio.run(
            _flood(
                server.pid,
                port,
                context,
                settings,
                hold_all=name in HOLDING_PHASES,
                stalled_body=name == "per_connection_body",
            )
        )
        flood_seconds, flood_end = time.monotonic() - started, time.time()
        time.sleep(settings.settle)
        stop.set()
        legit = results.get(timeout=60)
        prober.join(timeout=30)
        after = int(statistics.median(_rss_kib(server.pid) for _ in range(5)))
        if server.poll() is not None:
            raise RuntimeError(f"the webhook exited with {server.returncode} during the flood")
    finally:
        if prober.is_alive():
            prober.kill()
        stop_server(server, log, grace=30)
    peak = max((kib for _, kib in samples), default=idle)
    out: dict[str, Any] = {
        "server_args": list(extra),
        "connections": settings.connections,
        "opened": flood.opened,
        "refused_at_once": flood.refused,
        "closed_by_server": len(flood.closed_after),
        "closed_after_s": percentiles(flood.closed_after),
        "not_closed": flood.not_closed,
        "peak_open_client_side": flood.peak_open,
        "flood_seconds": round(flood_seconds, 1),
        "rss_mib": {
            "idle": round(idle / 1024, 1),
            "max": round(peak / 1024, 1),
            "after": round(after / 1024, 1),
            "after_over_idle": round(after / idle, 2),
            "container_limit": CONTAINER_LIMIT_MIB,
        },
        "legit": {
            "kept_alive_ms": percentiles(
                [ms for at, ms in legit["kept_alive_ms"] if flood_start <= at <= flood_end]
            ),
            "new_connection_ms": percentiles(
                [ms for at, ms in legit["new_connection_ms"] if flood_start <= at <= flood_end]
            ),
            "kept_alive_ms_before_flood": percentiles(
                [ms for at, ms in legit["kept_alive_ms"] if at < flood_start]
            ),
            "errors": len(legit["errors"]),
            "errors_kept_alive": sum(e.startswith("kept-alive") for e in legit["errors"]),
            "errors_new_connection": sum(e.startswith("new connection") for e in legit["errors"]),
            "first_errors": legit["errors"][:5],
        },
        "rss_samples_kib": samples[:: max(1, len(samples) // 200)],
    }
    if plateau is not None and flood.opened:
        out["rss_mib"]["all_open"] = round(plateau / 1024, 1)
        out["kib_per_connection"] = round((plateau - idle) / flood.opened, 1)
    return out


def run(settings: Settings, logs: Path | None = None) -> dict[str, Any]:
    """Runs the phases; the webhook's logs go to `logs` (default: a temporary directory)."""
    limit = _raise_open_files(2 * settings.connections + 256)
    asyncio.sslproto.SSLProtocol.max_size = 16 * 1024  # the attacker's own buffers stay small
    assert sslproto.SSLProtocol.max_size == 16 * 1024
    result: dict[str, Any] = {
        "machine": machine.describe(),
        "settings": asdict(settings),
        "open_files_limit": limit,
        "phases": {},
    }
    with tempfile.TemporaryDirectory(prefix="tronador-slowloris-") as tmp:
        tls = write_throwaway_tls(Path(tmp) / "tls")
        for name in settings.phases:
            print(f"slowloris: {name} with {settings.connections} connections", file=sys.stderr)
            result["phases"][name] = _run_phase(name, settings, tls, logs or Path(tmp))
    return result


def table(result: dict[str, Any]) -> str:
    lines = [
        "| phase | opened | refused at once | closed by server | closed after s p50/max "
        "| not closed | RSS idle/max/after MiB | after/idle | KiB per conn "
        "| legit kept-alive ms p50/p99/max (before flood) | legit new conn ms p50/p99/max "
        "| legit errors kept-alive/new conn |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in result["phases"].items():
        rss, legit = p["rss_mib"], p["legit"]
        closed = p["closed_after_s"]
        kept, fresh = legit["kept_alive_ms"], legit["new_connection_ms"]

        def three(d: dict[str, Any]) -> str:
            return f"{d.get('p50', '-')}/{d.get('p99', '-')}/{d.get('max', '-')}"

        lines.append(
            f"| {name} | {p['opened']} | {p['refused_at_once']} | {p['closed_by_server']} "
            f"| {closed.get('p50', '-')}/{closed.get('max', '-')} | {p['not_closed']} "
            f"| {rss['idle']}/{rss['max']}/{rss['after']} | {rss['after_over_idle']} "
            f"| {p.get('kib_per_connection', '-')} "
            f"| {three(kept)} ({three(legit['kept_alive_ms_before_flood'])}) | {three(fresh)} "
            f"| {legit['errors_kept_alive']}/{legit['errors_new_connection']} |"
        )
    lines.append(f"\nContainer limit: {CONTAINER_LIMIT_MIB} MiB.")
    return "\n".join(lines) + "\n"
