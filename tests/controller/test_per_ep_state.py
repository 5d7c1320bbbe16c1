"""Nothing the controller keeps per EP outlives the EP: after N EPs are created, provisioned,
deleted and gone, every per-EP structure is back to its size before.

The answers to the writes that end an EP's life (the finalizer's removal, the Namespace's
delete) are made to arrive after the watch has reported the deletion (the emulator's "late"
fault), the order that on a busy cluster made the write-through put deleted objects back into
the caches for good.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from controller.manager import Controller
from tests.apiserver import EmulatedAPIServer
from tests.apiserver.faults import Fault
from tests.controller.fleet import all_provisioned, ep_body, seed_cluster
from tests.controller.harness import EP_API, FLUX_HR, flux_status, settings
from tronador.api.constants import EP_PLURAL

EPS = 12
LATE = 0.3
"""Seconds the answers are held back: the watch's DELETED events come well before them."""


def per_ep_state(controller: Controller) -> dict[str, Any]:
    """Every structure that holds something per EP, by size."""
    state: dict[str, Any] = {}
    for informer in controller.caches.informers:
        store = informer.store
        state[f"cache {informer.resource.plural}"] = (
            len(store),
            len(store.objects()),
            len(store.expectations),
        )
    state["queue"] = controller.queue.sizes()
    text = controller.render_metrics()
    state["metric series environment_ready"] = sum(
        line.startswith("tronador_controller_environment_ready{") for line in text.splitlines()
    )
    return state


def churn(server: EmulatedAPIServer, names: list[str]) -> None:
    for name in names:
        server.seed(ep_body(name))
    server.wait_for(lambda: all_provisioned(server, names), timeout=90)
    for name in names:
        hr = server.get(*FLUX_HR, "run-pipeline", name)
        assert hr is not None
        generation = hr["metadata"].get("generation", 1)
        server.set_status(*FLUX_HR, "run-pipeline", name, flux_status(generation))
    for name in names:
        server.delete(EP_API, EP_PLURAL, name)
    server.wait_for(
        lambda: all(
            server.get(EP_API, EP_PLURAL, n) is None and server.get("v1", "namespaces", n) is None
            for n in names
        ),
        timeout=90,
    )


def test_no_per_ep_state_outlives_its_ep(apiserver: EmulatedAPIServer) -> None:
    seed_cluster(apiserver)
    client = apiserver.api_client()
    controller = Controller(client, dataclasses.replace(settings(), workers=4)).start(10)
    try:
        apiserver.wait_for(lambda: controller.queue.pending == 0)
        before = per_ep_state(controller)
        for verb, path in (
            ("update", rf"/{EP_PLURAL}/[^/]+$"),
            ("delete", r"/api/v1/namespaces/[^/]+$"),
        ):
            apiserver.faults.add(
                Fault(kind="late", verb=verb, path_regex=path, delay=LATE, times=None)
            )
        churn(apiserver, [f"churn-{index}" for index in range(EPS)])
        apiserver.wait_for(lambda: controller.queue.pending == 0, timeout=10)
        with contextlib.suppress(TimeoutError):
            apiserver.wait_for(lambda: per_ep_state(controller) == before, timeout=5)
        assert per_ep_state(controller) == before
    finally:
        controller.stop(timeout=5)
        client.close()
