"""`tronador retire`: remove the closed PR's object from the GitOps repository, so that the GitOps
tool prunes it and Tronador's finalizer cleans up after it."""

from __future__ import annotations

import argparse

from gitops.options import (
    add_repository_arguments,
    check_repository_arguments,
    land_change,
    landed_note,
)
from tronador.api.constants import EP_KIND
from tronador.api.formats import DNS1123_LABEL
from tronador.cli_common import CliError
from tronador.patterns import bounded
from tronador.rules.gitops import (
    Change,
    PublishError,
    Subject,
    commit_message,
    render_path,
    retire_change,
)
from tronador.rules.giturl import URL_EXPECTATION, parse_git_url
from tronador.rules.names import repo_name
from tronador.rules.render import RENDERED_KINDS, environment_name

_DIGITS = bounded(r"[0-9]+", 20)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("--repo-url", required=True, help="git URL of the application repo")
    parser.add_argument("--pr", required=True, help="pull request number")
    parser.add_argument(
        "--kind", choices=RENDERED_KINDS, default=EP_KIND, help=f"what was published ({EP_KIND})"
    )
    parser.add_argument("--name", help="object name (default: as `tronador render` names it)")
    parser.add_argument("--tenant", help="the tenant, when the path template has {tenant}")
    add_repository_arguments(parser)


def run(args: argparse.Namespace) -> int:
    check_repository_arguments(args)
    if parse_git_url(args.repo_url) is None:
        raise CliError(f"--repo-url {args.repo_url!r} is not {URL_EXPECTATION}")
    if not _DIGITS.fullmatch(args.pr):
        raise CliError(f"--pr {args.pr!r} must be a pull request number")
    if args.name is not None and not DNS1123_LABEL.matches(args.name):
        raise CliError(f"--name {args.name!r} is not {DNS1123_LABEL.explanation}")
    subject = Subject(
        kind=args.kind,
        name=args.name or environment_name(args.repo_url, args.pr, args.kind),
        repo=repo_name(args.repo_url),
        pr=args.pr,
        tenant=args.tenant,
    )
    try:
        path = render_path(args.path_template, subject.path_fields())
    except PublishError as exc:
        raise CliError(str(exc)) from None
    message = commit_message("retire", subject, path, args.repo_url)
    landed = land_change(args, path, retire_change, None, message, branch_must_exist=True)
    if isinstance(landed, int):
        return landed
    if landed.change is Change.ABSENT:
        print(f"nothing to retire: {path} is not in the repository")
    else:
        print(f"retired {subject.kind}/{subject.name}: removed {path} ({landed_note(landed)})")
    return 0
