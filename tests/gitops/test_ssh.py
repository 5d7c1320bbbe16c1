"""The SSH path against a real OpenSSH server on 127.0.0.1: the key from the credentials
directory (as in a kubernetes.io/ssh-auth Secret) pushes, the server's host key is checked
against the given known_hosts (or learnt on first use without one), a host key that does not
match is one line and nothing is pushed, and the key is never printed or left behind."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

import pytest

from gitops.git import Deadline, WorkClone
from tests.gitops.repos import (
    POLICY,
    bare_repo,
    commits,
    files,
    publish,
    render_args,
    retire,
    tronador,
)
from tests.gitops.ssh_git import SSHServer, make_key, ssh_server

pytestmark = pytest.mark.usefixtures("real_git")

PUBLISHED = "environments/shop-1.yaml"


def credentials(tmp_path: Path, server: SSHServer, known_hosts: str | None) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir()
    shutil.copyfile(server.client_key, directory / "ssh-privatekey")
    if known_hosts is not None:
        (directory / "known_hosts").write_text(known_hosts)
    return directory


def key_text(server: SSHServer) -> str:
    lines = server.client_key.read_text().splitlines()
    return "".join(line for line in lines if "PRIVATE KEY" not in line)


def test_publish_and_retire_over_ssh_with_the_host_key_checked(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    with ssh_server(tmp_path / "sshd") as server:
        given = credentials(tmp_path, server, server.known_hosts_line)
        done = publish(server.url(bare), 1, "v1", "--credentials-dir", str(given))
        assert done.returncode == 0, done.output
        assert PUBLISHED in files(bare)
        gone = retire(server.url(bare), 1, "--credentials-dir", str(given))
        assert gone.returncode == 0, gone.output
    assert PUBLISHED not in files(bare)
    assert len(commits(bare)) == 3
    for run in (done, gone):
        assert key_text(server)[:40] not in run.output.replace("\n", "")


def test_a_host_key_that_does_not_match_is_refused_and_nothing_is_pushed(
    tmp_path: Path,
) -> None:
    bare = bare_repo(tmp_path)
    impostor = tmp_path / "impostor"
    make_key(impostor)
    with ssh_server(tmp_path / "sshd") as server:
        algorithm, key = impostor.with_suffix(".pub").read_text().split()[:2]
        known = f"[127.0.0.1]:{server.port} {algorithm} {key}\n"
        given = credentials(tmp_path, server, known)
        refused = publish(server.url(bare), 1, "v1", "--credentials-dir", str(given))
    assert refused.returncode == 2, refused.output
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "host key" in refused.stderr.lower(), refused.stderr
    assert len(commits(bare)) == 1


def test_without_known_hosts_the_host_key_is_refused_unless_asked(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    with ssh_server(tmp_path / "sshd") as server:
        given = credentials(tmp_path, server, None)
        refused = publish(server.url(bare), 1, "v1", "--credentials-dir", str(given))
    assert refused.returncode == 2, refused.output
    assert "--ssh-trust-on-first-use" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert len(commits(bare)) == 1


def test_with_trust_on_first_use_the_host_key_is_trusted_for_that_run_only(
    tmp_path: Path,
) -> None:
    """ssh would write a learnt key to the passwd entry's home (read-only in a Task's pod,
    somebody's real ~/.ssh elsewhere): it goes to the run's private scratch directory."""
    bare = bare_repo(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    before = _known_hosts_of_the_user()
    with ssh_server(tmp_path / "sshd") as server:
        given = credentials(tmp_path, server, None)
        done = tronador(
            "publish",
            server.url(bare),
            *render_args(1),
            "--config", str(POLICY),
            "--credentials-dir", str(given),
            "--ssh-trust-on-first-use",
            env={"HOME": str(home)},
        )  # fmt: skip
    assert done.returncode == 0, done.output
    assert PUBLISHED in files(bare)
    assert _known_hosts_of_the_user() == before
    assert not (home / ".ssh").exists()


def _known_hosts_of_the_user() -> str:
    path = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".ssh" / "known_hosts"
    return path.read_text() if path.exists() else ""


def test_a_key_the_server_does_not_accept_is_one_line_naming_the_refusal(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    stranger = tmp_path / "stranger"
    make_key(stranger)
    with ssh_server(tmp_path / "sshd") as server:
        given = credentials(tmp_path, server, server.known_hosts_line)
        shutil.copyfile(stranger, given / "ssh-privatekey")
        refused = publish(server.url(bare), 1, "v1", "--credentials-dir", str(given))
    assert refused.returncode == 2, refused.output
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "Permission denied (publickey)" in refused.stderr, refused.stderr
    assert len(commits(bare)) == 1


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            "Cloning into 'x'...\nWarning: Permanently added '[h]:22' (ED25519) to the list of "
            "known hosts.\nPermission denied (publickey).\nfatal: Could not read from remote "
            "repository.\n\nPlease make sure you have the correct access rights\n",
            "Permission denied (publickey). (fatal: Could not read from remote repository.)",
        ),
        (
            "Warning: Permanently added '[h]:22' (ED25519) to the list of known hosts.\n"
            "fatal: Could not read from remote repository.\n",
            "fatal: Could not read from remote repository.",
        ),
        ("fatal: couldn't find remote ref main\n", "fatal: couldn't find remote ref main"),
    ],
)
def test_the_error_line_is_the_transports_reason_never_a_notice(
    tmp_path: Path, stderr: str, expected: str
) -> None:
    clone = WorkClone(tmp_path, "ssh://h/x", "main", {}, ("s3cret",), Deadline(10))
    assert clone.last_line(stderr) == expected
