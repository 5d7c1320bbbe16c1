"""The serving certificate is swapped on disk while requests keep flowing."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.webhook.conftest import TLSFiles
from tests.webhook.helpers import (
    RunningWebhook,
    StaticPolicySource,
    client_context,
    peer_serial,
    review,
    running_webhook,
    seed_ep,
)
from tests.webhook.pki import install_pair, issue_serving_pair, make_ca, write_atomically
from tronador.api import Policy
from webhook import routes
from webhook.server import create_app
from webhook.tls import MINIMUM_TLS_VERSION, CertificateReloader, ReloadResult

WAIT_SECONDS = 10.0
"""Upper bound for conditions polled in a loop; the tests never assert on time taken."""


async def handshake_serial(webhook: RunningWebhook, context: ssl.SSLContext | None = None) -> int:
    """The serial of the certificate a brand-new connection is given."""
    _, writer = await asyncio.open_connection(
        webhook.host, webhook.port, ssl=context or webhook.ssl_context
    )
    try:
        return peer_serial(writer.get_extra_info("ssl_object"))
    finally:
        writer.close()
        await writer.wait_closed()


async def wait_for_serial(webhook: RunningWebhook, serial: int) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        while await handshake_serial(webhook) != serial:
            await asyncio.sleep(0.01)


async def test_swap_under_continuous_requests_fails_nothing(
    tls_files: TLSFiles, seed_policy: Policy
) -> None:
    second_ca = make_ca("second test CA")
    body = review("CREATE", seed_ep())
    path = routes.VALIDATE_ENVIRONMENT_PROVISIONERS
    async with running_webhook(
        StaticPolicySource(seed_policy),
        tls_files.cert,
        tls_files.key,
        tls_files.ca,
        second_ca,
        certificate_check_seconds=0.01,
    ) as webhook:
        done = asyncio.Event()
        answered: list[int] = []
        failures: list[str] = []

        async def keep_sending(session: aiohttp.ClientSession) -> None:
            while not done.is_set():
                try:
                    async with session.post(webhook.url + path, json=body) as resp:
                        answer = await resp.json()
                        if resp.status != 200 or answer["response"]["allowed"] is not True:
                            failures.append(f"{resp.status}: {answer}")
                        answered.append(resp.status)
                except (aiohttp.ClientError, OSError) as exc:
                    failures.append(repr(exc))

        fresh = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=webhook.ssl_context, force_close=True)
        )
        workers = [
            asyncio.create_task(keep_sending(webhook.session)),  # one kept-alive connection
            *(asyncio.create_task(keep_sending(fresh)) for _ in range(3)),  # new handshakes
        ]
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while len(answered) < 20:
                    await asyncio.sleep(0.01)
            assert await handshake_serial(webhook) == tls_files.serial_number

            new_pair = issue_serving_pair(second_ca)
            install_pair(new_pair, tls_files.cert, tls_files.key)
            await wait_for_serial(webhook, new_pair.serial_number)

            settled = len(answered)
            async with asyncio.timeout(WAIT_SECONDS):
                while len(answered) < settled + 20:
                    await asyncio.sleep(0.01)
        finally:
            done.set()
            await asyncio.gather(*workers)
            await fresh.close()

        assert failures == []
        only_new_ca = client_context(second_ca)
        assert await handshake_serial(webhook, only_new_ca) == new_pair.serial_number
        with pytest.raises(ssl.SSLCertVerificationError):
            await handshake_serial(webhook, client_context(tls_files.ca))


async def test_a_pair_that_fails_to_load_keeps_the_previous_one(
    tls_files: TLSFiles, seed_policy: Policy
) -> None:
    async with running_webhook(
        StaticPolicySource(seed_policy),
        tls_files.cert,
        tls_files.key,
        tls_files.ca,
        certificate_check_seconds=3600,
    ) as webhook:
        certificates = webhook.certificates
        write_atomically(tls_files.key, b"-----BEGIN PRIVATE KEY-----\nbroken\n")
        assert certificates.reload_if_changed() is ReloadResult.FAILED
        assert certificates.reload_if_changed() is ReloadResult.UNCHANGED

        other = issue_serving_pair(tls_files.ca)
        write_atomically(tls_files.key, other.key_pem)  # a key that does not match the cert
        assert certificates.reload_if_changed() is ReloadResult.FAILED

        assert await handshake_serial(webhook) == tls_files.serial_number
        answer = await webhook.post(
            routes.VALIDATE_ENVIRONMENT_PROVISIONERS, review("CREATE", seed_ep())
        )
        assert answer.response["allowed"] is True

        write_atomically(tls_files.cert, other.cert_pem)
        assert certificates.reload_if_changed() is ReloadResult.LOADED
        assert await handshake_serial(webhook) == other.serial_number


async def test_no_certificate_means_not_ready_and_no_handshake(
    tmp_path: Path, tls_files: TLSFiles
) -> None:
    cert, key = tmp_path / "later" / "tls.crt", tmp_path / "later" / "tls.key"
    async with running_webhook(
        StaticPolicySource(), cert, key, tls_files.ca, certificate_check_seconds=3600
    ) as webhook:
        assert not webhook.certificates.ready
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await handshake_serial(webhook)

        cert.parent.mkdir()
        pair = issue_serving_pair(tls_files.ca)
        install_pair(pair, cert, key)
        assert webhook.certificates.reload_if_changed() is ReloadResult.LOADED
        assert await handshake_serial(webhook) == pair.serial_number
        assert (await webhook.get(routes.READYZ)).status == 200


async def test_readyz_reports_a_missing_certificate(tmp_path: Path, aiohttp_client: Any) -> None:
    certificates = CertificateReloader(tmp_path / "none.crt", tmp_path / "none.key")
    app: web.Application = create_app(StaticPolicySource(), certificates=certificates)
    client = await aiohttp_client(app)  # plain HTTP: only the readiness logic is under test
    resp = await client.get(routes.READYZ)
    assert resp.status == 503
    assert "no serving certificate" in await resp.text()
    assert (await client.get(routes.HEALTHZ)).status == 200
    metrics = await (await client.get(routes.METRICS)).text()
    assert "\ntronador_webhook_ready 0.0\n" in metrics


async def test_tls_1_2_is_the_minimum(webhook: RunningWebhook, tls_files: TLSFiles) -> None:
    assert webhook.certificates.server_context.minimum_version == MINIMUM_TLS_VERSION
    assert ssl.TLSVersion.TLSv1_2 == MINIMUM_TLS_VERSION
    context = client_context(tls_files.ca)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    _, writer = await asyncio.open_connection(webhook.host, webhook.port, ssl=context)
    try:
        assert writer.get_extra_info("ssl_object").version() == "TLSv1.2"
    finally:
        writer.close()
        await writer.wait_closed()
