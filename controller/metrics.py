"""The controller's Prometheus metrics, with the standard client (thread-safe: workers and
informers update them from many threads). The gauges that describe the present (queue depth,
environments by phase and readiness, leader) are set from the caches at every scrape."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, generate_latest

from tronador.api.constants import ENV_KIND, EP_KIND
from tronador.metrics import CONTENT_TYPE, standard_registry

__all__ = ["CONTENT_TYPE", "ControllerMetrics", "phase_counts", "readiness"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
NO_PHASE = "Pending"
"""The phase of an EP the controller has not reported on yet."""

RESULT_SUCCESS = "success"
RESULT_ERROR = "error"
RESULT_REQUEUE = "requeue"


def _status(ep: Mapping[str, Any]) -> Mapping[str, Any]:
    status = ep.get("status")
    return status if isinstance(status, Mapping) else {}


def phase_counts(eps: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """EPs by `status.currentPhase` (pure)."""
    tally: Tally[str] = Tally()
    for ep in eps:
        phase = _status(ep).get("currentPhase")
        tally[str(phase) if phase else NO_PHASE] += 1
    return dict(tally)


def readiness(eps: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], bool]:
    """(kind, name) -> whether its Ready condition is True (pure); an object without a kind
    counts as an EP."""
    ready: dict[tuple[str, str], bool] = {}
    for ep in eps:
        metadata = ep.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if not name:
            continue
        conditions = _status(ep).get("conditions")
        kind = ep.get("kind") if isinstance(ep.get("kind"), str) else EP_KIND
        ready[(str(kind), str(name))] = any(
            isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
            for c in (conditions if isinstance(conditions, list) else [])
        )
    return ready


PROVISIONED_KINDS = (EP_KIND, ENV_KIND)
TIME_TO_READY_BUCKETS = (5, 10, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600)
"""Seconds: a chart deploys in tens of seconds to tens of minutes."""


class ControllerMetrics:
    def __init__(self) -> None:
        self._render_lock = threading.Lock()
        self.registry = standard_registry()
        registry = self.registry
        self.reconciles = Counter(
            "tronador_controller_reconciles_total",
            "Reconciles by result (success, error, requeue).",
            ["result"],
            registry=registry,
        )
        self.latency = Histogram(
            "tronador_controller_reconcile_duration_seconds",
            "Time one reconcile took.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.retries = Counter(
            "tronador_controller_retries_total",
            "Reconciles requeued with backoff.",
            registry=registry,
        )
        self.api_errors = Counter(
            "tronador_controller_api_errors_total",
            "Failed API requests by HTTP status code (0: the server could not be reached).",
            ["code"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "tronador_controller_queue_depth", "EPs waiting for a worker.", registry=registry
        )
        self.environments = Gauge(
            "tronador_controller_environments",
            "EnvironmentProvisioners in the cache by status.currentPhase.",
            ["phase"],
            registry=registry,
        )
        self.environment_ready = Gauge(
            "tronador_controller_environment_ready",
            "1 while an EnvironmentProvisioner's or Environment's Ready condition is True, else "
            "0 (one series per object in the cache).",
            ["kind", "name"],
            registry=registry,
        )
        self.leader = Gauge(
            "tronador_controller_leader",
            "1 while this replica is the leader, else 0.",
            registry=registry,
        )
        self.time_to_ready = Histogram(
            "tronador_controller_time_to_ready_seconds",
            "Seconds from an environment's creation (or its last spec change) to its Ready "
            "condition turning True, by kind.",
            ["kind"],
            buckets=TIME_TO_READY_BUCKETS,
            registry=registry,
        )
        for kind in PROVISIONED_KINDS:  # a series per kind from the start, at zero
            self.time_to_ready.labels(kind)
        self.kind_refused = Gauge(
            "tronador_controller_kind_refused",
            "1 for each kind the controller needs (TronadorConfig secrets items) whose list the "
            "API server refuses, by reason: KindNotServed (no CRD) or KindForbidden (no RBAC).",
            ["resource", "reason"],
            registry=registry,
        )
        self._phases: set[str] = set()

    def reconciled(self, result: str, seconds: float) -> None:
        self.reconciles.labels(result).inc()
        self.latency.observe(seconds)

    def became_ready(self, kind: str, seconds: float) -> None:
        self.time_to_ready.labels(kind).observe(seconds)

    def retried(self) -> None:
        self.retries.inc()

    def api_error(self, status: int) -> None:
        self.api_errors.labels(str(status)).inc()

    def sample(self, name: str, **labels: str) -> float:
        """The current value of one sample (0 when it does not exist)."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def render(
        self,
        *,
        queue_depth: int,
        environments: Iterable[Mapping[str, Any]],
        leader: bool,
        refused_kinds: Mapping[str, str] | None = None,
    ) -> str:
        """The text of /metrics, with the present gauges set from `environments` (the EPs in
        the cache). A phase nobody is in any more reads 0; a deleted EP's series goes."""
        eps = list(environments)
        phases = phase_counts(eps)
        with self._render_lock:
            self.queue_depth.set(queue_depth)
            for phase in self._phases - set(phases):
                self.environments.labels(phase).set(0)
            for phase, count in phases.items():
                self.environments.labels(phase).set(count)
            self._phases |= set(phases)
            self.environment_ready.clear()
            for (kind, name), ready in readiness(eps).items():
                self.environment_ready.labels(kind, name).set(1 if ready else 0)
            self.leader.set(1 if leader else 0)
            self.kind_refused.clear()
            for resource, reason in (refused_kinds or {}).items():
                self.kind_refused.labels(resource, reason).set(1)
            return generate_latest(self.registry).decode()
