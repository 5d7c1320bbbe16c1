"""What `tronador publish` and `tronador retire` share: the repository options, and landing
one file's change with credentials and a work clone."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gitops.credentials import CredentialsError, gather, git_environment
from gitops.git import Author, Deadline, GitError, NotLanded, WorkClone
from gitops.land import Landed, MissingBranch, land
from tronador.api import Policy
from tronador.cli_common import CliError
from tronador.config_loading import ConfigFileError, load_policy
from tronador.rules.gitops import (
    DEFAULT_PATH_TEMPLATE,
    Change,
    PublishError,
    check_branch,
    check_path_template,
    gitops_repo_problem,
    strip_credentials,
)

DEFAULT_TIMEOUT_SECONDS = 120.0

MAX_TIMEOUT = 24 * 3600.0
"""A day: the most a publish or retire may keep retrying (and a number the clock can hold)."""


def add_repository_arguments(parser: argparse.ArgumentParser) -> None:
    def option(flag: str, env: str, default: str | None, help_text: str, **kwargs: Any) -> None:
        shown = f" [env {env}" + (f", default {default}]" if default is not None else "]")
        value = os.environ.get(env, default)
        parser.add_argument(flag, default=value, help=help_text + shown, **kwargs)

    option(
        "--gitops-repo",
        "TRONADOR_GITOPS_REPO",
        None,
        "GitOps repository: URL or local path (a token in the URL is stripped and used only "
        "through GIT_ASKPASS)",
        metavar="URL",
        required="TRONADOR_GITOPS_REPO" not in os.environ,
    )
    parser.add_argument(
        "--ssh-trust-on-first-use",
        action="store_true",
        default=os.environ.get("TRONADOR_SSH_TRUST_ON_FIRST_USE", "") in ("1", "true"),
        help="over SSH without known_hosts, trust the server's host key for this run (never "
        "the default: a key is checked against known_hosts) "
        "[env TRONADOR_SSH_TRUST_ON_FIRST_USE]",
    )
    option("--branch", "TRONADOR_GITOPS_BRANCH", "main", "branch of the GitOps repository")
    option(
        "--path-template",
        "TRONADOR_PATH_TEMPLATE",
        DEFAULT_PATH_TEMPLATE,
        "file for the object, with {name}, {repo}, {pr} and {tenant}",
    )
    option("--author-name", "GIT_AUTHOR_NAME", "tronador", "commit author name")
    option("--author-email", "GIT_AUTHOR_EMAIL", "tronador@localhost", "commit author e-mail")
    option(
        "--credentials-dir",
        "TRONADOR_GIT_CREDENTIALS_DIR",
        None,
        "directory with `token` (and `username`), or `ssh-privatekey` (and `known_hosts`); "
        "TRONADOR_GIT_TOKEN works too",
        metavar="DIR",
    )
    option(
        "--timeout",
        "TRONADOR_GIT_TIMEOUT",
        f"{DEFAULT_TIMEOUT_SECONDS:g}",
        "seconds to land the change, retries included",
        type=float,
    )
    parser.add_argument(
        "--work-dir", metavar="DIR", help="work clone directory (default: a temporary one)"
    )
    parser.add_argument(
        "--tronador-config",
        "--config",
        dest="config",
        metavar="PATH",
        help="TronadorConfig whose policy applies: a file, or a directory holding "
        f"{CONFIG_FILE_IN_DIRECTORY} (a ConfigMap workspace); empty or unset: the built-in policy; "
        "--config is the older name",
    )


CONFIG_FILE_IN_DIRECTORY = "tronador-config.yaml"


def policy_of(args: argparse.Namespace) -> Policy:
    """The policy `--config` names. Empty counts as unset: Tekton gives an unbound optional
    workspace's path as ""."""
    path = Path(args.config) if args.config else None
    if path is not None and path.is_dir():
        path = path / CONFIG_FILE_IN_DIRECTORY
    try:
        return load_policy(path)
    except ConfigFileError as exc:
        raise CliError(str(exc)) from None


def check_repository_arguments(args: argparse.Namespace) -> None:
    problem = gitops_repo_problem(args.gitops_repo)
    if problem:
        raise CliError(problem)
    try:
        check_branch(args.branch)
        check_path_template(args.path_template)
    except PublishError as exc:
        raise CliError(str(exc)) from None
    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise CliError(
            f"--timeout {args.timeout:g} must be more than 0 and at most {MAX_TIMEOUT:g} seconds"
        )


def _remote(url: str) -> str:
    """A local path made absolute (the work clone lives elsewhere); a URL as given."""
    return str(Path(url).resolve()) if "://" not in url and Path(url).exists() else url


@contextlib.contextmanager
def _work_dir(given: str | None) -> Iterator[Path]:
    if given:
        yield Path(given)
        return
    with tempfile.TemporaryDirectory(prefix="tronador-gitops-") as directory:
        yield Path(directory)


def land_change(
    args: argparse.Namespace,
    path: str,
    decide: Callable[[str | None], Change],
    content: str | None,
    message: str,
    *,
    branch_must_exist: bool = False,
) -> Landed | int:
    """Land the change; an exit code when git refused it (1) or could not be used (CliError)."""
    url, user, secret = strip_credentials(args.gitops_repo)
    try:
        credentials = gather(user, secret, args.credentials_dir)
    except CredentialsError as exc:
        raise CliError(str(exc)) from None
    over_ssh = url.startswith("ssh://") or ("://" not in url and "@" in url.split(":", 1)[0])
    unverifiable = over_ssh and credentials.ssh_key and not credentials.known_hosts
    if unverifiable and not args.ssh_trust_on_first_use:
        raise CliError(
            "the SSH key comes without known_hosts, so the server could not be verified: "
            "add known_hosts to --credentials-dir (a line you have checked), or pass "
            "--ssh-trust-on-first-use to trust the server's key for this run"
        )
    secrets = (*credentials.secrets, args.gitops_repo) if secret else credentials.secrets
    author = Author(args.author_name, args.author_email)
    with git_environment(credentials) as env, _work_dir(args.work_dir) as directory:
        clone = WorkClone(
            directory, _remote(url), args.branch, env, secrets, Deadline(args.timeout)
        )
        try:
            return land(
                clone, path, decide, content, message, author, branch_must_exist=branch_must_exist
            )
        except MissingBranch as exc:
            raise CliError(f"{url}: --branch {args.branch!r}: {exc}") from None
        except NotLanded as exc:
            print(f"tronador: error: {exc}", file=sys.stderr)
            return 1
        except GitError as exc:
            raise CliError(f"{url}: {exc}") from None


def landed_note(landed: Landed) -> str:
    attempts = f"{landed.attempts} attempt" + ("s" if landed.attempts != 1 else "")
    return f"commit {str(landed.commit)[:12]}, {attempts}"
