"""`tronador audit`: which EnvironmentProvisioners and Environments do not comply with the (new)
policy.

Reads both kinds from the cluster (or from files, e.g. `kubectl get tep,tenv -o yaml`), re-checks
each with the webhook's own rules (`tronador.rules.audit`) and lists the ones that would be
denied now.
Read-only: writing the `PolicyCompliant` condition is the controller's job.

The policy is the `--config` file's; without it, the cluster's TronadorConfig
`tronador-config` in `--namespace` (built-in defaults when there is none); with `--from-file`
and no `--config`, the built-in defaults (no cluster needed).

Exit codes: 0 every EP complies, 1 at least one does not, 2 the audit could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from kube.api import ApiError, Kube
from kube.client import NoCluster, kube_client
from kube.resources import ENVIRONMENT_PROVISIONERS, ENVIRONMENTS, TRONADOR_CONFIGS, Resource
from tronador.api import Policy, TronadorConfig
from tronador.api.constants import CONFIG_NAME, ENV_KIND, EP_KIND, GROUP
from tronador.config_loading import ConfigFileError, load_tronador_config
from tronador.namespace import NAMESPACE_HELP, system_namespace
from tronador.rules.audit import AuditResult, audit_environment_provisioners
from tronador.rules.config_rules import validate_tronador_config
from tronador.words import counted
from tronador.yamlio import DocumentError, load_all, read_text

EXIT_OK, EXIT_NON_COMPLIANT, EXIT_ERROR = 0, 1, 2
LIST_PAGE = 500


class AuditError(Exception):
    """The audit cannot run (unreadable file, unreachable cluster, broken policy)."""


@dataclass(frozen=True)
class PolicyChoice:
    policy: Policy
    source: str
    """Where it came from, in words: `file cfg.yaml`, `TronadorConfig ns/name`, `defaults`."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0] if __doc__ else None
    parser.add_argument(
        "--from-file",
        action="append",
        metavar="FILE",
        default=[],
        help="audit the EPs and Environments in this YAML file ('-' for stdin; repeatable; "
        "List documents such as `kubectl get tep,tenv -o yaml` work) instead of the cluster's",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TronadorConfig YAML whose policy to audit against (e.g. a proposed change); "
        "default: the cluster's TronadorConfig",
    )
    parser.add_argument(
        "--namespace",
        default=system_namespace(),
        help=f"namespace of the TronadorConfig {CONFIG_NAME!r} [{NAMESPACE_HELP}]",
    )
    parser.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig (default: in-cluster, then KUBECONFIG)"
    )
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="output format"
    )
    parser.add_argument(
        "--all", action="store_true", help="list compliant objects too (default: only the others)"
    )


# --- inputs (I/O) -----------------------------------------------------------------------------


def _read_text(path: str) -> tuple[str, str]:
    try:
        return read_text(path)
    except DocumentError as exc:
        raise AuditError(str(exc)) from None


AUDITED_KINDS = (EP_KIND, ENV_KIND)


def audited_objects_in(docs: Iterable[Any]) -> tuple[list[Any], int]:
    """The EP and Environment documents (List items included) and how many other documents
    were skipped."""
    found: list[Any] = []
    skipped = 0
    for doc in docs:
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind in AUDITED_KINDS:
            found.append(doc)
        elif isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
            items, more = audited_objects_in(doc["items"])
            found.extend(items)
            skipped += more
        else:
            skipped += 1
    return found, skipped


def load_file_objects(paths: Sequence[str], err: TextIO) -> list[Any]:
    eps: list[Any] = []
    notes: list[str] = []
    for path in paths:
        text, source = _read_text(path)
        try:
            docs = load_all(text, source)
        except DocumentError as exc:
            raise AuditError(str(exc)) from None
        found, skipped = audited_objects_in(docs)
        if skipped:
            notes.append(
                f"{source}: skipped {counted(skipped, 'document')} of other kinds "
                "(neither EnvironmentProvisioner nor Environment)"
            )
        eps.extend(found)
    if not eps:
        raise AuditError("; ".join([*notes, "no EnvironmentProvisioner or Environment to audit"]))
    for note in notes:
        print(f"note: {note}", file=err)
    return eps


def load_cluster_objects(kube: Kube, err: TextIO) -> list[Any]:
    """Every EP and Environment in the cluster, page by page. A kind the cluster does not serve
    (its CRD not installed) has none, and is noted."""
    objects: list[Any] = []
    for resource in (ENVIRONMENT_PROVISIONERS, ENVIRONMENTS):
        try:
            items, _ = kube.list(resource, page_size=LIST_PAGE)
        except ApiError as exc:
            if exc.status == 404:
                print(f"note: the cluster does not serve {_plural(resource)}", file=err)
                continue
            raise AuditError(f"cannot list {_plural(resource)}: {_describe(exc)}") from None
        for item in items:  # a list's items carry neither apiVersion nor kind
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
        objects.extend(items)
    return objects


def _plural(resource: Resource) -> str:
    return f"{resource.plural}.{GROUP}"


