"""The soak's cluster, in its own process: the emulated API server and the EP churn, so their
memory is never counted as the controller's.

    python -m bench.soak_cluster --live-eps 40 --churn 24 --counters FILE

Prints the server's URL on the first line of stdout, then waits for a line on stdin before it
starts the churn; it churns until stdin closes (or it is terminated), writing its counters to
`--counters` every second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import threading
from collections import Counter
from pathlib import Path

from tests.apiserver import EmulatedAPIServer
from tests.controller.fleet import ep_body, seed_cluster
from tests.controller.harness import EP_API, FLUX_HR, flux_status
from tronador.api.constants import EP_PLURAL

Counters = Counter[str]
"""created, updated, deleted, flux (statuses played), errors."""


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
                counters["created"] += 1
            elif action < 0.7 and alive:
                name = rng.choice(alive)
                tag = {"tag": f"v{serial}-{step}"}
                values = {"values": {"application": {"deployment": {"image": tag}}}}
                patch = {"spec": {"application": {"release": values}}}
                server.patch(EP_API, EP_PLURAL, name, None, patch)
                counters["updated"] += 1
            elif action < 0.85 and alive:
                name = rng.choice(alive)
                hr = server.get(*FLUX_HR, "run-pipeline", name)
                if hr is not None:
                    generation = hr["metadata"].get("generation", 1)
                    server.set_status(*FLUX_HR, "run-pipeline", name, flux_status(generation))
                    counters["flux"] += 1
            elif alive:
                name = alive.pop(0)
                server.delete(EP_API, EP_PLURAL, name)
                counters["deleted"] += 1
        except Exception as exc:  # a race with the controller (e.g. an object just deleted)
            counters["errors"] += 1
            print(f"churn: {type(exc).__name__}: {str(exc)[:120]}", file=sys.stderr)
        if step % 50 == 0:
            server.clear_requests()
            for event in server.list("v1", "events", "default")[:-200]:
                with contextlib.suppress(Exception):
                    server.delete("v1", "events", event["metadata"]["name"], "default")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak_cluster", description=__doc__)
    parser.add_argument("--live-eps", type=int, default=40)
    parser.add_argument("--churn", type=float, default=24.0)
    parser.add_argument("--counters", type=Path, required=True)
    args = parser.parse_args(argv)
    counters: Counters = Counter()
    stop = threading.Event()
    with EmulatedAPIServer() as server:
        seed_cluster(server)
        print(server.url, flush=True)
        if not sys.stdin.readline():
            return 0
        worker = threading.Thread(
            target=churn, args=(server, stop, counters, args.live_eps, args.churn), daemon=True
        )
        worker.start()
        closed = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
        while not closed.wait(1.0):
            args.counters.write_text(json.dumps(dict(counters)))
        stop.set()
        worker.join(10)
        args.counters.write_text(json.dumps(dict(counters)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
