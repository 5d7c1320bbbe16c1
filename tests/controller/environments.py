"""The docs' Environment in the emulated cluster, beside the seed EP: seeding, reading, and
playing Flux for its HelmRelease."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.controller.harness import FLUX_HR, Cluster, flux_status
from tests.seeds import example_environment

ENV_API = "tronador.stakater.com/v1alpha2"
ENV_PLURAL = "environments"
ENV_NAME = "pr-123-stakater-nordmart-inventory"
ENV_NS = ENV_NAME
ENV_RELEASE = "master"
ENV_SOURCE = "dte-master"


def create_environment(
    cluster: Cluster, mutate: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """The example as the mutating webhook leaves it (Flux v1 lacks `gitImplementation`)."""
    env = example_environment()
    del env["spec"]["application"]["gitRepository"]["gitImplementation"]
    if mutate:
        mutate(env)
    return cluster.server.seed(env)


def environment(cluster: Cluster) -> dict[str, Any] | None:
    return cluster.server.get(ENV_API, ENV_PLURAL, ENV_NAME)


def env_status(cluster: Cluster) -> dict[str, Any]:
    return (environment(cluster) or {}).get("status") or {}


def env_condition(cluster: Cluster, type_: str) -> dict[str, Any]:
    for condition in env_status(cluster).get("conditions") or []:
        if condition["type"] == type_:
            return condition  # type: ignore[no-any-return]
    return {}


def env_release(cluster: Cluster) -> dict[str, Any] | None:
    return cluster.server.get(*FLUX_HR, ENV_RELEASE, ENV_NS)


def play_flux_for_environment(cluster: Cluster, status: dict[str, Any] | None = None) -> None:
    """Set the Environment's HelmRelease status: `status`, else a successful install."""
    hr = env_release(cluster)
    assert hr is not None
    generation = hr["metadata"].get("generation", 1)
    cluster.server.set_status(
        *FLUX_HR, ENV_RELEASE, ENV_NS, status or flux_status(generation, True)
    )


def delete_environment(cluster: Cluster) -> None:
    cluster.server.delete(ENV_API, ENV_PLURAL, ENV_NAME)
