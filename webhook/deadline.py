"""aiohttp's connection handler with a deadline for receiving each request.

aiohttp times out idle kept-alive connections, but not a request that is still arriving: a client
sending one header line every few seconds keeps its connection, and the memory behind it, forever.
Here a timer starts when the connection is ready and, on a kept-alive connection, at the first byte
of each following request; it stops when the request's headers and body are complete. When it
fires the connection is aborted (no TLS close_notify exchange to wait for).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from aiohttp.streams import StreamReader

log = logging.getLogger(__name__)


class DeadlineRequestHandler(web.RequestHandler):
    __slots__ = ("_body", "_deadline", "_on_expired", "_request_timeout")

    def __init__(
        self,
        manager: web.Server,
        *,
        request_timeout: float,
        on_expired: Callable[[], None] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(manager, **kwargs)  # type: ignore[arg-type]
        self._request_timeout = request_timeout
        self._on_expired = on_expired
        self._deadline: asyncio.TimerHandle | None = None
        self._body: StreamReader | None = None
        """The body of the last request parsed; complete once at EOF."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        queued = len(self._messages)
        body_was_arriving = self._body is not None and not self._body.is_eof()
        super().data_received(data)
        new_messages = len(self._messages) - queued
        if new_messages > 0:
            self._body = self._messages[-1][1]
        completed = new_messages > 0 or body_was_arriving
        if completed and self._body is not None and self._body.is_eof():
            self._disarm()
        elif data:
            self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._body = None
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self._loop.call_later(self._request_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        transport = self.transport
        log.debug(
            "closed a connection that did not send its request in time",
            extra={"fields": {"peer": str(self.peername), "seconds": self._request_timeout}},
        )
        if transport is not None:
            transport.abort()
        self.force_close()
        if self._on_expired is not None:
            self._on_expired()
