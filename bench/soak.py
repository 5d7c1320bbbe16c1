"""Soak: the webhook and the controller under steady work for a long time, their RSS sampled,
to see whether memory grows. Not a test.

    python -m bench.soak                     # 10 minutes
    python -m bench.soak --duration 3m
    python -m bench.soak --smoke             # 20 s

- The webhook runs as `tronador webhook --config examples/tronador-config.yaml` (a subprocess,
  throwaway TLS) under a steady closed-loop load of mutate and validate AdmissionReviews from
  an aiohttp client.
- The controller runs in this process against the emulated API server, while EPs are created,
  updated (a new image tag), given a Flux status and deleted continuously. The emulator's own
  request log and old Events are trimmed as it goes, so what grows is the controller's.
  The controller's RSS therefore includes the emulator's and the churn's; `--baseline` runs all
  of it but the controller, to tell the two apart.

Prints RSS over time and the growth per hour (least squares over the samples after warm-up),
and writes JSON to bench/out/soak.json (soak-smoke.json with --smoke).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.controller import fit
from bench.machine import describe, rss_kib
from bench.payloads import CONFIG_FILE, MUTATE_PATH, VALIDATE_PATH, admission_review, seed_ep
from bench.tls import write_throwaway_tls
from bench.webhook import _free_port
from controller.manager import Controller
from controller.settings import parse_seconds
from tests.apiserver import EmulatedAPIServer
from tests.controller.fleet import ep_body, seed_cluster
from tests.controller.harness import EP_API, FLUX_HR, flux_status, settings
from tronador.api.constants import EP_PLURAL

OUT = Path(__file__).resolve().parent / "out"


@dataclasses.dataclass
class Counters:
    admissions: int = 0
    admission_errors: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    flux: int = 0


# --- the webhook --------------------------------------------------------------------------------


def start_webhook(directory: Path) -> tuple[subprocess.Popen[bytes], str, ssl.SSLContext]:
    tls = write_throwaway_tls(directory)
    port = _free_port()
    argv = [
        sys.executable, "-m", "tronador", "webhook", "--address", "127.0.0.1",
        "--port", str(port), "--cert", str(tls.cert_file), "--key", str(tls.key_file),
        "--config", str(CONFIG_FILE), "--log-level", "warning",
    ]  # fmt: skip
    log = (directory / "webhook.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    return process, f"https://127.0.0.1:{port}", context


async def _load(
    url: str, context: ssl.SSLContext, stop: threading.Event, counters: Counters, workers: int
) -> None:
    bodies = []
    for index in range(16):
        ep = seed_ep()
        ep["metadata"]["name"] = f"soak-{index}"
        body = json.dumps(admission_review(ep, f"uid-{index}")).encode()
        bodies += [(MUTATE_PATH, body), (VALIDATE_PATH, body)]
    connector = aiohttp.TCPConnector(ssl=context, limit=workers)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(offset: int) -> None:
            index = offset
            while not stop.is_set():
                path, body = bodies[index % len(bodies)]
                index += 1
                try:
                    async with session.post(
                        url + path, data=body, headers={"Content-Type": "application/json"}
                    ) as answer:
                        await answer.read()
                        ok = answer.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                    await asyncio.sleep(0.1)
                counters.admissions += 1
                counters.admission_errors += 0 if ok else 1

        await asyncio.gather(*(worker(i) for i in range(workers)))


def wait_webhook(url: str, context: ssl.SSLContext, process: subprocess.Popen[bytes]) -> None:
    import urllib.request

    body = json.dumps(admission_review(seed_ep(), "ready")).encode()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the webhook exited with {process.returncode}")
        request = urllib.request.Request(
            url + VALIDATE_PATH, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the webhook did not answer within 60 s")


# --- the controller's world ---------------------------------------------------------------------


def churn(
    server: EmulatedAPIServer, stop: threading.Event, counters: Counters, live: int, rate: float
) -> None:
    """Create, update, play Flux for and delete EPs, `rate` operations a second, keeping about
    `live` EPs; trim the emulator's request log and old Events."""
    rng = random.Random(7)
    alive: list[str] = []
    serial = 0
    step = 0
    while not stop.wait(1.0 / rate):
        step += 1
        try:
            action = rng.random()
            if len(alive) < live and (action < 0.4 or not alive):
                name = f"soak-{serial}"
                serial += 1
                server.seed(ep_body(name, tag=f"v{serial}"))
                alive.append(name)
                counters.created += 1
            elif action < 0.7 and alive:
                name = rng.choice(alive)
                tag = {"tag": f"v{serial}-{step}"}
                values = {"values": {"application": {"deployment": {"image": tag}}}}
                patch = {"spec": {"application": {"release": values}}}
                server.patch(EP_API, EP_PLURAL, name, None, patch)
                counters.updated += 1
            elif action < 0.85 and alive:
                name = rng.choice(alive)
                hr = server.get(*FLUX_HR, "run-pipeline", name)
                if hr is not None:
                    generation = hr["metadata"].get("generation", 1)
                    server.set_status(*FLUX_HR, "run-pipeline", name, flux_status(generation))
                    counters.flux += 1
            elif alive:
                name = alive.pop(0)
                server.delete(EP_API, EP_PLURAL, name)
                counters.deleted += 1
        except Exception as exc:  # a race with the controller (e.g. an object just deleted)
            print(f"churn: {type(exc).__name__}: {str(exc)[:120]}", file=sys.stderr)
        if step % 50 == 0:
            server.clear_requests()
            for event in server.list("v1", "events", "default")[:-200]:
                with contextlib.suppress(Exception):
                    server.delete("v1", "events", event["metadata"]["name"], "default")


