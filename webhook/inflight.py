"""A bound on admission requests in flight: above it, 503 at once, before the body is read."""

from __future__ import annotations

import logging
import time
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from webhook import responses, routes

log = logging.getLogger(__name__)

JSON = "application/json"
LOG_EVERY_SECONDS = 10.0


def in_flight_bound(limit: int) -> Middleware:
    """Counts admission requests from their headers to their answer; the probes and /metrics are
    not counted (refusing the kubelet's probes would restart a busy webhook). Refusals are logged
    at most every LOG_EVERY_SECONDS, with their running total."""
    in_flight = 0
    refused = 0
    logged_at = -LOG_EVERY_SECONDS

    @web.middleware
    async def bound(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_flight, refused, logged_at
        if request.path not in routes.ADMISSION_PATHS:
            return await handler(request)
        if in_flight >= limit:
            refused += 1
            now = time.monotonic()
            if now - logged_at >= LOG_EVERY_SECONDS:
                logged_at = now
                log.warning(
                    "too many admission requests in flight: answered 503",
                    extra={"fields": {"limit": limit, "refusedTotal": refused}},
                )
            code = HTTPStatus.SERVICE_UNAVAILABLE
            message = f"the webhook is answering {limit} requests already; retry"
            return web.Response(
                status=code,
                body=responses.error_status(code, message),
                content_type=JSON,
                headers={"Retry-After": "1"},
            )
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    return bound
