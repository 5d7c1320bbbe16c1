"""The webhook's TLS listener: a bound on open connections, a TLS handshake timeout, a small TLS
read buffer, and the request deadline of `webhook.deadline` on every connection.

asyncio's own TLS server counts nothing and gives each connection a 256 KiB read buffer (its
`SSLProtocol.max_size`), written through at once: about 265 KiB of RSS per open connection,
measured, against a 128 Mi container. So the listener accepts plain TCP and wraps each connection
in an `SSLProtocol` it builds itself, with a 16 KiB buffer (one TLS record), and counts connections
from accept (TLS handshakes included) to close. Above `max_connections` a new connection is closed
as soon as it is accepted, before any TLS work.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from asyncio import sslproto
from collections import deque
from collections.abc import Callable

from aiohttp import web
from yarl import URL

from webhook.deadline import DeadlineRequestHandler
from webhook.limits import ServingLimits

log = logging.getLogger(__name__)

TLS_READ_BUFFER_BYTES = 16 * 1024 + 256
"""A full TLS record with its header; asyncio's default is 256 KiB per connection."""

TLS_BUFFERED_BYTES = 32 * 1024
"""Received TLS data buffered while the request handler is not reading (asyncio's default: 256
KiB), e.g. the body of a request waiting for the in-flight bound."""

REQUEST_BUFFERED_BYTES = 16 * 1024
"""aiohttp's read buffer for a request body not yet read (it pauses reading at twice this;
its default is 64 KiB)."""

TLS_SHUTDOWN_TIMEOUT = 2.0
"""Seconds a closing connection waits for the client's TLS close_notify (asyncio's default: 30)."""

BACKLOG = 512

HANDSHAKE_BUDGET_SECONDS = 0.002
"""Time given to TLS handshakes per event loop iteration (one handshake costs ~0.5-1 ms)."""


class _HandshakeQueue:
    """New connections' TLS handshake steps, run a few per event loop iteration, in arrival
    order. A burst of new connections (their key exchanges are the costly part of a flood) then
    waits its turn instead of holding up, for a whole iteration, the requests arriving on
    established connections: the API server's kept-alive ones. Handshakes that wait too long
    hit the handshake timeout and are dropped."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: deque[_ServerTLSProtocol] = deque()
        self._scheduled = False

    def add(self, protocol: _ServerTLSProtocol) -> None:
        self._waiting.append(protocol)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        started = time.perf_counter()
        while self._waiting and time.perf_counter() - started < HANDSHAKE_BUDGET_SECONDS:
            self._waiting.popleft().continue_handshake()
        if self._waiting:
            self._scheduled = True
            self._loop.call_soon(self._run)


class _ServerTLSProtocol(sslproto.SSLProtocol):
    """asyncio's TLS protocol with small buffers, its handshake steps queued, and a callback
    when the connection is gone (whether or not its handshake finished)."""

    max_size = TLS_READ_BUFFER_BYTES

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        app_protocol: asyncio.BaseProtocol,
        context: ssl.SSLContext,
        *,
        handshake_timeout: float,
        handshakes: _HandshakeQueue,
        on_lost: Callable[[], None],
    ) -> None:
        super().__init__(
            loop,
            app_protocol,
            context,
            None,
            server_side=True,
            ssl_handshake_timeout=handshake_timeout,
            ssl_shutdown_timeout=TLS_SHUTDOWN_TIMEOUT,
        )
        self._set_read_buffer_limits(high=TLS_BUFFERED_BYTES)
        self._handshakes = handshakes
        self._handshake_queued = False
        self._on_lost: Callable[[], None] | None = on_lost

    def buffer_updated(self, nbytes: int) -> None:
        if self._state is not sslproto.SSLProtocolState.DO_HANDSHAKE:
            super().buffer_updated(nbytes)
            return
        self._incoming.write(self._ssl_buffer_view[:nbytes])
        self._control_ssl_reading()  # what follows the client's Finished waits in the socket
        if not self._handshake_queued:
            self._handshake_queued = True
            self._handshakes.add(self)

    def continue_handshake(self) -> None:
        self._handshake_queued = False
        if self._state is sslproto.SSLProtocolState.DO_HANDSHAKE:
            self._do_handshake()

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        if self._on_lost is not None:
            self._on_lost()
            self._on_lost = None


class _Refused(asyncio.Protocol):
    """A connection over the bound: closed as soon as it is accepted."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class ConnectionCount:
    """Open connections, with the peak since `reset_peak`, the number refused at accept and
    the number closed by the request deadline (read by /metrics at every scrape)."""

    def __init__(self) -> None:
        self.open = 0
        self.peak = 0
        self.refused = 0
        self.timed_out = 0

    def note_timed_out(self) -> None:
        self.timed_out += 1

    def reset_peak(self) -> None:
        self.peak = self.open


class GuardedTLSSite(web.BaseSite):
    """Like aiohttp's TCPSite with TLS, under `limits`. `on_connection_closed` is called after
    every close, with the counts (the process uses it to give memory back after a burst).
    Reaching the bound is logged once, and the end of it once the open connections are down to
    half the bound, so a flood does not flood the log too."""

    __slots__ = (
        "_handshakes",
        "_host",
        "_limits",
        "_on_closed",
        "_port",
        "_refusing",
        "_tls",
        "count",
    )

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext,
        limits: ServingLimits,
        on_connection_closed: Callable[[ConnectionCount], None] | None = None,
        count: ConnectionCount | None = None,
    ) -> None:
        super().__init__(runner, backlog=BACKLOG)
        self._host = host
        self._port = port
        self._tls = ssl_context
        self._limits = limits
        self._on_closed = on_connection_closed
        self._refusing = False
        self._handshakes: _HandshakeQueue | None = None
        self.count = count or ConnectionCount()

    @property
    def name(self) -> str:
        return str(URL.build(scheme="https", host=self._host, port=self._port))

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._handshakes = _HandshakeQueue(loop)
        self._server = await loop.create_server(
            self._new_connection, self._host, self._port, backlog=self._backlog
        )

    def _new_connection(self) -> asyncio.BaseProtocol:
        count = self.count
        if count.open >= self._limits.max_connections:
            count.refused += 1
            if not self._refusing:
                self._refusing = True
                log.warning(
                    "connection limit reached: closing new connections",
                    extra={"fields": {"maxConnections": self._limits.max_connections}},
                )
            return _Refused()
        count.open += 1
        count.peak = max(count.peak, count.open)
        server = self._runner.server
        assert server is not None and self._handshakes is not None
        loop = asyncio.get_running_loop()
        handler = DeadlineRequestHandler(
            server,
            loop=loop,
            request_timeout=self._limits.request_timeout,
            keepalive_timeout=self._limits.idle_timeout,
            read_bufsize=REQUEST_BUFFERED_BYTES,
            lingering_time=0,
            access_log=None,
            on_expired=count.note_timed_out,
        )
        return _ServerTLSProtocol(
            loop,
            handler,
            self._tls,
            handshake_timeout=self._limits.tls_handshake_timeout,
            handshakes=self._handshakes,
            on_lost=self._connection_closed,
        )

    def _connection_closed(self) -> None:
        count = self.count
        count.open -= 1
        if self._refusing and count.open <= self._limits.max_connections // 2:
            self._refusing = False
            log.warning(
                "accepting connections again",
                extra={"fields": {"open": count.open, "refusedTotal": count.refused}},
            )
        if self._on_closed is not None:
            self._on_closed(count)
