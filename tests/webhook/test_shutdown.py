"""`tronador webhook` as a process: serves over TLS, and on SIGTERM stops listening, answers
what it has already received, then exits 0."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import IO, Any

import pytest

from tests.webhook.conftest import TLSFiles
from tests.webhook.helpers import EXAMPLES, REPO_ROOT, client_context, review, seed_ep
from webhook import routes

EXIT_TIMEOUT = 30


def log_lines(stream: IO[str]) -> Iterator[dict[str, Any]]:
    for line in stream:
        try:
            yield json.loads(line)
        except ValueError:
            continue


@pytest.fixture
def webhook_process(tls_files: TLSFiles) -> Iterator[tuple[subprocess.Popen[str], int]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tronador",
            "webhook",
            "--config",
            str(EXAMPLES / "tronador-config.yaml"),
            "--cert",
            str(tls_files.cert),
            "--key",
            str(tls_files.key),
            "--address",
            "127.0.0.1",
            "--port",
            "0",
            "--log-format",
            "json",
        ],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        port = next(e["port"] for e in log_lines(process.stderr) if e["msg"] == "listening")
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(EXIT_TIMEOUT)


def read_response(conn: Any) -> tuple[int, bytes]:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(1)
        assert chunk, "connection closed before a response"
        head += chunk
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return status, body


def test_sigterm_answers_the_request_already_sent_and_exits_zero(
    webhook_process: tuple[subprocess.Popen[str], int], tls_files: TLSFiles
) -> None:
    process, port = webhook_process
    body = json.dumps(review("CREATE", seed_ep(), uid="in-flight")).encode()
    raw = socket.create_connection(("127.0.0.1", port), timeout=EXIT_TIMEOUT)
    with client_context(tls_files.ca).wrap_socket(raw, server_hostname="127.0.0.1") as conn:
        conn.sendall(
            f"POST {routes.VALIDATE_ENVIRONMENT_PROVISIONERS} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        # The whole request is in the server's socket buffer before the signal; aiohttp handles
        # what it has received before it closes connections (it drops bytes arriving later).
        process.send_signal(signal.SIGTERM)
        status, answer = read_response(conn)

    assert status == 200
    response = json.loads(answer)["response"]
    assert response["uid"] == "in-flight"
    assert response["allowed"] is True

    assert process.wait(EXIT_TIMEOUT) == 0
    assert process.stderr is not None
    messages = [e["msg"] for e in log_lines(process.stderr)]
    assert "shutting down: finishing in-flight requests" in messages
    assert messages[-1] == "webhook stopped"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
