"""The metrics the webhook exposes on /metrics."""

from __future__ import annotations

from webhook.prometheus import Counter, Gauge, Histogram, Registry

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Seconds; admission answers are expected well under the 3-5 s webhook timeouts."""

UNKNOWN_OPERATION = "unknown"
"""The operation label of requests that were not a readable AdmissionReview."""


class WebhookMetrics:
    def __init__(self) -> None:
        self.registry = Registry()
        self.requests = self.registry.register(
            Counter(
                "tronador_webhook_requests_total",
                "Admission requests by route, operation and verdict "
                "(allowed, patched, denied, invalid: not an AdmissionReview, error).",
                ("route", "operation", "verdict"),
            )
        )
        self.latency = self.registry.register(
            Histogram(
                "tronador_webhook_request_duration_seconds",
                "Time from reading an admission request's body to its answer being built.",
                ("route",),
                LATENCY_BUCKETS,
            )
        )
        self.denials = self.registry.register(
            Counter(
                "tronador_webhook_denials_total",
                "Denied admission requests by route and failing rule (once per rule).",
                ("route", "rule"),
            )
        )
        self.certificate_reloads = self.registry.register(
            Counter(
                "tronador_webhook_certificate_reloads_total",
                "Attempts to load a changed serving certificate, by result.",
                ("result",),
            )
        )
        self.certificate_expiry = self.registry.register(
            Gauge(
                "tronador_webhook_certificate_expiry_timestamp_seconds",
                "When the serving certificate in use expires (Unix time).",
            )
        )

    def observe(
        self,
        route: str,
        operation: str,
        verdict: str,
        seconds: float,
        denied_rules: tuple[str, ...] = (),
    ) -> None:
        self.requests.inc(route, operation, verdict)
        self.latency.observe(seconds, route)
        for rule in dict.fromkeys(denied_rules):
            self.denials.inc(route, rule)

    def render(self) -> str:
        return self.registry.render()
