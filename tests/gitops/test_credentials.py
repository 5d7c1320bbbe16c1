"""Credentials: a token reaches a Basic-auth git server only through GIT_ASKPASS, and appears in
no output, commit, or file of the work clone, whether it came in the URL, a file or the env."""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

import pytest

from gitops.credentials import gather, git_environment
from tests.gitops.http_git import USERNAME, git_http_server
from tests.gitops.repos import (
    POLICY,
    Run,
    bare_repo,
    commits,
    git,
    publish,
    render_args,
    retire,
    tronador,
)
from tests.tools import need_tool

TOKEN = "ghp_s3cretT0kenValue1234567890"


@pytest.fixture(autouse=True)
def _git() -> None:
    need_tool("git", "publish/retire run the real git CLI")


def assert_secret_nowhere(run: Run, bare: Path, work: Path | None) -> None:
    assert TOKEN not in run.output
    assert TOKEN not in git("log", "--all", "-p", "--format=%H%n%an%n%ae%n%B", cwd=bare)
    if work is not None:
        config = (work / ".git" / "config").read_text()
        assert TOKEN not in config
        assert "127.0.0.1" in config
        for file in (work / ".git").rglob("*"):
            if file.is_file():
                assert TOKEN.encode() not in file.read_bytes(), file


def test_token_in_the_url_is_stripped_and_used_through_askpass(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    work = tmp_path / "work"
    with git_http_server(tmp_path, TOKEN) as (base, seen):
        url = f"{base.replace('http://', f'http://{USERNAME}:{TOKEN}@')}/gitops.git"
        done = publish(url, 1, "v1", "--work-dir", str(work))
        assert done.returncode == 0, done.output
        assert any(request.startswith("POST") for request in seen)
        gone = retire(url, 1, "--work-dir", str(tmp_path / "work2"))
        assert gone.returncode == 0, gone.output
    assert len(commits(bare)) == 3
    assert_secret_nowhere(done, bare, work)
    assert_secret_nowhere(gone, bare, tmp_path / "work2")


def test_token_from_the_environment_or_a_credentials_directory(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    secrets = tmp_path / "credentials"
    secrets.mkdir()
    (secrets / "token").write_text(TOKEN + "\n")
    with git_http_server(tmp_path, TOKEN) as (base, _):
        url = f"{base}/gitops.git"
        by_env = tronador(
            "publish", url, *render_args(1), "--config", str(POLICY),
            "--work-dir", str(tmp_path / "w1"), env={"TRONADOR_GIT_TOKEN": TOKEN},
        )  # fmt: skip
        assert by_env.returncode == 0, by_env.output
        by_dir = publish(url, 2, "v1", "--credentials-dir", str(secrets))
        assert by_dir.returncode == 0, by_dir.output
        without = publish(url, 3)
    assert_secret_nowhere(by_env, bare, tmp_path / "w1")
    assert_secret_nowhere(by_dir, bare, None)
    assert without.returncode == 2
    assert len(without.stderr.strip().splitlines()) == 1
    assert len(commits(bare)) == 3


def test_a_wrong_or_unreachable_token_url_is_one_line_without_the_token(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    with git_http_server(tmp_path, "the-right-token") as (base, _):
        url = f"{base.replace('http://', f'http://{USERNAME}:{TOKEN}@')}/gitops.git"
        wrong = publish(url, 1)
    unreachable = publish(f"https://{TOKEN}@127.0.0.1:1/gitops.git", 1)
    for run in (wrong, unreachable):
        assert run.returncode == 2, run.output
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert TOKEN not in run.output
    assert "Authentication failed" in wrong.stderr or "401" in wrong.stderr
    assert len(commits(bare)) == 1


def test_an_ssh_key_is_passed_by_git_ssh_command_from_a_private_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "ssh"
    secrets.mkdir()
    (secrets / "ssh-privatekey").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n")
    (secrets / "known_hosts").write_text("git.example.com ssh-ed25519 AAAA\n")
    credentials = gather(None, None, str(secrets))
    assert credentials.token is None
    with git_environment(credentials) as env:
        command = shlex.split(env["GIT_SSH_COMMAND"])
        key = Path(command[command.index("-i") + 1])
        assert key.read_text() == (secrets / "ssh-privatekey").read_text()
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
        assert f"UserKnownHostsFile={secrets / 'known_hosts'}" in command
        assert "StrictHostKeyChecking=yes" in command
        assert "GIT_ASKPASS" not in env
    assert not key.exists()
    (secrets / "known_hosts").unlink()
    with git_environment(gather(None, None, str(secrets))) as env:
        assert "StrictHostKeyChecking=accept-new" in env["GIT_SSH_COMMAND"]
    monkeypatch.setenv("TRONADOR_GIT_TOKEN", TOKEN)
    with git_environment(gather(None, None, None)) as env:
        assert "TRONADOR_GIT_TOKEN" not in env
        assert TOKEN not in Path(env["GIT_ASKPASS"]).read_text()
