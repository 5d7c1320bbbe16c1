"""Shared helpers for the certs tests: fixed clocks and a real TLS handshake."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def client_context(ca_pem: bytes) -> ssl.SSLContext:
    """Trusts ONLY the given CA bundle and checks the hostname."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    return ctx


async def https_get(
    cert_file: Path,
    key_file: Path,
    ca_pem: bytes,
    server_hostname: str | None = None,
) -> str:
    """Serve one aiohttp app over TLS on 127.0.0.1 and GET it through a verifying client."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="hello over tls")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"https://127.0.0.1:{port}/",
                ssl=client_context(ca_pem),
                server_hostname=server_hostname,
            ) as resp,
        ):
            return await resp.text()
    finally:
        await runner.cleanup()
