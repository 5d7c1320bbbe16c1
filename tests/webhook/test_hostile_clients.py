"""`tronador webhook` under hostile clients, as a process on 127.0.0.1: slow requests are closed
by the request deadline while reviews keep being answered, connections above the bound are closed
at once, requests above the in-flight bound get 503. Timings are checked with wide margins only;
memory is measured by `python -m bench slowloris`, not here."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.webhook.conftest import TLSFiles
from tests.webhook.helpers import EXAMPLES, REPO_ROOT, client_context, review, seed_ep
from webhook import routes

START_TIMEOUT = 30
REQUEST_TIMEOUT = 1.0
MARGIN = 5.0
"""Seconds a close may come after the deadline on a loaded machine."""
SLOW_CONNECTIONS = 300


@dataclass
class Webhook:
    process: subprocess.Popen[bytes]
    port: int
    context: ssl.SSLContext
    log: Path

    def logged(self) -> list[dict[str, object]]:
        out = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


def _start(tls_files: TLSFiles, tmp_path: Path, *flags: str) -> Iterator[Webhook]:
    log = tmp_path / "webhook.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "tronador", "webhook",
                "--config", str(EXAMPLES / "tronador-config.yaml"),
                "--cert", str(tls_files.cert), "--key", str(tls_files.key),
                "--address", "127.0.0.1", "--port", "0", "--log-format", "json", *flags,
            ],
            cwd=REPO_ROOT,
            stderr=sink,
        )  # fmt: skip
    webhook = Webhook(process, 0, client_context(tls_files.ca), log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not webhook.port:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the webhook did not start listening"
            ports = [e["port"] for e in webhook.logged() if e.get("msg") == "listening"]
            webhook.port = int(ports[0]) if ports else 0  # type: ignore[call-overload]
            time.sleep(0.05)
        yield webhook
    finally:
        process.kill()
        process.wait(START_TIMEOUT)


@pytest.fixture
def deadline_webhook(tls_files: TLSFiles, tmp_path: Path) -> Iterator[Webhook]:
    yield from _start(
        tls_files, tmp_path, "--request-timeout", str(REQUEST_TIMEOUT), "--max-connections", "5000"
    )


@pytest.fixture
def bounded_webhook(tls_files: TLSFiles, tmp_path: Path) -> Iterator[Webhook]:
    yield from _start(
        tls_files,
        tmp_path,
        "--request-timeout", "60",
        "--max-connections", "40",
        "--max-requests-in-flight", "2",
    )  # fmt: skip


REVIEW = json.dumps(review("CREATE", seed_ep(), uid="legit")).encode()
SLOW_START = f"POST {routes.VALIDATE_ENVIRONMENT_PROVISIONERS} HTTP/1.1\r\nHost: x\r\n".encode()


def request_bytes(
    body: bytes = REVIEW, path: str = routes.MUTATE_ENVIRONMENT_PROVISIONERS
) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_status(reader: asyncio.StreamReader) -> int:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), MARGIN)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), within) == b""
    except TimeoutError:  # before OSError, of which it is a subclass
        return False
    except (OSError, ssl.SSLError):
        return True


async def connect(webhook: Webhook) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", webhook.port, ssl=webhook.context), MARGIN
    )


@dataclass
class SlowOutcome:
    closed_after: list[float] = field(default_factory=list)
    still_open: int = 0
    refused: int = 0


async def slow_client(webhook: Webhook, gate: asyncio.Semaphore, outcome: SlowOutcome) -> None:
    """A request line and a header, then one more header every 0.3 s until the server closes."""
    async with gate:
        try:
            reader, writer = await connect(webhook)
        except (OSError, ssl.SSLError, TimeoutError):
            outcome.refused += 1
            return
    opened = time.monotonic()
    try:
        writer.write(SLOW_START)
        for sent in range(int((REQUEST_TIMEOUT + MARGIN) / 0.3)):
            if await closed_by_server(reader, 0.3):
                outcome.closed_after.append(time.monotonic() - opened)
                return
            writer.write(f"X-Slow-{sent}: a\r\n".encode())
        outcome.still_open += 1
    except (OSError, ssl.SSLError):
        outcome.closed_after.append(time.monotonic() - opened)
    finally:
        writer.transport.abort()


async def scraped(webhook: Webhook) -> dict[str, float]:
    """The webhook's /metrics samples by name (for series without labels)."""
    reader, writer = await connect(webhook)
    try:
        writer.write(f"GET {routes.METRICS} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), MARGIN)
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        text = (await reader.readexactly(length)).decode()
    finally:
        writer.transport.abort()
    samples = (line.rsplit(" ", 1) for line in text.splitlines() if line[:1] not in ("", "#"))
    return {name: float(value) for name, value in samples}


async def legit_reviews(webhook: Webhook, stop: asyncio.Event) -> list[int]:
    """Reviews over one kept-alive connection, as the API server sends them."""
    statuses = []
    connector = aiohttp.TCPConnector(ssl=webhook.context, limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        url = f"https://127.0.0.1:{webhook.port}{routes.MUTATE_ENVIRONMENT_PROVISIONERS}"
        while not stop.is_set():
            async with session.post(
                url, data=REVIEW, headers={"Content-Type": "application/json"}
            ) as answer:
                body = await answer.json()
                assert body["response"]["allowed"] is True
                statuses.append(answer.status)
            await asyncio.sleep(0.05)
    return statuses


async def test_slow_clients_are_closed_by_the_deadline_while_reviews_are_answered(
    deadline_webhook: Webhook,
) -> None:
    outcome = SlowOutcome()
    stop = asyncio.Event()
    legit = asyncio.create_task(legit_reviews(deadline_webhook, stop))
    gate = asyncio.Semaphore(50)
    await asyncio.gather(
        *(slow_client(deadline_webhook, gate, outcome) for _ in range(SLOW_CONNECTIONS))
    )
    stop.set()
    statuses = await legit

    assert outcome.refused == 0 and outcome.still_open == 0
    assert len(outcome.closed_after) == SLOW_CONNECTIONS
    assert min(outcome.closed_after) > REQUEST_TIMEOUT / 2
    assert max(outcome.closed_after) < REQUEST_TIMEOUT + MARGIN
    assert len(statuses) >= 5 and set(statuses) == {200}
    assert deadline_webhook.process.poll() is None
    metrics = await scraped(deadline_webhook)
    assert metrics["tronador_webhook_connections_timed_out_total"] == SLOW_CONNECTIONS
    assert metrics["tronador_webhook_connections_refused_total"] == 0


async def test_the_deadline_covers_receiving_a_request_not_an_idle_kept_alive_connection(
    deadline_webhook: Webhook,
) -> None:
    reader, writer = await connect(deadline_webhook)
    try:
        request = request_bytes()
        # Sent in three pieces within the deadline: answered.
        for piece in (request[:20], request[20:200], request[200:]):
            writer.write(piece)
            await asyncio.sleep(REQUEST_TIMEOUT / 5)
        assert await read_status(reader) == 200
        # Idle for longer than the deadline: the connection is kept.
        assert not await closed_by_server(reader, REQUEST_TIMEOUT * 1.5)
        writer.write(request)
        assert await read_status(reader) == 200
        # A body that stops halfway: closed, although its headers were complete.
        writer.write(request[:-10])
        assert await closed_by_server(reader, REQUEST_TIMEOUT + MARGIN)
    finally:
        writer.transport.abort()


async def test_a_connection_that_sends_nothing_is_closed_by_the_deadline(
    deadline_webhook: Webhook,
) -> None:
    reader, writer = await connect(deadline_webhook)
    started = time.monotonic()
    try:
        assert await closed_by_server(reader, REQUEST_TIMEOUT + MARGIN)
        assert time.monotonic() - started > REQUEST_TIMEOUT / 2
    finally:
        writer.transport.abort()


async def test_connections_above_the_bound_are_closed_at_once_and_the_bound_frees_up(
    bounded_webhook: Webhook,
) -> None:
    held = []
    refused = 0
    for _ in range(60):
        try:
            held.append(await connect(bounded_webhook))
        except (OSError, ssl.SSLError, TimeoutError):
            refused += 1
    assert len(held) == 40 and refused == 20
    for reader, _ in held:
        assert not await closed_by_server(reader, 0.01)
    for _, writer in held:
        writer.transport.abort()

    deadline = time.monotonic() + MARGIN
    while True:
        try:
            reader, writer = await connect(bounded_webhook)
            break
        except (OSError, ssl.SSLError, TimeoutError):
            assert time.monotonic() < deadline, "the bound did not free up"
            await asyncio.sleep(0.1)
    try:
        writer.write(request_bytes())
        assert await read_status(reader) == 200
    finally:
        writer.transport.abort()
    messages = [e.get("msg") for e in bounded_webhook.logged()]
    assert "connection limit reached: closing new connections" in messages
    metrics = await scraped(bounded_webhook)
    assert metrics["tronador_webhook_connections_refused_total"] >= 20
    assert metrics["tronador_webhook_connections_limit"] == 40
    assert metrics["tronador_webhook_connections_open"] >= 1  # this scrape's
    assert metrics["tronador_webhook_connections_timed_out_total"] == 0


LARGE = json.dumps(review("CREATE", seed_ep(), uid="large") | {"padding": "x" * 64_000}).encode()


async def test_large_bodies_above_the_in_flight_bound_get_503_small_ones_never(
    bounded_webhook: Webhook,
) -> None:
    request = request_bytes(LARGE)
    small = request_bytes()
    reading = [await connect(bounded_webhook) for _ in range(2)]
    try:
        for _, writer in reading:
            writer.write(request[:-10])  # headers and part of the body: in flight
        await asyncio.sleep(0.5)
        reader, writer = await connect(bounded_webhook)
        writer.write(request[:-10])
        assert await read_status(reader) == 503
        writer.transport.abort()
        reader, writer = await connect(bounded_webhook)
        writer.write(small[:-10])
        await asyncio.sleep(0.2)
        writer.write(small[-10:])
        assert await read_status(reader) == 200
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await read_status(reader) == 200
        writer.transport.abort()
        for reader, writer in reading:
            writer.write(request[-10:])
            assert await read_status(reader) == 200
        assert (await scraped(bounded_webhook))["tronador_webhook_requests_shed_total"] == 1
    finally:
        for _, writer in reading:
            writer.transport.abort()