# --- sampling and report ------------------------------------------------------------------------


def growth_per_hour(samples: list[dict[str, Any]], key: str, warmup: float) -> dict[str, Any]:
    rows = [s for s in samples if s["t"] >= warmup and s.get(key)]
    line = fit([s["t"] for s in rows], [float(s[key]) for s in rows])
    if line is None:
        return {"kib_per_hour": None, "samples": len(rows)}
    return {
        "kib_per_hour": round(line["per_ep"] * 3600, 1),
        "r2": round(line["r2"], 3),
        "start_kib": rows[0][key],
        "end_kib": rows[-1][key],
        "samples": len(rows),
    }


def run(
    duration: float,
    interval: float,
    live: int,
    rate: float,
    workers: int,
    with_controller: bool = True,
) -> dict[str, Any]:
    counters = Counters()
    stop = threading.Event()
    samples: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tronador-soak-") as tmp:
        process, url, context = start_webhook(Path(tmp))
        server = EmulatedAPIServer().start()
        client = server.api_client()
        try:
            wait_webhook(url, context, process)
            seed_cluster(server)
            controller = None
            if with_controller:
                controller = Controller(
                    client, dataclasses.replace(settings(), workers=4, resync_period=30.0)
                ).start(sync_timeout=30)
            threads = [
                threading.Thread(
                    target=lambda: asyncio.run(_load(url, context, stop, counters, workers)),
                    daemon=True,
                ),
                threading.Thread(
                    target=churn, args=(server, stop, counters, live, rate), daemon=True
                ),
            ]
            for thread in threads:
                thread.start()
            started = time.monotonic()
            print(f"{'t (s)':>7} {'webhook RSS MiB':>16} {'controller RSS MiB':>19} "
                  f"{'admissions':>11} {'EPs created':>12} {'reconciles':>11}")  # fmt: skip
            while True:
                elapsed = time.monotonic() - started
                sample = {
                    "t": round(elapsed, 1),
                    "webhook_kib": rss_kib(process.pid).get("VmRSS"),
                    "controller_kib": rss_kib(os.getpid()).get("VmRSS"),
                    "admissions": counters.admissions,
                    "admission_errors": counters.admission_errors,
                    "eps_created": counters.created,
                    "eps_deleted": counters.deleted,
                    "reconciles": controller.reconciles if controller else 0,
                }
                samples.append(sample)
                print(
                    f"{sample['t']:>7.0f} {sample['webhook_kib'] / 1024:>16.1f} "
                    f"{sample['controller_kib'] / 1024:>19.1f} {sample['admissions']:>11} "
                    f"{sample['eps_created']:>12} {sample['reconciles']:>11}",
                    flush=True,
                )
                if elapsed >= duration:
                    break
                time.sleep(min(interval, max(duration - elapsed, 0.1)))
            stop.set()
            for thread in threads:
                thread.join(15)
            if controller is not None:
                controller.stop(timeout=10)
        finally:
            stop.set()
            client.close()
            server.stop()
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    warmup = min(60.0, duration / 4)
    return {
        "machine": describe(),
        "duration_s": duration,
        "interval_s": interval,
        "warmup_s": warmup,
        "live_eps": live,
        "churn_per_s": rate,
        "load_workers": workers,
        "counters": dataclasses.asdict(counters),
        "growth": {
            "webhook": growth_per_hour(samples, "webhook_kib", warmup),
            "controller": growth_per_hour(samples, "controller_kib", warmup),
        },
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--duration", type=parse_seconds, default=600.0, help="default 10m")
    parser.add_argument("--smoke", action="store_true", help="a 20 s run")
    parser.add_argument("--interval", type=parse_seconds, default=5.0, help="RSS sampling")
    parser.add_argument("--live-eps", type=int, default=40, help="EPs alive at a time")
    parser.add_argument("--churn", type=float, default=20.0, help="EP operations a second")
    parser.add_argument("--load-workers", type=int, default=8, help="concurrent admissions")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="everything but the controller: the growth of this process without it "
        "(the emulated API server and the churn), to subtract",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    duration = 20.0 if args.smoke else args.duration
    interval = min(args.interval, 2.0) if args.smoke else args.interval
    result = run(
        duration, interval, args.live_eps, args.churn, args.load_workers, not args.baseline
    )
    result["baseline"] = args.baseline
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "soak-baseline" if args.baseline else "soak"
    path = args.out / (f"{stem}-smoke.json" if args.smoke else f"{stem}.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print()
    for name, line in result["growth"].items():
        print(
            f"{name}: RSS growth {line['kib_per_hour']} KiB/hour after {result['warmup_s']:.0f} s "
            f"warm-up (r2 {line.get('r2')}; {line.get('start_kib')} -> {line.get('end_kib')} KiB)"
        )
    print(f"counters: {result['counters']}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
