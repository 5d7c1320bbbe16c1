"""The metrics the webhook exposes on /metrics, with the standard Prometheus client.

Each WebhookMetrics has its own registry (tests run several webhooks in one process), with the
process (RSS, CPU, open fds), platform and GC collectors on it. The gauges that describe the
present (certificate expiry, last policy sync) are set by the server or read at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tronador.metrics import CONTENT_TYPE, standard_registry
from webhook.listener import ConnectionCount

__all__ = ["CONTENT_TYPE", "UNKNOWN_OPERATION", "WebhookMetrics"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Seconds; admission answers are expected well under the 3-5 s webhook timeouts."""

UNKNOWN_OPERATION = "unknown"
"""The operation label of requests that were not a readable AdmissionReview."""


class WebhookMetrics:
    def __init__(self) -> None:
        self.registry = standard_registry()
        registry = self.registry
        self.requests = Counter(
            "tronador_webhook_requests_total",
            "Admission requests by route, operation and verdict "
            "(allowed, patched, denied, invalid: not an AdmissionReview, error).",
            ("route", "operation", "verdict"),
            registry=registry,
        )
        self.latency = Histogram(
            "tronador_webhook_request_duration_seconds",
            "Time from reading an admission request's body to its answer being built.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.denials = Counter(
            "tronador_webhook_denials_total",
            "Denied admission requests by route and failing rule (once per rule).",
            ("route", "rule"),
            registry=registry,
        )
        self.certificate_reloads = Counter(
            "tronador_webhook_certificate_reloads_total",
            "Attempts to load a changed serving certificate, by result.",
            ("result",),
            registry=registry,
        )
        self.certificate_expiry = Gauge(
            "tronador_webhook_certificate_expiry_timestamp_seconds",
            "When the serving certificate in use expires (Unix time).",
            registry=registry,
        )
        self.ca_expiry = Gauge(
            "tronador_webhook_ca_expiry_timestamp_seconds",
            "When the CA (in ca.crt next to the serving certificate) that issued the serving "
            "certificate expires (Unix time; 0: no ca.crt naming it).",
            registry=registry,
        )
        self.ready = Gauge(
            "tronador_webhook_ready",
            "1 while /readyz answers 200 (a serving certificate and a policy are loaded), else 0.",
            registry=registry,
        )
        self.policy_last_sync = Gauge(
            "tronador_webhook_policy_last_sync_timestamp_seconds",
            "When the webhook last confirmed that its policy is the TronadorConfig's (Unix time; "
            "0: never).",
            registry=registry,
        )
        self.requests_shed = Counter(
            "tronador_webhook_requests_shed_total",
            "Admission requests with a large body still arriving answered 503 unread, because "
            "--max-requests-in-flight such requests were being read.",
            registry=registry,
        )
        self.connection_limit = Gauge(
            "tronador_webhook_connections_limit",
            "--max-connections: open connections above which new ones are closed at accept.",
            registry=registry,
        )
        self.connections = ConnectionCount()
        """Kept by the listener; read at every scrape."""
        registry.register(_ConnectionCollector(self.connections))
        self._request_counters: dict[tuple[str, str, str], Counter] = {}
        self._latency_histograms: dict[str, Histogram] = {}
        self._denial_counters: dict[tuple[str, str], Counter] = {}

    # `labels()` validates its arguments on every call; the children of the label sets seen
    # are kept (a few dozen), which makes counting an admission about twice as fast.
    def observe(
        self,
        route: str,
        operation: str,
        verdict: str,
        seconds: float,
        denied_rules: tuple[str, ...] = (),
    ) -> None:
        key = (route, operation, verdict)
        counter = self._request_counters.get(key)
        if counter is None:
            counter = self._request_counters[key] = self.requests.labels(*key)
        counter.inc()
        histogram = self._latency_histograms.get(route)
        if histogram is None:
            histogram = self._latency_histograms[route] = self.latency.labels(route)
        histogram.observe(seconds)
        for rule in dict.fromkeys(denied_rules):
            denials = self._denial_counters.get((route, rule))
            if denials is None:
                denials = self._denial_counters[route, rule] = self.denials.labels(route, rule)
            denials.inc()

    def read_readiness_from(self, ready: Callable[[], bool]) -> None:
        """Read readiness (as /readyz answers it) from `ready` at every scrape."""
        self.ready.set_function(lambda: 1.0 if ready() else 0.0)

    def read_policy_sync_from(self, last_sync: Callable[[], float | None]) -> None:
        """Read the policy's last sync time from `last_sync` at every scrape."""
        self.policy_last_sync.set_function(lambda: last_sync() or 0.0)

    def sample(self, name: str, **labels: str) -> float:
        """The current value of one sample (0 when it does not exist)."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ConnectionCollector(Collector):
    """The listener's connection counts, read at scrape time: counting in the listener stays
    plain integer arithmetic on every accept and close."""

    def __init__(self, count: ConnectionCount) -> None:
        self._count = count

    def collect(self) -> Iterator[Metric]:
        count = self._count
        yield GaugeMetricFamily(
            "tronador_webhook_connections_open",
            "Open client connections, TLS handshakes included.",
            value=count.open,
        )
        yield CounterMetricFamily(
            "tronador_webhook_connections_refused",
            "Connections closed as soon as accepted because --max-connections were open.",
            value=count.refused,
        )
        yield CounterMetricFamily(
            "tronador_webhook_connections_timed_out",
            "Connections closed because a request's headers and body did not arrive within "
            "--request-timeout.",
            value=count.timed_out,
        )
