"""An OpenSSH server on 127.0.0.1 for tests, so that a GitOps repository reached over SSH is
pushed to the way a hosted one is: key authentication, host key checking, git-receive-pack
run by the server for the logged-in user.

It runs as the current user with its own config, host key and authorized_keys in a temporary
directory, and accepts only that user's key. Run as root, sshd needs its privilege separation
directory (/run/sshd), which Debian's service creates at start; the fixture creates it the same
way when it is missing.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.tools import need_tool

PRIVSEP_DIRECTORY = Path("/run/sshd")
START_TIMEOUT = 10.0


@dataclass(frozen=True)
class SSHServer:
    port: int
    user: str
    client_key: Path
    """The private key the server accepts."""
    known_hosts_line: str
    """The server's host key as a known_hosts line for [127.0.0.1]:port."""

    def url(self, path: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"


def _sshd() -> str:
    found = shutil.which("sshd") or shutil.which("sshd", path="/usr/sbin:/usr/local/sbin")
    return found or need_tool("sshd", "the SSH GitOps path is pushed to a real OpenSSH server")


def make_key(path: Path) -> None:
    """An ed25519 key pair without passphrase: `path` and `path`.pub."""
    keygen = need_tool("ssh-keygen", "the SSH test keys are made with ssh-keygen")
    subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "tronador-test", "-f", str(path)],
        check=True,
        timeout=30,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@contextmanager
def ssh_server(directory: Path) -> Iterator[SSHServer]:
    sshd = _sshd()
    directory.mkdir(parents=True, exist_ok=True)
    host_key, client_key = directory / "host_ed25519", directory / "client_ed25519"
    make_key(host_key)
    make_key(client_key)
    authorized = directory / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    port = _free_port()
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                "PidFile none",
                f"AuthorizedKeysFile {authorized}",
                f"AllowUsers {getpass.getuser()}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    if os.geteuid() == 0 and not PRIVSEP_DIRECTORY.is_dir():
        PRIVSEP_DIRECTORY.mkdir(mode=0o755, parents=True)
    log = (directory / "sshd.log").open("wb")
    process = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"sshd did not start: {(directory / 'sshd.log').read_text(errors='replace')}"
                )
            time.sleep(0.05)
        host_public = host_key.with_suffix(".pub").read_text().split()
        yield SSHServer(
            port=port,
            user=getpass.getuser(),
            client_key=client_key,
            known_hosts_line=f"[127.0.0.1]:{port} {host_public[0]} {host_public[1]}\n",
        )
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
