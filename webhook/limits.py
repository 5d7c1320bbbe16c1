"""How long and how much the webhook's listener gives any client: the defaults and their checks.

The API server sends a whole AdmissionReview in milliseconds and gives up after the webhook
configuration's timeoutSeconds (3 s mutating, 5 s validating). A client that takes longer to send
a request is not the API server; it is closed so that it cannot hold memory. docs/webhook.md
("Hostile clients") gives the measurements the defaults come from.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REQUEST_TIMEOUT = 2.0
"""Seconds from the connection being ready (or the first byte of a request on a kept-alive
connection) to that request's headers and body being complete."""

DEFAULT_TLS_HANDSHAKE_TIMEOUT = 3.0

DEFAULT_IDLE_TIMEOUT = 120.0
"""Seconds a kept-alive connection may sit idle between requests. Longer than the API server's own
idle timeout (90 s, Go's default), so the API server is the one to close: a server closing first can
race a request the API server is sending, which then fails."""

DEFAULT_MAX_CONNECTIONS = 300
"""Open connections, TLS handshakes included; more are closed as soon as they are accepted.
Measured (bench/slowloris.py): 45 KiB per connection holding partial headers, 136 KiB holding
all but the last byte of a 32 KiB body, the most one connection can make the webhook hold.
300 x 136 KiB = 40 MiB, plus the 73 MiB idle process and 4 large bodies in flight (12 MiB),
stays under the 128 Mi container limit (docs/webhook.md)."""

DEFAULT_MAX_REQUESTS_IN_FLIGHT = 4
"""Admission requests reading a body that did not arrive with their headers (larger than ~32
KiB), at once; more wait up to a second for a slot, then get 503 unread. Bounds the memory of
bodies (up to 3 MiB each) being read together."""


class LimitError(ValueError):
    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


@dataclass(frozen=True, slots=True)
class ServingLimits:
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    tls_handshake_timeout: float = DEFAULT_TLS_HANDSHAKE_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_requests_in_flight: int = DEFAULT_MAX_REQUESTS_IN_FLIGHT

    def __post_init__(self) -> None:
        for name in ("request_timeout", "tls_handshake_timeout", "idle_timeout"):
            if not getattr(self, name) > 0:
                raise LimitError(name, "must be a positive number of seconds")
        for name in ("max_connections", "max_requests_in_flight"):
            if getattr(self, name) < 1:
                raise LimitError(name, "must be at least 1")
