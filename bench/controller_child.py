"""The controller under benchmark, in its own process (so its RSS and CPU are its own and it does
not share a GIL with the emulated API server).

    python -m bench.controller_child --url http://127.0.0.1:PORT [--workers 4] [--resync 5] ...

Builds `controller.manager.Controller(api_client, Settings(...))` exactly as `tronador
controller` does (JSON logs at info to stderr), starts it, prints one JSON line of figures, then
answers stdin commands with one JSON line each: `stats`, and `stop` (stops, answers, exits).

With `--probe N` it runs no controller: it measures the emulated API server alone with N GETs
and N status PUTs from 4 client threads, and prints the rates.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

import kubernetes.client

from bench.machine import process_cpu_seconds, rss_kib
from controller.manager import Controller
from controller.settings import ReleaseFlavour, ReleaseOptions, Settings
from tronador import logs
from tronador.api.constants import EP_PLURAL, GROUP, VERSION


def _client(url: str) -> kubernetes.client.ApiClient:
    configuration = kubernetes.client.Configuration(host=url)
    configuration.retries = False
    return kubernetes.client.ApiClient(configuration)


def _stats(controller: Controller | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cpu_s": process_cpu_seconds(os.getpid()),
        "memory_kib": rss_kib(os.getpid()),
        "threads": threading.active_count(),
        "time": time.time(),
    }
    if controller is not None:
        out["reconciles"] = controller.reconciles
    return out


def probe(url: str, count: int, threads: int = 4) -> dict[str, Any]:
    """Requests/s the emulated API server answers: GET of an EP, and PUT of its status."""
    client = _client(url)
    api = kubernetes.client.CustomObjectsApi(client)
    name = "probe-ep"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "EnvironmentProvisioner",
        "metadata": {"name": name},
        "spec": {"application": {"release": {"chart": {"git": "https://example.com/a/b"}}}},
    }
    api.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, body)
    out: dict[str, Any] = {"threads": threads, "requests_per_kind": count}

    def run(kind: str) -> float:
        def work(n: int) -> None:
            for i in range(n):
                if kind == "get":
                    api.get_cluster_custom_object(GROUP, VERSION, EP_PLURAL, name)
                else:
                    api.patch_cluster_custom_object_status(
                        GROUP, VERSION, EP_PLURAL, name, {"status": {"currentPhase": str(i)}}
                    )

        workers = [threading.Thread(target=work, args=(count // threads,)) for _ in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return (count // threads * threads) / (time.perf_counter() - start)

    out["get_per_s"] = round(run("get"), 1)
    out["status_patch_per_s"] = round(run("patch"), 1)
    client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--namespace", default="tronador-system")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--resync", type=float, default=600.0)
    parser.add_argument("--flavour", default=ReleaseFlavour.FLUX_V2.value)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--probe", type=int, default=0)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.url, args.probe)), flush=True)
        return
    logs.configure(args.log_level)
    settings = Settings(
        namespace=args.namespace,
        workers=args.workers,
        resync_period=args.resync,
        release=ReleaseOptions(
            flavour=ReleaseFlavour(args.flavour),
            allow_unconfined=args.flavour == ReleaseFlavour.LEGACY.value,
        ),
    )
    controller = Controller(_client(args.url), settings)
    controller.start()
    print(json.dumps({"ready": True, **_stats(controller)}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "stats":
            print(json.dumps(_stats(controller)), flush=True)
        elif command == "stop":
            stats = _stats(controller)
            controller.stop()
            print(json.dumps(stats), flush=True)
            return


if __name__ == "__main__":
    main()
