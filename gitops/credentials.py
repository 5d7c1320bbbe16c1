"""Credentials for git, from the environment or a mounted directory, handed to git so that no
secret is ever in a command line, a URL, a file in the work clone or a message.

A token (`TRONADOR_GIT_TOKEN`, a `token` file, or the password/token part of the repository
URL, which is stripped) is answered by a GIT_ASKPASS script that reads it from git's own
environment; an SSH key (`ssh-privatekey` file, as in a kubernetes.io/ssh-auth Secret) is passed
by GIT_SSH_COMMAND, with `known_hosts` from the same directory when present.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tronador.rules.gitops import GITOPS_SCHEMES

TOKEN_ENV = "TRONADOR_GIT_TOKEN"
USERNAME_ENV = "TRONADOR_GIT_USERNAME"
DEFAULT_USERNAME = "x-access-token"
"""Accepted with a token by GitHub, Gitea and Bitbucket; GitLab accepts any username too."""

_ASKPASS_SECRET = "TRONADOR_ASKPASS_SECRET"
_ASKPASS_USERNAME = "TRONADOR_ASKPASS_USERNAME"
_ASKPASS_SCRIPT = f"""#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "${_ASKPASS_USERNAME}" ;;
  *) printf '%s\\n' "${_ASKPASS_SECRET}" ;;
esac
"""


class CredentialsError(ValueError):
    """Credentials that cannot be used; the message names the file or variable."""


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    username: str | None = None
    ssh_key: Path | None = None
    known_hosts: Path | None = None
    secrets: tuple[str, ...] = field(default=())
    """Every secret value, for scrubbing messages."""


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{path}: cannot read: {exc}") from None


def gather(
    url_user: str | None, url_secret: str | None, credentials_dir: str | None
) -> Credentials:
    """Credentials from, in order: the repository URL, the directory, the environment."""
    directory = Path(credentials_dir) if credentials_dir else None
    if directory is not None and not directory.is_dir():
        raise CredentialsError(f"--credentials-dir {credentials_dir}: not a directory")
    token, username = url_secret, url_user
    if token is None and directory is not None and (directory / "token").is_file():
        token = _read_secret(directory / "token") or None
        if (directory / "username").is_file():
            username = username or _read_secret(directory / "username") or None
    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    username = username or os.environ.get(USERNAME_ENV) or (DEFAULT_USERNAME if token else None)
    ssh_key = known_hosts = None
    if directory is not None:
        key = directory / "ssh-privatekey"
        ssh_key = key if key.is_file() else None
        hosts = directory / "known_hosts"
        known_hosts = hosts if hosts.is_file() else None
    return Credentials(token, username, ssh_key, known_hosts, (token,) if token else ())


@contextlib.contextmanager
def git_environment(credentials: Credentials) -> Iterator[dict[str, str]]:
    """The environment git runs with; the askpass script and key copy live in a private
    temporary directory removed afterwards."""
    env = {k: v for k, v in os.environ.items() if k not in (TOKEN_ENV, USERNAME_ENV)}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_ALLOW_PROTOCOL"] = ":".join(GITOPS_SCHEMES)
    env.pop(_ASKPASS_SECRET, None)
    scratch = tempfile.mkdtemp(prefix="tronador-git-")
    try:
        os.chmod(scratch, 0o700)
        if credentials.token:
            askpass = Path(scratch) / "askpass"
            askpass.write_text(_ASKPASS_SCRIPT, encoding="utf-8")
            askpass.chmod(0o700)
            env["GIT_ASKPASS"] = str(askpass)
            env[_ASKPASS_SECRET] = credentials.token
            env[_ASKPASS_USERNAME] = credentials.username or DEFAULT_USERNAME
        if credentials.ssh_key:
            key = Path(scratch) / "id"
            shutil.copyfile(credentials.ssh_key, key)
            key.chmod(0o600)
            hosts = (
                [
                    "-o",
                    f"UserKnownHostsFile={credentials.known_hosts}",
                    "-o",
                    "StrictHostKeyChecking=yes",
                ]
                if credentials.known_hosts
                # Trust on first use, for this run only: ssh would otherwise write to the
                # home directory of the passwd entry (not $HOME), read-only in a Task's pod.
                else [
                    "-o",
                    f"UserKnownHostsFile={Path(scratch) / 'known_hosts'}",
                    "-o",
                    "StrictHostKeyChecking=accept-new",
                ]
            )
            command = [
                "ssh", "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "LogLevel=ERROR",  # no "Permanently added" notice taken for the error
            ]  # fmt: skip
            env["GIT_SSH_COMMAND"] = shlex.join(command + hosts)
        yield env
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
