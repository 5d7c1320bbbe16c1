"""`tronador publish`: render the PR's object (or read one), check it with the webhook's rules,
and land it in the GitOps repository."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from gitops.options import (
    add_repository_arguments,
    check_repository_arguments,
    land_change,
    landed_note,
    policy_of,
)
from tronador.api import Policy
from tronador.api.constants import ENV_KIND, EP_KIND
from tronador.cli_common import CliError, add_app_config_option
from tronador.rules.findings import Findings, Severity, field_path
from tronador.rules.gitops import (
    Change,
    PublishError,
    commit_message,
    parse_source_time,
    publish_change,
    render_path,
    subject_of,
    with_source_time,
)
from tronador.rules.render import RENDERED_KINDS, RenderError, RenderInputs, render
from tronador.rules.review import review_environment, review_environment_provisioner
from tronador.rules.tenancy import tenant_of
from tronador.words import counted
from tronador.yamlio import DocumentError, dump, load_all, read_text

CHECKS: dict[str, Callable[[Any, Policy], Any]] = {
    EP_KIND: review_environment_provisioner,
    ENV_KIND: review_environment,
}
"""Kinds that can be published, each with the webhook's review (mutate, then validate)."""

RENDER_FLAGS = ("repo_url", "ref", "pr", "image_name", "image_tag")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    render = parser.add_argument_group("what to publish: render it (as `tronador render`) ...")
    add_app_config_option(render)
    render.add_argument("--repo-url", help="git URL of the application repo")
    render.add_argument("--ref", help="the PR's branch")
    render.add_argument("--pr", help="pull request number")
    render.add_argument("--image-name", help="image repository built for the PR")
    render.add_argument("--image-tag", help="image tag built for the PR")
    render.add_argument(
        "--kind", choices=RENDERED_KINDS, default=EP_KIND, help=f"what to render ({EP_KIND})"
    )
    render.add_argument(
        "--name", help="object name (default: <repo>-<pr> for an EP, pr-<pr>-<repo> otherwise)"
    )
    given = parser.add_argument_group("... or take a rendered file")
    given.add_argument(
        "--file", metavar="FILE", help="a rendered EP or Environment ('-' for stdin)"
    )
    parser.add_argument(
        "--tenant",
        default=os.environ.get("TRONADOR_TENANT") or None,
        help="the tenant this pipeline publishes for, set by the pipeline, never by the PR: an "
        "EP or Environment claiming another tenant (its tenant namespace label) is denied "
        "before any push [env TRONADOR_TENANT]",
    )
    parser.add_argument(
        "--source-time",
        metavar="TIME",
        help="when the app commit was made (epoch seconds or RFC 3339): a publish never "
        "replaces one of a later commit",
    )
    add_repository_arguments(parser)


def _read_object(path: str) -> Any:
    try:
        text, source = read_text(path)
        docs = load_all(text, source)
    except DocumentError as exc:
        raise CliError(str(exc)) from None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise CliError(f"{source}: expected one object, found {counted(len(docs), 'document')}")
    return docs[0]


def _object(args: argparse.Namespace) -> Any:
    given = [f"--{flag.replace('_', '-')}" for flag in RENDER_FLAGS if getattr(args, flag)]
    if args.file is not None:
        if given:
            raise CliError(f"--file and {', '.join(given)} exclude each other")
        return _read_object(args.file)
    missing = [f"--{f.replace('_', '-')}" for f in RENDER_FLAGS if not getattr(args, f)]
    if missing:
        raise CliError(f"give --file, or {', '.join(missing)} to render the object")
    text, source = read_text(args.config_file)
    inputs = RenderInputs(
        args.repo_url, args.ref, str(args.pr), args.image_name, args.image_tag, args.name
    )
    try:
        return render(text, inputs, source, args.kind)
    except RenderError as exc:
        raise CliError(str(exc)) from None


def _check_tenant(obj: Any, policy: Policy, tenant: str, findings: Findings) -> None:
    """The object must claim the pipeline's tenant, not one its `.tronador.yaml` chose."""
    claimed = tenant_of(obj, policy)
    if claimed == tenant:
        return
    findings.deny(
        field_path(("spec", "namespaceLabels", policy.tenant.label_key)),
        "publish-tenant",
        f"claims tenant {claimed!r}; this pipeline publishes for {tenant!r} (--tenant)"
        if claimed is not None
        else f"claims no tenant; this pipeline publishes for {tenant!r} (--tenant)",
        Severity.POLICY,
    )


def _print_denial(kind: str, name: str, findings: Findings) -> None:
    for violation in findings.violations:
        print(f"tronador: denied: {kind}/{name} not published: {violation}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    check_repository_arguments(args)
    policy = policy_of(args)
    try:
        obj = _object(args)
    except DocumentError as exc:
        raise CliError(str(exc)) from None
    kind = obj.get("kind")
    if kind not in CHECKS:
        raise CliError(f"kind: {kind!r} cannot be published (only {', '.join(CHECKS)})")
    try:
        if args.source_time:
            obj = with_source_time(obj, parse_source_time(args.source_time))
        subject = subject_of(obj, policy.tenant.label_key)
        path = render_path(args.path_template, subject.path_fields())
    except PublishError as exc:
        raise CliError(str(exc)) from None
    findings: Findings = CHECKS[kind](obj, policy).findings
    if args.tenant is not None:
        _check_tenant(obj, policy, args.tenant, findings)
    if not findings.allowed:
        _print_denial(kind, subject.name, findings)
        return 1
    for warning in findings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    content = dump(obj)
    message = commit_message("publish", subject, path, args.repo_url)
    landed = land_change(
        args, path, lambda current: publish_change(current, content), content, message
    )
    if isinstance(landed, int):
        return landed
    what = f"{kind}/{subject.name}"
    if landed.change is Change.UNCHANGED:
        print(f"unchanged: {path} already holds this {what}")
    elif landed.change is Change.SUPERSEDED:
        print(f"superseded: {path} holds {what} from a later source commit; left as it is")
    else:
        print(f"published {what} to {path} ({landed_note(landed)})")
    return 0
