"""Soak: the webhook and the controller under steady work for a long time, their RSS sampled,
to see whether memory grows. Not a test.

    python -m bench.soak                     # 10 minutes
    python -m bench.soak --duration 30m --churn 24
    python -m bench.soak --smoke             # 20 s

- The webhook runs as `tronador webhook --config examples/tronador-config.yaml` (a subprocess,
  throwaway TLS) under a steady closed-loop load of mutate and validate AdmissionReviews from
  an aiohttp client.
- The emulated API server runs in its own process (`bench.soak_cluster`) with the churn: EPs
  created, updated (a new image tag), given a Flux status and deleted continuously, the
  emulator's request log and old Events trimmed as it goes.
- The controller runs in this process, alone, with its default settings but short backoffs:
  this process's RSS is the controller's.

Prints RSS over time and the growth per hour (least squares after warm-up, and over the second
half of the run), with the load average, and writes JSON to bench/out/soak.json
(soak-smoke.json with --smoke).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes.client import ApiClient, Configuration

from bench.controller import fit
from bench.machine import describe, rss_kib
from bench.payloads import MUTATE_PATH, VALIDATE_PATH, admission_review, seed_ep
from bench.tls import write_throwaway_tls
from bench.webhook import _free_port, webhook_argv
from controller.manager import Controller
from controller.settings import parse_seconds
from tests.controller.harness import settings

OUT = Path(__file__).resolve().parent / "out"


@dataclasses.dataclass
class Counters:
    admissions: int = 0
    admission_errors: int = 0


# --- the webhook --------------------------------------------------------------------------------


def start_webhook(directory: Path) -> tuple[subprocess.Popen[bytes], str, ssl.SSLContext]:
    tls = write_throwaway_tls(directory)
    port = _free_port()
    argv = webhook_argv(port, tls, "--log-level", "warning")
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


def start_cluster(
    directory: Path, live: int, rate: float
) -> tuple[subprocess.Popen[str], str, Path]:
    """`bench.soak_cluster` in its own process: the emulated API server and the churn."""
    counters = directory / "churn.json"
    argv = [
        sys.executable, "-m", "bench.soak_cluster", "--live-eps", str(live),
        "--churn", str(rate), "--counters", str(counters),
    ]  # fmt: skip
    log = (directory / "cluster.log").open("w")
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        raise RuntimeError(f"the emulated API server did not start (see {directory}/cluster.log)")
    return process, url, counters


def api_client(url: str) -> ApiClient:
    configuration = Configuration(host=url)
    configuration.retries = False
    return ApiClient(configuration)


def churn_counters(path: Path) -> dict[str, int]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


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


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


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
    churned: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="tronador-soak-") as tmp:
        process, url, context = start_webhook(Path(tmp))
        cluster, cluster_url, churn_file = start_cluster(Path(tmp), live, rate)
        client = api_client(cluster_url)
        controller = None
        try:
            wait_webhook(url, context, process)
            if with_controller:
                controller = Controller(
                    client, dataclasses.replace(settings(), workers=4, resync_period=30.0)
                ).start(sync_timeout=30)
            assert cluster.stdin is not None
            cluster.stdin.write("go\n")
            cluster.stdin.flush()
            load = threading.Thread(
                target=lambda: asyncio.run(_load(url, context, stop, counters, workers)),
                daemon=True,
            )
            load.start()
            started = time.monotonic()
            print(f"{'t (s)':>7} {'webhook RSS MiB':>16} {'controller RSS MiB':>19} "
                  f"{'apiserver MiB':>14} {'admissions':>11} {'EPs created':>12} "
                  f"{'reconciles':>11} {'load':>6}")  # fmt: skip
            while True:
                elapsed = time.monotonic() - started
                churned = churn_counters(churn_file)
                sample = {
                    "t": round(elapsed, 1),
                    "webhook_kib": rss_kib(process.pid).get("VmRSS"),
                    "controller_kib": rss_kib(os.getpid()).get("VmRSS"),
                    "apiserver_kib": rss_kib(cluster.pid).get("VmRSS"),
                    "admissions": counters.admissions,
                    "admission_errors": counters.admission_errors,
                    "eps_created": churned.get("created", 0),
                    "eps_deleted": churned.get("deleted", 0),
                    "reconciles": controller.reconciles if controller else 0,
                    "load_1m": load_average()[0],
                }
                samples.append(sample)
                print(
                    f"{sample['t']:>7.0f} {sample['webhook_kib'] / 1024:>16.1f} "
                    f"{sample['controller_kib'] / 1024:>19.1f} "
                    f"{(sample['apiserver_kib'] or 0) / 1024:>14.1f} {sample['admissions']:>11} "
                    f"{sample['eps_created']:>12} {sample['reconciles']:>11} "
                    f"{sample['load_1m']:>6.2f}",
                    flush=True,
                )
                if elapsed >= duration:
                    break
                time.sleep(min(interval, max(duration - elapsed, 0.1)))
            stop.set()
            load.join(15)
        finally:
            stop.set()
            if controller is not None:
                controller.stop(timeout=10)
            client.close()
            for child in (cluster, process):
                if child is cluster and cluster.stdin is not None:
                    with contextlib.suppress(OSError):
                        cluster.stdin.close()
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    child.terminate()
                    try:
                        child.wait(10)
                    except subprocess.TimeoutExpired:
                        child.kill()
            churned = churn_counters(churn_file) or churned
    warmup = min(60.0, duration / 4)
    half = duration / 2
    return {
        "machine": describe(),
        "load_average_end": load_average(),
        "duration_s": duration,
        "interval_s": interval,
        "warmup_s": warmup,
        "live_eps": live,
        "churn_per_s": rate,
        "load_workers": workers,
        "counters": {**dataclasses.asdict(counters), **churned},
        "growth": {
            "webhook": growth_per_hour(samples, "webhook_kib", warmup),
            "controller": growth_per_hour(samples, "controller_kib", warmup),
        },
        "growth_second_half": {
            "webhook": growth_per_hour(samples, "webhook_kib", half),
            "controller": growth_per_hour(samples, "controller_kib", half),
            "apiserver": growth_per_hour(samples, "apiserver_kib", half),
        },
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--duration", type=parse_seconds, default=600.0, help="default 10m")
    parser.add_argument("--smoke", action="store_true", help="a 20 s run")
    parser.add_argument("--interval", type=parse_seconds, default=5.0, help="RSS sampling")
    parser.add_argument("--live-eps", type=int, default=40, help="EPs alive at a time")
    parser.add_argument(
        "--churn", type=float, default=24.0, help="EP operations a second (~3.5 lifecycles/s)"
    )
    parser.add_argument("--load-workers", type=int, default=8, help="concurrent admissions")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    duration = 20.0 if args.smoke else args.duration
    interval = min(args.interval, 2.0) if args.smoke else args.interval
    result = run(duration, interval, args.live_eps, args.churn, args.load_workers)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / ("soak-smoke.json" if args.smoke else "soak.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print()
    for name, line in result["growth"].items():
        print(
            f"{name}: RSS growth {line['kib_per_hour']} KiB/hour after {result['warmup_s']:.0f} s "
            f"warm-up (r2 {line.get('r2')}; {line.get('start_kib')} -> {line.get('end_kib')} KiB)"
        )
    for name, line in result["growth_second_half"].items():
        print(
            f"{name}: RSS growth {line['kib_per_hour']} KiB/hour over the second half "
            f"(r2 {line.get('r2')}; {line.get('start_kib')} -> {line.get('end_kib')} KiB)"
        )
    print(f"load average at the end: {result['load_average_end']}")
    print(f"counters: {result['counters']}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
