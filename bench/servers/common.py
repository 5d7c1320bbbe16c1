"""Running an aiohttp application over TLS until SIGTERM/SIGINT (for the benchmark servers)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
from collections.abc import Callable

from aiohttp import web

MAX_BODY_BYTES = 3 * 1024 * 1024


def arguments(
    description: str, more: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """The servers' common options (`more` adds a server's own)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    if more is not None:
        more(parser)
    return parser.parse_args()


def server_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve_app(app: web.Application, args: argparse.Namespace) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    context = server_ssl_context(args.cert, args.key)
    site = web.TCPSite(runner, args.host, args.port, ssl_context=context)
    await site.start()
    try:
        await wait_for_signal()
    finally:
        await runner.cleanup()
