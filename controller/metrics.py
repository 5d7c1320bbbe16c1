"""The controller's Prometheus metrics, rendered in the text format by `webhook.prometheus`
(a small generic exposition module; nothing in it is webhook-specific).

Updates come from many threads (workers, informers), so they take a lock; the gauges that
describe the present (queue depth, environments by phase, leader) are read at scrape time.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from typing import Any

from webhook.prometheus import CONTENT_TYPE, Counter, Gauge, Histogram, Registry

__all__ = ["CONTENT_TYPE", "ControllerMetrics", "phase_counts"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
NO_PHASE = "Pending"
"""The phase of an EP the controller has not reported on yet."""

RESULT_SUCCESS = "success"
RESULT_ERROR = "error"
RESULT_REQUEUE = "requeue"


def phase_counts(eps: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """EPs by `status.currentPhase` (pure)."""
    tally: Tally[str] = Tally()
    for ep in eps:
        status = ep.get("status") or {}
        phase = status.get("currentPhase") if isinstance(status, Mapping) else None
        tally[str(phase) if phase else NO_PHASE] += 1
    return dict(tally)


class ControllerMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.registry = Registry()
        register = self.registry.register
        self.reconciles = register(
            Counter(
                "tronador_controller_reconciles_total",
                "Reconciles by result (success, error, requeue).",
                ["result"],
            )
        )
        self.latency = register(
            Histogram(
                "tronador_controller_reconcile_duration_seconds",
                "Time one reconcile took.",
                [],
                LATENCY_BUCKETS,
            )
        )
        self.retries = register(
            Counter("tronador_controller_retries_total", "Reconciles requeued with backoff.")
        )
        self.api_errors = register(
            Counter(
                "tronador_controller_api_errors_total",
                "Failed API requests by HTTP status code (0: the server could not be reached).",
                ["code"],
            )
        )
        self.queue_depth = register(
            Gauge("tronador_controller_queue_depth", "EPs waiting for a worker.")
        )
        self.environments = register(
            Gauge(
                "tronador_controller_environments",
                "EnvironmentProvisioners in the cache by status.currentPhase.",
                ["phase"],
            )
        )
        self.leader = register(
            Gauge("tronador_controller_leader", "1 while this replica is the leader, else 0.")
        )
        self._phases: set[str] = set()

    def reconciled(self, result: str, seconds: float) -> None:
        with self._lock:
            self.reconciles.inc(result)
            self.latency.observe(seconds)

    def retried(self) -> None:
        with self._lock:
            self.retries.inc()

    def api_error(self, status: int) -> None:
        with self._lock:
            self.api_errors.inc(str(status))

    def render(self, *, queue_depth: int, phases: Mapping[str, int], leader: bool) -> str:
        with self._lock:
            self.queue_depth.set(queue_depth)
            for phase in self._phases - set(phases):
                self.environments.set(0, phase)  # a phase nobody is in any more reads 0
            for phase, count in phases.items():
                self.environments.set(count, phase)
            self._phases |= set(phases)
            self.leader.set(1 if leader else 0)
            return self.registry.render()
