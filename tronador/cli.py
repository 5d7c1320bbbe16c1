"""The `tronador` command. Offline tools: render, convert, validate, review, crds; in a pipeline:
publish and retire (the GitOps repository); against a cluster: audit, status; the running parts:
webhook, controller, certs. Each is a subcommand; `tronador COMMAND --help` says more."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tronador import __version__
from tronador.api.constants import CONFIG_KIND, ENV_KIND, EP_KIND
from tronador.api.crd import all_crds
from tronador.cli_common import CliError, add_app_config_option
from tronador.config_loading import ConfigFileError, load_policy
from tronador.rules.config_rules import validate_tronador_config
from tronador.rules.convert import ConvertError, environments_from
from tronador.rules.findings import Findings
from tronador.rules.render import RENDERED_KINDS, RenderError, RenderInputs, render
from tronador.rules.review import review_object
from tronador.rules.validate import validate_environment, validate_environment_provisioner
from tronador.words import counted
from tronador.yamlio import DocumentError, dump, dump_all, load_all, read_text

EXIT_OK, EXIT_DENIED, EXIT_USAGE = 0, 1, 2

if TYPE_CHECKING:
    # The component commands are imported by name when one runs (build_parser); declared here so
    # that import-linter sees the composition root's edges (pyproject.toml's contracts).
    import certs.cli  # noqa: F401
    import controller.cli
    import controller.status_cli  # noqa: F401
    import gitops.publish_cli
    import gitops.retire_cli  # noqa: F401
    import webhook.cli  # noqa: F401

COMPONENT_COMMANDS: dict[str, tuple[str, str]] = {
    "webhook": ("webhook.cli", "Run the admission webhook server (HTTPS)."),
    "controller": ("controller.cli", "Run the controller that provisions EPs."),
    "certs": ("certs.cli", "Issue, rotate and inspect the webhook's serving certificate."),
    "audit": (
        "tronador.audit_cli",
        "List EPs and Environments that do not comply with the cluster's policy.",
    ),
    "publish": ("gitops.publish_cli", "Render the PR's EP and land it in the GitOps repository."),
    "retire": ("gitops.retire_cli", "Remove the closed PR's EP from the GitOps repository."),
    "status": (
        "controller.status_cli",
        "Where a PR's environment stands: phase, what is not ready yet, URLs; --wait for it.",
    ),
}
"""Subcommands whose module provides `add_arguments(parser)` and `run(args) -> int`."""


def _read(path: str) -> tuple[str, str]:
    try:
        return read_text(path)
    except DocumentError as exc:
        raise CliError(str(exc)) from None


def _documents(path: str) -> list[tuple[str, Any]]:
    text, source = _read(path)
    try:
        docs = load_all(text, source)
    except DocumentError as exc:
        raise CliError(str(exc)) from None
    if not docs:
        raise CliError(f"{source}: no YAML documents found")
    return [(f"{source}#{i + 1}" if len(docs) > 1 else source, d) for i, d in enumerate(docs)]


def _policy(args: argparse.Namespace) -> Any:
    try:
        return load_policy(args.config)
    except ConfigFileError as exc:
        raise CliError(str(exc)) from None


def _describe(doc: Any) -> str:
    if isinstance(doc, dict):
        kind = doc.get("kind", "object")
        name = (
            (doc.get("metadata") or {}).get("name")
            if isinstance(doc.get("metadata"), dict)
            else None
        )
        return f"{kind}/{name}" if name else str(kind)
    return "document"


def _print_findings(where: str, doc: Any, findings: Findings) -> None:
    verdict = "allowed" if findings.allowed else "denied"
    print(f"{where}: {_describe(doc)}: {verdict}")
    for violation in findings.violations:
        print(f"  error: {violation}")
    for warning in findings.warnings:
        print(f"  warning: {warning}")


def cmd_render(args: argparse.Namespace) -> int:
    text, source = _read(args.config_file)
    inputs = RenderInputs(
        repo_url=args.repo_url,
        ref=args.ref,
        pull_request=str(args.pr),
        image_name=args.image_name,
        image_tag=args.image_tag,
        name=args.name,
    )
    try:
        rendered = render(text, inputs, source, args.kind)
    except RenderError as exc:
        raise CliError(str(exc)) from None
    findings = _validate_document(rendered, _policy(args), None)
    if not findings.allowed:
        _print_findings(source, rendered, findings)
        return EXIT_DENIED
    _write(args, [rendered])
    for warning in findings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


OUTPUT_FORMATS = ("yaml", "json")


def _output_format(value: str) -> str:
    if value not in OUTPUT_FORMATS:
        raise argparse.ArgumentTypeError(
            f"{value[:100]!r}: -o is the output format (yaml or json), as in kubectl; "
            "write to a file with --output-file FILE"
        )
    return value


def _add_output_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "-o",
        "--output",
        type=_output_format,
        default="yaml",
        metavar="yaml|json",
        help="output format (default: yaml; json: one object, or a List of several)",
    )
    parser.add_argument(
        "--output-file", metavar="FILE", help=f"write {what} here instead of stdout"
    )


def _write(args: argparse.Namespace, objects: list[Any]) -> None:
    if args.output == "json":
        document = (
            objects[0]
            if len(objects) == 1
            else {"apiVersion": "v1", "kind": "List", "items": objects}
        )
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    else:
        text = dump(objects[0]) if len(objects) == 1 else dump_all(objects)
    if args.output_file and args.output_file != "-":
        try:
            Path(args.output_file).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliError(
                f"--output-file {args.output_file}: cannot write: {exc.strerror or exc}"
            ) from None
    else:
        sys.stdout.write(text)


def cmd_convert(args: argparse.Namespace) -> int:
    policy = _policy(args)
    converted: list[tuple[str, dict[str, Any]]] = []
    for where, doc in _documents(args.file):
        try:
            converted += [(where, env) for env in environments_from(doc, where)]
        except ConvertError as exc:
            raise CliError(str(exc)) from None
    denied = False
    for where, env in converted:
        findings = validate_environment(env, policy)
        if not findings.allowed:
            _print_findings(where, env, findings)
            denied = True
    if denied:
        return EXIT_DENIED
    _write(args, [env for _, env in converted])
    return EXIT_OK


def _validate_document(doc: Any, policy: Any, namespace: str | None) -> Findings:
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind == CONFIG_KIND:
        return validate_tronador_config(doc, namespace)
    if kind == EP_KIND:
        return validate_environment_provisioner(doc, policy)
    if kind == ENV_KIND:
        return validate_environment(doc, policy)
    raise AssertionError(f"not one of our kinds: {kind!r}")  # callers check `_ours` first


VALIDATED_KINDS = (EP_KIND, ENV_KIND, CONFIG_KIND)


def _require_kind(where: str, doc: Any, kinds: Sequence[str]) -> None:
    """A document that is not one of `kinds` is unusable input (exit 2), in every command."""
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind not in kinds:
        shown = f"kind {kind[:100]!r}" if isinstance(kind, str) else "no kind"
        raise CliError(f"{where}: not an {', '.join(kinds[:-1])} or {kinds[-1]} ({shown})")


def cmd_validate(args: argparse.Namespace) -> int:
    policy = _policy(args)
    denied = False
    documents = [found for path in args.files for found in _documents(path)]
    for where, doc in documents:  # all checked first: no half report
        _require_kind(where, doc, VALIDATED_KINDS)
    for where, doc in documents:
        findings = _validate_document(doc, policy, args.namespace)
        _print_findings(where, doc, findings)
        denied = denied or not findings.allowed
    return EXIT_DENIED if denied else EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    policy = _policy(args)
    denied = False
    for where, doc in _documents(args.file):
        _require_kind(where, doc, RENDERED_KINDS)
        review = review_object(doc, policy)
        print(f"# {where}: patch ({counted(len(review.patch), 'operation')})")
        print(json.dumps(review.patch, indent=2, ensure_ascii=False))
        print(f"# {where}: result")
        print(dump(review.result), end="")
        print("# verdict")
        _print_findings(where, review.result, review.findings)
        denied = denied or not review.findings.allowed
    return EXIT_DENIED if denied else EXIT_OK


def cmd_crds(args: argparse.Namespace) -> int:
    crds = all_crds()
    if not args.out:
        sys.stdout.write(dump_all(list(crds.values())))
        return EXIT_OK
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {args.out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, crd in crds.items():
            (out / name).write_text(dump(crd), encoding="utf-8")
            print(f"wrote {out / name}")
    except OSError as exc:
        raise CliError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
    return EXIT_OK


def _add_policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tronador-config",
        "--config",
        dest="config",
        metavar="FILE",
        help="TronadorConfig YAML whose policy applies (default: the built-in defaults); "
        "--config is the older name",
    )


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error (exit 2); the usage is in --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tronador", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tronador {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser(
        "render",
        help="Render an EP or Environment from .tronador.yaml for a pull request.",
        description="Render the EnvironmentProvisioner (or, with --kind, the Environment) a pull "
        "request's pipeline publishes, from the application's .tronador.yaml, and check it under "
        "the policy: exit 0 and the object on stdout (or --output), 1 denied, 2 unusable input.",
    )
    add_app_config_option(render)
    render.add_argument("--repo-url", required=True, help="git URL of the application repo")
    render.add_argument("--ref", required=True, help="the PR's branch")
    render.add_argument("--pr", required=True, help="pull request number")
    render.add_argument("--image-name", required=True, help="image repository built for the PR")
    render.add_argument("--image-tag", required=True, help="image tag built for the PR")
    render.add_argument(
        "--kind",
        choices=RENDERED_KINDS,
        default=EP_KIND,
        help=f"what to render (default: {EP_KIND})",
    )
    render.add_argument(
        "--name", help="object name (default: <repo>-<pr> for an EP, pr-<pr>-<repo> otherwise)"
    )
    _add_output_options(render, "the object")
    _add_policy_option(render)
    render.set_defaults(handler=cmd_render)

    convert = sub.add_parser(
        "convert",
        help="Convert EPs (a file or `kubectl get tep -o yaml`) to Environments.",
        description="Convert EnvironmentProvisioners to the Environments that provision the same "
        "labels, secrets and values, named as `render --kind Environment` names them "
        "(docs/environment.md): exit 0, 1 when one is denied under the policy, 2 for input "
        "that is not an EP.",
    )
    convert.add_argument("file", metavar="FILE", help="EP YAML file, '-' for stdin")
    _add_output_options(convert, "the Environments")
    _add_policy_option(convert)
    convert.set_defaults(handler=cmd_convert)

    validate = sub.add_parser(
        "validate",
        help="Validate EP / Environment / TronadorConfig files offline.",
        description="Check EnvironmentProvisioners, Environments and TronadorConfigs with the "
        "webhook's rules, without a cluster: exit 0 all allowed, 1 any denied (each problem "
        "named with its field and rule), 2 for input that is none of these kinds.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="YAML files, '-' for stdin")
    validate.add_argument("--namespace", help="namespace Tronador runs in (TronadorConfig check)")
    _add_policy_option(validate)
    validate.set_defaults(handler=cmd_validate)

    review = sub.add_parser(
        "review",
        help="Mutate then validate an EP or Environment as the webhook will.",
        description="Show what the API server would store: the mutating webhook's patch, the "
        "object after it, and the validating webhook's verdict (exit 0 allowed, 1 denied).",
    )
    review.add_argument("file", metavar="FILE", help="EP / Environment YAML, '-' for stdin")
    _add_policy_option(review)
    review.set_defaults(handler=cmd_review)

    crds = sub.add_parser(
        "crds",
        help="Print the CRDs generated from the API types (or write them to a directory).",
        description="Print the CRDs generated from the API types as one YAML stream, like "
        "`kubectl kustomize`; with --out, write one file per CRD into that directory "
        "(the repository's are in manifests/crds/).",
    )
    crds.add_argument(
        "--out", metavar="DIR", help="write one file per CRD here (default: print to stdout)"
    )
    crds.set_defaults(handler=cmd_crds)

    for name, (module_name, help_text) in COMPONENT_COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name not in (module_name, module_name.partition(".")[0]):
                raise
            continue
        component = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(component)
        component.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CliError as exc:
        print(f"tronador: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
