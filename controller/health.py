"""The controller's HTTP endpoints, on a small threaded `http.server`: `/healthz` (the process
answers), `/readyz` (caches synced and leadership known) and `/metrics` (Prometheus text)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from controller.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)


def parse_address(address: str) -> tuple[str, int]:
    """`:8080` -> ("", 8080) (all interfaces); `127.0.0.1:0` -> a free port on loopback."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{address!r} is not an address like :8080 or 127.0.0.1:8080")
    return host.strip("[]"), int(port)


class HealthServer:
    def __init__(
        self,
        address: str,
        *,
        ready: Callable[[], bool],
        metrics: Callable[[], str],
    ) -> None:
        self.address = parse_address(address)
        self._ready = ready
        self._metrics = metrics
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        server = ThreadingHTTPServer(self.address, self._handler())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="tronador-health", daemon=True
        )
        self._thread.start()
        log.info("health and metrics endpoints serving", extra={"fields": {"port": self.port}})
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def _answer(self, path: str) -> tuple[int, str, str]:
        path = path.split("?", 1)[0]
        if path == "/healthz":
            return 200, "text/plain; charset=utf-8", "ok\n"
        if path == "/readyz":
            if self._ready():
                return 200, "text/plain; charset=utf-8", "ok\n"
            return 503, "text/plain; charset=utf-8", "not ready\n"
        if path == "/metrics":
            return 200, CONTENT_TYPE, self._metrics()
        return 404, "text/plain; charset=utf-8", "not found\n"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        answer = self._answer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    status, content_type, text = answer(self.path)
                except Exception:  # a probe must get an answer
                    log.exception("health endpoint failed", extra={"fields": {"path": self.path}})
                    status, content_type, text = 500, "text/plain", "error\n"
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("health request", extra={"fields": {"line": format % args}})

        return Handler
