"""`tronador status`: where a pull request's environment stands, as the controller reports it.

Prints the phase, every condition that is not True with its reason, and the environment's URLs;
`--wait` polls until it is ready (exit 0) or has failed (exit 1, the reason on one line), and on
the timeout exits 1 saying what it was waiting for. Exit 1 without `--wait` when it is not ready
(yet); 2 for unusable input (no such environment, no cluster). It reads with a kubeconfig or
in-cluster credentials, like `tronador audit`, and needs only `get` on the kind.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from kube.api import ApiError, Kube
from kube.client import NoCluster, kube_client
from kube.resources import ENVIRONMENT_PROVISIONERS, ENVIRONMENTS
from tronador.api.constants import ENV_KIND, EP_KIND
from tronador.api.formats import DNS1123_LABEL
from tronador.rules.giturl import URL_EXPECTATION, parse_git_url
from tronador.rules.render import RENDERED_KINDS, environment_name
from tronador.rules.status_view import EnvironmentState, Outcome, environment_state
from tronador.yamlio import dump

EXIT_READY, EXIT_NOT_READY, EXIT_USAGE = 0, 1, 2
DEFAULT_TIMEOUT = 600.0
MAX_TIMEOUT = 24 * 3600.0
POLL_SECONDS = 2.0
RESOURCES = {EP_KIND: ENVIRONMENT_PROVISIONERS, ENV_KIND: ENVIRONMENTS}


class StatusError(Exception):
    """Unusable input: one line, exit 2."""


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value[:40]!r}") from None
    if not 0 < seconds <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"{value[:40]} must be more than 0 and at most {MAX_TIMEOUT:g} seconds"
        )
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument(
        "name", nargs="?", metavar="NAME", help="the object's name (or give --repo-url and --pr)"
    )
    parser.add_argument("--repo-url", help="the application's git URL, to name it as render does")
    parser.add_argument("--pr", help="the pull request number, with --repo-url")
    parser.add_argument(
        "--kind", choices=RENDERED_KINDS, default=EP_KIND, help=f"(default: {EP_KIND})"
    )
    parser.add_argument(
        "--wait", action="store_true", help="return once it is ready (0) or has failed (1)"
    )
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long --wait waits (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "-o", "--output", choices=("text", "json", "yaml"), default="text", help="output format"
    )
    parser.add_argument(
        "--url-file", metavar="FILE", help="also write the first URL here (e.g. a Tekton result)"
    )
    parser.add_argument(
        "--phase-file", metavar="FILE", help="also write the phase here (e.g. a Tekton result)"
    )
    parser.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig (default: in-cluster)")
    parser.add_argument("--context", help="kubeconfig context")


def _name(args: argparse.Namespace) -> str:
    if args.name and (args.repo_url or args.pr):
        raise StatusError("give NAME, or --repo-url and --pr, not both")
    if args.name:
        if not DNS1123_LABEL.matches(args.name):
            raise StatusError(f"{args.name[:100]!r} is not {DNS1123_LABEL.explanation}")
        return str(args.name)
    if not (args.repo_url and args.pr):
        raise StatusError("name the environment: NAME, or --repo-url URL --pr N")
    if parse_git_url(args.repo_url) is None:
        raise StatusError(f"--repo-url is not {URL_EXPECTATION}")
    if not (args.pr.isdigit() and int(args.pr) > 0):
        raise StatusError(f"--pr {args.pr[:40]!r} must be a pull request number (1 or more)")
    return environment_name(args.repo_url, args.pr, args.kind)


def _kube(args: argparse.Namespace, api_client: Any) -> Kube:
    try:
        return Kube(kube_client(api_client, args.kubeconfig, args.context))
    except NoCluster as exc:
        raise StatusError(f"cannot reach a cluster: {exc}") from None


def _read(kube: Kube, kind: str, name: str, waiting: bool) -> dict[str, Any] | None:
    try:
        return kube.get(RESOURCES[kind], name)
    except ApiError as err:
        if err.refused or not waiting:
            raise StatusError(f"cannot read {kind} '{name}': {err.status} {err.reason}") from None
        return None  # unreachable for a moment: --wait tries again


def _render(state: EnvironmentState, output: str) -> str:
    if output == "json":
        return json.dumps(state.to_wire(), indent=2, ensure_ascii=False) + "\n"
    if output == "yaml":
        return dump(state.to_wire())
    lines = [f"{state.kind}/{state.name}: {state.outcome} ({state.phase or 'no phase yet'})"]
    lines += [
        f"  {c.type}={c.status or 'Unknown'} {c.reason}: {c.message}".rstrip()
        for c in state.not_true
    ]
    lines += [f"  url: {url}" for url in state.urls]
    return "\n".join(lines) + "\n"


def _write_results(args: argparse.Namespace, state: EnvironmentState) -> None:
    for path, value in ((args.url_file, (state.urls or [""])[0]), (args.phase_file, state.phase)):
        if not path:
            continue
        try:
            with open(path, "w", encoding="utf-8") as file:
                file.write(value)
        except OSError as exc:
            raise StatusError(f"{path}: cannot write: {exc.strerror or exc}") from None


def run(
    args: argparse.Namespace,
    *,
    api_client: Any = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """`api_client` is for tests and embedding (default: in-cluster or kubeconfig)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        name = _name(args)
        kube = _kube(args, api_client)
        deadline = clock() + args.timeout
        while True:
            obj = _read(kube, args.kind, name, args.wait)
            if obj is None and not args.wait:
                raise StatusError(f"there is no {args.kind} '{name}' in the cluster")
            state = environment_state(obj) if obj is not None else None
            if state is not None and (not args.wait or state.outcome is not Outcome.WAITING):
                out.write(_render(state, args.output))
                _write_results(args, state)
                if state.outcome is Outcome.FAILED:
                    print(f"tronador status: {name} failed: {state.reason}: {state.message}",
                          file=err)  # fmt: skip
                return EXIT_READY if state.outcome is Outcome.READY else EXIT_NOT_READY
            if clock() >= deadline:
                waiting_for = (
                    f"{args.kind} '{name}' to exist"
                    if state is None
                    else f"{state.kind}/{state.name} to be ready ({state.reason}: {state.message})"
                )
                if state is not None:
                    out.write(_render(state, args.output))
                print(f"tronador status: gave up after {args.timeout:g}s waiting for "
                      f"{waiting_for}", file=err)  # fmt: skip
                return EXIT_NOT_READY
            sleep(min(POLL_SECONDS, max(0.0, deadline - clock())))
    except StatusError as exc:
        print(f"tronador status: error: {exc}", file=err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
