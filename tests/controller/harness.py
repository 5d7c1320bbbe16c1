"""Running the controller in-process against the emulated API server, and playing Flux."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from controller.desired import ownership_labels
from controller.manager import Controller
from controller.settings import ReleaseFlavour, ReleaseOptions, Settings
from tests.apiserver import EmulatedAPIServer
from tests.controller.helpers import seed_config_dict, seed_ep_dict
from tronador.api.constants import OWNER_UID_ANNOTATION

T = TypeVar("T")

EP_API = "tronador.stakater.com/v1alpha1"
EP_NAME = "stakater-nordmart-inventory-74"
NS = EP_NAME
RELEASE = "run-pipeline"
SYSTEM_NS = "tronador-system"
LEGACY_HR = ("helm.fluxcd.io/v1", "helmreleases")
FLUX_HR = ("helm.toolkit.fluxcd.io/v2", "helmreleases")
GIT_REPO = ("source.toolkit.fluxcd.io/v1", "gitrepositories")

FAST = Settings(
    namespace=SYSTEM_NS,
    workers=2,
    resync_period=60.0,
    deletion_timeout=30.0,
    deletion_poll=0.05,
    backoff_base=0.02,
    backoff_max=0.3,
    watch_timeout=5.0,
    request_timeout=5.0,
)
"""Short backoffs and polls so scenarios run in well under a second each."""


def settings(flavour: ReleaseFlavour = ReleaseFlavour.FLUX_V2, **changes: Any) -> Settings:
    return dataclasses.replace(
        FAST,
        release=ReleaseOptions(flavour=flavour, allow_unconfined=flavour is ReleaseFlavour.LEGACY),
        **changes,
    )


def hr_kind(flavour: ReleaseFlavour) -> tuple[str, str]:
    return LEGACY_HR if flavour is ReleaseFlavour.LEGACY else FLUX_HR


class Cluster:
    """An emulated cluster with the system namespace and the seed TronadorConfig, and the
    controllers started on it (stopped at the end of the test)."""

    def __init__(self, server: EmulatedAPIServer) -> None:
        self.server = server
        self.controllers: list[Controller] = []
        self.clients: list[Any] = []
        server.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}})

    def seed_config(self, mutate: Callable[[dict[str, Any]], None] | None = None) -> None:
        config = copy.deepcopy(seed_config_dict())
        if mutate:
            mutate(config)
        self.server.seed(config)

    def create_ep(self, mutate: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        ep = seed_ep_dict()
        if mutate:
            mutate(ep)
        return self.server.seed(ep)

    def seed_namespace_of(self, ep: dict[str, Any]) -> dict[str, Any]:
        """The EP's namespace as the controller's claim leaves it: our ownership labels and the
        EP's UID (a namespace without that UID is never the EP's)."""
        name = ep["metadata"]["name"]
        return self.server.seed(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "labels": ownership_labels(name),
                    "annotations": {OWNER_UID_ANNOTATION: ep["metadata"]["uid"]},
                },
            }
        )

    def start(self, settings_: Settings) -> Controller:
        client = self.server.api_client()
        self.clients.append(client)
        controller = Controller(client, settings_).start(sync_timeout=10)
        self.controllers.append(controller)
        return controller

    def stop_all(self) -> None:
        for controller in self.controllers:
            controller.stop(timeout=5)
        for client in self.clients:
            client.close()
        self.controllers.clear()
        self.clients.clear()

    # -- reading -----------------------------------------------------------------------------

    def ep(self) -> dict[str, Any] | None:
        return self.server.get(EP_API, "environmentprovisioners", EP_NAME)

    def status(self) -> dict[str, Any]:
        return (self.ep() or {}).get("status") or {}

    def condition(self, type_: str) -> dict[str, Any]:
        for condition in self.status().get("conditions") or []:
            if condition["type"] == type_:
                return condition  # type: ignore[no-any-return]
        return {}

    def release(self, flavour: ReleaseFlavour) -> dict[str, Any] | None:
        return self.server.get(*hr_kind(flavour), RELEASE, NS)

    def events(self) -> list[tuple[str, str, str]]:
        return [
            (e["type"], e["reason"], e["message"])
            for e in self.server.list("v1", "events", "default")
            if e["involvedObject"]["name"] == EP_NAME
        ]

    def wait(self, predicate: Callable[[], T], timeout: float = 30.0) -> T:
        return self.server.wait_for(predicate, timeout=timeout)

    def wait_settled(self, controller: Controller, timeout: float = 30.0) -> None:
        """Until the queue is empty and nothing is in process."""
        self.wait(lambda: controller.queue.pending == 0, timeout)

    # -- playing Flux ------------------------------------------------------------------------

    def play_flux(self, flavour: ReleaseFlavour, *, success: bool = True) -> None:
        hr = self.release(flavour)
        assert hr is not None
        generation = hr["metadata"].get("generation", 1)
        status = (
            legacy_status(generation, success)
            if flavour is ReleaseFlavour.LEGACY
            else flux_status(generation, success)
        )
        self.server.set_status(*hr_kind(flavour), RELEASE, NS, status)


SUCCESS_MESSAGE = f"Release was successful for Helm release '{RELEASE}' in '{NS}'."


def legacy_status(generation: int, success: bool = True) -> dict[str, Any]:
    """The HelmRelease status of the workflow guide (or its failed twin)."""
    if not success:
        return {
            "observedGeneration": generation,
            "phase": "DeployFailed",
            "releaseName": RELEASE,
            "releaseStatus": "failed",
            "conditions": [
                {
                    "type": "Deployed",
                    "status": "False",
                    "reason": "DeployFailed",
                    "message": f"Installation or upgrade failed for Helm release '{RELEASE}' in "
                    f"'{NS}'.",
                    "lastTransitionTime": "2022-03-21T11:46:40Z",
                    "lastUpdateTime": "2022-03-21T11:46:40Z",
                }
            ],
        }
    return {
        "conditions": [
            {
                "lastTransitionTime": "2022-03-21T11:46:19Z",
                "lastUpdateTime": "2022-03-21T11:46:19Z",
                "message": f"Chart fetch failed for Helm release '{RELEASE}' in '{NS}'.",
                "reason": "ChartFetchFailed",
                "status": "False",
                "type": "ChartFetched",
            },
            {
                "lastTransitionTime": "2022-03-21T11:46:40Z",
                "lastUpdateTime": "2022-03-21T11:46:40Z",
                "message": "Installation or upgrade succeeded for Helm release "
                f"'{RELEASE}' in '{NS}'.",
                "reason": "Deployed",
                "status": "True",
                "type": "Deployed",
            },
            {
                "lastTransitionTime": "2022-03-21T11:46:40Z",
                "lastUpdateTime": "2022-03-21T11:48:01Z",
                "message": SUCCESS_MESSAGE,
                "reason": "Succeeded",
                "status": "True",
                "type": "Released",
            },
        ],
        "lastAttemptedRevision": "6f50ff2ff844f5f7c2b6627e3d7319e4717ac847",
        "observedGeneration": generation,
        "phase": "Succeeded",
        "releaseName": RELEASE,
        "releaseStatus": "deployed",
        "revision": "6f50ff2ff844f5f7c2b6627e3d7319e4717ac847",
    }


def flux_status(generation: int, success: bool = True) -> dict[str, Any]:
    """A helm-controller v2 status after an install."""
    if success:
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "InstallSucceeded",
            "message": f"Helm install succeeded for release {NS}/{RELEASE}.v1 with chart "
            "inventory@1.0.0",
        }
        history_status = "deployed"
    else:
        ready = {
            "type": "Ready",
            "status": "False",
            "reason": "InstallFailed",
            "message": f"Helm install failed for release {NS}/{RELEASE} with chart "
            "inventory@1.0.0: context deadline exceeded",
        }
        history_status = "failed"
    ready["lastTransitionTime"] = "2026-01-01T00:00:00Z"
    return {
        "observedGeneration": generation,
        "conditions": [ready],
        "history": [
            {
                "name": RELEASE,
                "namespace": NS,
                "version": 1,
                "status": history_status,
                "chartName": "inventory",
                "chartVersion": "1.0.0",
                "configDigest": "sha256:0",
                "digest": "sha256:0",
                "firstDeployed": "2026-01-01T00:00:00Z",
                "lastDeployed": "2026-01-01T00:00:00Z",
            }
        ],
    }


def iter_writes(server: EmulatedAPIServer) -> Iterator[tuple[str, str | None, str | None]]:
    for request in server.writes():
        yield request.verb, request.plural, request.name