def load_cluster_policy(kube: Kube, namespace: str) -> PolicyChoice:
    """The cluster's TronadorConfig policy; the built-in defaults when there is none."""
    where = f"{namespace}/{CONFIG_NAME}"
    try:
        obj = kube.get(TRONADOR_CONFIGS, CONFIG_NAME, namespace)
    except ApiError as exc:
        raise AuditError(f"cannot read TronadorConfig {where}: {_describe(exc)}") from None
    if obj is None:
        return PolicyChoice(Policy(), f"built-in defaults (no TronadorConfig {where})")
    findings = validate_tronador_config(obj, namespace)
    if not findings.allowed:
        raise AuditError(f"TronadorConfig {where} is invalid: {findings.message()}")
    return PolicyChoice(TronadorConfig.model_validate(obj).spec.policy, f"TronadorConfig {where}")


def _name_of(ep: Any) -> str:
    metadata = ep.get("metadata") if isinstance(ep, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def _describe(exc: ApiError) -> str:
    if exc.status:
        return f"{exc.status} {exc.reason}".strip()
    return f"{exc.reason}: {exc.message}"


# --- output -----------------------------------------------------------------------------------


def _summary(results: Sequence[AuditResult], bad: int, source: str) -> str:
    """ "2 of 3 EnvironmentProvisioners do not comply ...", in the kinds that were audited."""
    kinds = [k for k in AUDITED_KINDS if any(r.kind == k for r in results)] or [EP_KIND]
    noun = " and ".join(kind if len(results) == 1 else f"{kind}s" for kind in kinds)
    verb = "does" if bad == 1 else "do"
    return f"{bad} of {len(results)} {noun} {verb} not comply with the policy ({source})"


def render_text(results: Sequence[AuditResult], source: str, show_all: bool) -> str:
    shown = [r for r in results if show_all or not r.compliant]
    bad = sum(1 for r in results if not r.compliant)
    lines: list[str] = []
    if shown:
        kind_width = max(len("KIND"), *(len(r.kind) for r in shown))
        width = max(len("NAME"), *(len(r.name or "<unnamed>") for r in shown))
        lines.append(f"{'KIND':<{kind_width}}  {'NAME':<{width}}  COMPLIANT  REASON")
        for r in shown:
            lines.append(
                f"{r.kind:<{kind_width}}  {r.name or '<unnamed>':<{width}}  "
                f"{r.compliant!s:<9}  {r.reason}"
            )
            lines.extend(f"  error: {v}" for v in r.violations)
    lines.append(_summary(results, bad, source))
    return "\n".join(lines) + "\n"


def render_json(results: Sequence[AuditResult], source: str) -> str:
    report = {
        "policySource": source,
        "total": len(results),
        "nonCompliant": sum(1 for r in results if not r.compliant),
        "results": [
            {
                "kind": r.kind,
                "name": r.name,
                "compliant": r.compliant,
                "reason": r.reason,
                "violations": [
                    {"path": v.path, "rule": v.rule, "message": v.message} for v in r.violations
                ],
                "warnings": list(r.warnings),
                "condition": r.condition,
            }
            for r in results
        ],
    }
    return json.dumps(report, indent=2) + "\n"


# --- the command ------------------------------------------------------------------------------


def _kube(args: argparse.Namespace, api_client: Any) -> Kube:
    """A `Kube` over `api_client`, or over the in-cluster or kubeconfig credentials."""
    try:
        return Kube(kube_client(api_client, args.kubeconfig, args.context))
    except NoCluster as exc:
        raise AuditError(f"cannot reach a cluster: {exc}") from None


def audit(args: argparse.Namespace, api_client: Any, err: TextIO) -> tuple[list[AuditResult], str]:
    """Gather the policy and the objects the options name, and audit them."""
    if args.config:
        try:
            choice = PolicyChoice(load_tronador_config(args.config).spec.policy, args.config)
        except ConfigFileError as exc:
            raise AuditError(str(exc)) from None
    elif args.from_file:
        choice = PolicyChoice(Policy(), "built-in defaults (no --config)")
    else:
        kube = _kube(args, api_client)
        choice = load_cluster_policy(kube, args.namespace)
    if args.from_file:
        objects = load_file_objects(args.from_file, err)
    else:
        kube = _kube(args, api_client)
        objects = load_cluster_objects(kube, err)
    objects.sort(key=lambda obj: (AUDITED_KINDS.index(obj["kind"]), _name_of(obj)))
    return audit_environment_provisioners(objects, choice.policy, datetime.now(UTC)), choice.source


def run(
    args: argparse.Namespace,
    *,
    api_client: Any = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`tronador audit`. `api_client` is for tests (default: in-cluster or kubeconfig)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        results, source = audit(args, api_client, err)
    except AuditError as exc:
        print(f"tronador audit: error: {exc}", file=err)
        return EXIT_ERROR
    if args.output == "json":
        out.write(render_json(results, source))
    else:
        out.write(render_text(results, source, args.all))
    return EXIT_NON_COMPLIANT if any(not r.compliant for r in results) else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point until `tronador audit` is registered in tronador/cli.py."""
    parser = argparse.ArgumentParser(prog="tronador audit")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
