"""A bound on admission requests reading a large body: above it they wait a moment for a slot,
then get 503, unread.

A request whose body is small (up to SMALL_BODY_BYTES, what a connection buffers anyway: nearly
every AdmissionReview) or has fully arrived with its headers holds no more memory than its
connection's read buffer, and is never held back. Only a large body still arriving is read into
memory as it comes (up to 3 MiB), so only those take a slot. A client stalling large bodies can
thus delay or refuse the API server's large reviews (a slot is freed by the request deadline at
the latest), never the ordinary ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from webhook import responses, routes

log = logging.getLogger(__name__)

JSON = "application/json"
SLOT_WAIT_SECONDS = 1.0
SMALL_BODY_BYTES = 32 * 1024
LOG_EVERY_SECONDS = 10.0


def in_flight_bound(
    limit: int,
    slot_wait: float = SLOT_WAIT_SECONDS,
    on_shed: Callable[[], None] | None = None,
) -> Middleware:
    """Admission requests whose large body is still arriving hold a slot from their headers to their
    answer, waiting up to `slot_wait` seconds for one. The probes and /metrics never wait
    (refusing the kubelet's probes would restart a busy webhook). Refusals are logged at most
    every LOG_EVERY_SECONDS, with their running total; `on_shed` is called for each."""
    slots = asyncio.Semaphore(limit)
    refused = 0
    logged_at = -LOG_EVERY_SECONDS

    def unavailable() -> web.Response:
        nonlocal refused, logged_at
        refused += 1
        if on_shed is not None:
            on_shed()
        now = time.monotonic()
        if now - logged_at >= LOG_EVERY_SECONDS:
            logged_at = now
            log.warning(
                "too many large admission requests in flight: answered 503",
                extra={"fields": {"limit": limit, "refusedTotal": refused}},
            )
        code = HTTPStatus.SERVICE_UNAVAILABLE
        message = f"the webhook is reading {limit} large requests already; retry"
        return web.Response(
            status=code,
            body=responses.error_status(code, message),
            content_type=JSON,
            headers={"Retry-After": "1"},
        )

    @web.middleware
    async def bound(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _needs_slot(request):
            return await handler(request)
        try:
            async with asyncio.timeout(slot_wait):
                await slots.acquire()
        except TimeoutError:
            return unavailable()
        try:
            return await handler(request)
        finally:
            slots.release()

    return bound


def _needs_slot(request: web.Request) -> bool:
    if request.path not in routes.ADMISSION_PATHS or request.content.is_eof():
        return False
    length = request.content_length
    return length is None or length > SMALL_BODY_BYTES
