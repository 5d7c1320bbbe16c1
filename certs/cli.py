"""``tronador certs``: generate, status, sync."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

from kubernetes import client

from certs import bundle, defaults, files, pki
from certs.incluster import CertSync, SyncConfig, describe_error, utcnow
from certs.pki import Policy, ServingSpec
from certs.secret import SecretStore
from certs.status import Report, add_webhook_states, inspect_material
from kube.api import Kube
from kube.client import NoCluster, kube_client
from tronador.api.formats import DNS1123_LABEL, DNS1123_SUBDOMAIN, NamedFormat
from tronador.namespace import NAMESPACE_HELP, system_namespace

EXIT_OK, EXIT_ERROR, EXIT_UNHEALTHY = 0, 1, 3


class CertsCliError(Exception):
    """Printed as one line; exit 1 (the cluster or the files are not as they should be)."""

    exit_code = 1


class CertsUsageError(CertsCliError):
    """Unusable input, as every command says it: exit 2."""

    exit_code = 2


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return n


def _positive_float(value: str) -> float:
    try:
        n = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return n


MAX_DAYS = 36500
"""A hundred years: past it the certificate's dates leave what X.509 tools can represent."""


def _days(value: str) -> int:
    days = _positive_int(value)
    if days > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_DAYS} days: {value}")
    return days


def _named(form: NamedFormat) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not form.matches(value):
            raise argparse.ArgumentTypeError(f"{value[:100]!r} is not {form.explanation}")
        return value

    return check


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {value!r}") from None


def _add_spec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--service",
        type=_named(DNS1123_LABEL),
        default=_env(defaults.ENV_SERVICE_NAME, defaults.SERVICE_NAME),
        help=f"webhook Service name [env {defaults.ENV_SERVICE_NAME}, default %(default)s]",
    )
    p.add_argument(
        "--namespace",
        type=_named(DNS1123_LABEL),
        default=system_namespace(),
        help=f"namespace of the Service and the Secret [{NAMESPACE_HELP}]",
    )
    p.add_argument(
        "--dns",
        action="append",
        default=[],
        type=_named(DNS1123_SUBDOMAIN),
        metavar="NAME",
        help="extra DNS SAN (repeatable)",
    )
    p.add_argument(
        "--ip", action="append", default=[], type=_ip, metavar="IP", help="IP SAN (repeatable)"
    )


def _add_lifetime_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ca-days",
        type=_days,
        default=defaults.CA_LIFETIME.days,
        help="CA lifetime in days (default %(default)s)",
    )
    p.add_argument(
        "--leaf-days",
        type=_days,
        default=defaults.LEAF_LIFETIME.days,
        help="serving certificate lifetime in days (default %(default)s)",
    )


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--secret-name",
        default=_env(defaults.ENV_SECRET_NAME, defaults.SECRET_NAME),
        help=f"TLS Secret name [env {defaults.ENV_SECRET_NAME}, default %(default)s]",
    )
    p.add_argument(
        "--mutating-webhook",
        default=os.environ.get(defaults.ENV_MUTATING_WEBHOOK_NAME, defaults.MUTATING_WEBHOOK_NAME),
        metavar="NAME",
        help="MutatingWebhookConfiguration to keep the caBundle of ('' for none) "
        f"[env {defaults.ENV_MUTATING_WEBHOOK_NAME}, default %(default)s]",
    )
    p.add_argument(
        "--validating-webhook",
        default=os.environ.get(
            defaults.ENV_VALIDATING_WEBHOOK_NAME, defaults.VALIDATING_WEBHOOK_NAME
        ),
        metavar="NAME",
        help="ValidatingWebhookConfiguration to keep the caBundle of ('' for none) "
        f"[env {defaults.ENV_VALIDATING_WEBHOOK_NAME}, default %(default)s]",
    )
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then KUBECONFIG)")
    p.add_argument("--context", help="kubeconfig context")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="certs_action", required=True, metavar="ACTION")

    gen = sub.add_parser(
        "generate",
        help="Write a new CA and serving certificate to a directory.",
        description="Write a new CA and a serving certificate for the webhook's Service to "
        "--out, for local runs (in a cluster, `certs sync` keeps them): exit 0, 2 for unusable "
        "input or files already there (--force replaces them).",
    )
    gen.add_argument("--out", required=True, metavar="DIR", help="directory for the PEM files")
    gen.add_argument("--force", action="store_true", help="overwrite existing files")
    _add_spec_options(gen)
    _add_lifetime_options(gen)

    status = sub.add_parser(
        "status",
        help="Show CA and serving certificate, and whether the webhook configurations trust it.",
        description="Exit status: 0 healthy, 1 error, 3 unhealthy.",
    )
    status.add_argument(
        "--dir",
        metavar="DIR",
        help="inspect ca.crt/tls.crt/tls.key in DIR instead of the in-cluster Secret",
    )
    status.add_argument(
        "--check-webhooks",
        action="store_true",
        help="with --dir: also compare the webhook configurations' caBundle with DIR/ca.crt",
    )
    _add_spec_options(status)
    _add_cluster_options(status)

    sync = sub.add_parser(
        "sync",
        help="Ensure the Secret and the webhook caBundle in-cluster (once, or --loop).",
        description="Issue or rotate the serving certificate in its Secret and inject the CA "
        "bundle into the webhook configurations, once or (--loop) until stopped.",
    )
    sync.add_argument(
        "--out",
        metavar="DIR",
        default=os.environ.get(defaults.ENV_CERT_DIR) or None,
        help=(
            f"also write ca.crt/tls.crt/tls.key here [env {defaults.ENV_CERT_DIR}]; "
            f"`tronador webhook` reads them from {defaults.CERT_DIR}"
        ),
    )
    sync.add_argument("--loop", action="store_true", help="keep syncing until stopped")
    sync.add_argument(
        "--interval",
        type=_positive_float,
        default=float(_env(defaults.ENV_SYNC_INTERVAL, str(defaults.SYNC_INTERVAL_SECONDS))),
        metavar="SECONDS",
        help=f"seconds between passes with --loop [env {defaults.ENV_SYNC_INTERVAL}, "
        "default %(default)s]",
    )
    _add_spec_options(sync)
    _add_lifetime_options(sync)
    _add_cluster_options(sync)


def _spec(args: argparse.Namespace) -> ServingSpec:
    return ServingSpec(args.service, args.namespace, tuple(args.dns), tuple(args.ip))


def _policy(args: argparse.Namespace) -> Policy:
    return Policy(
        ca_lifetime=timedelta(days=args.ca_days), leaf_lifetime=timedelta(days=args.leaf_days)
    )


def _sync_config(args: argparse.Namespace) -> SyncConfig:
    return SyncConfig(
        secret_name=args.secret_name,
        namespace=args.namespace,
        spec=_spec(args),
        mutating_webhook=args.mutating_webhook or None,
        validating_webhook=args.validating_webhook or None,
        out_dir=getattr(args, "out", None),
        policy=_policy(args) if hasattr(args, "ca_days") else Policy(),
    )


def _api_client(args: argparse.Namespace, api_client: client.ApiClient | None) -> client.ApiClient:
    try:
        return kube_client(api_client, args.kubeconfig, args.context)
    except NoCluster as e:
        raise CertsCliError(f"cannot load Kubernetes configuration: {e}") from None


def cmd_generate(args: argparse.Namespace) -> int:
    if args.ca_days < args.leaf_days:
        raise CertsUsageError("--ca-days must be at least --leaf-days")
    if not args.out:
        raise CertsUsageError("--out must name a directory")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CertsUsageError(f"--out {args.out}: exists and is not a directory")
    existing = [p for p in files.paths(out).values() if p.exists()]
    if existing and not args.force:
        names = ", ".join(str(p) for p in existing)
        what = "already exists" if len(existing) == 1 else "already exist"
        raise CertsUsageError(f"{names} {what}; use --force to replace them")
    now = utcnow()
    policy = _policy(args)
    ca = pki.generate_ca(now, policy.ca_lifetime)
    leaf = pki.issue_serving_cert(ca, _spec(args), now, policy.leaf_lifetime)
    try:
        files.write(out, files.CertFiles(ca.cert_pem, leaf.cert_pem, leaf.key_pem))
    except OSError as exc:
        raise CertsUsageError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
    for p in files.paths(out).values():
        print(f"wrote {p}")
    print(f"serving certificate for {_spec(args).common_name}, SANs: {', '.join(_all_sans(args))}")
    print(
        f"valid until {leaf.cert.not_valid_after_utc:%Y-%m-%d}; CA until "
        f"{ca.cert.not_valid_after_utc:%Y-%m-%d}"
    )
    print(f"caBundle for the webhook configurations: base64 -w0 {out / defaults.CA_CERT_FILE}")
    return EXIT_OK


def _all_sans(args: argparse.Namespace) -> list[str]:
    spec = _spec(args)
    return spec.dns_names + list(spec.ips)


def _webhook_states(kube: Kube, config: SyncConfig) -> list[bundle.WebhookState]:
    try:
        return [
            bundle.read_state(kube, kind, name) for kind, name in config.webhook_configurations()
        ]
    except bundle.BundleError as e:
        raise CertsCliError(str(e)) from None


def cmd_status(args: argparse.Namespace, api_client: client.ApiClient | None = None) -> int:
    now = utcnow()
    spec = _spec(args)
    config = _sync_config(args)
    fraction = config.policy.leaf_rotate_fraction
    if args.dir:
        p = files.paths(args.dir)
        read = {k: (v.read_bytes() if v.exists() else None) for k, v in p.items()}
        report = Report([f"Source: directory {args.dir}"])
        inner = inspect_material(
            read["ca_cert"], read["tls_cert"], read["tls_key"], spec, now, fraction
        )
        bundle_pem = read["ca_cert"]
    else:
        store = SecretStore(Kube(_api_client(args, api_client)), args.secret_name, args.namespace)
        try:
            stored = store.read()
        except Exception as e:
            raise CertsCliError(describe_error(e)) from None
        if stored is None:
            raise CertsCliError(f"secret {args.namespace}/{args.secret_name} does not exist")
        d = stored.data
        report = Report([f"Source: secret {args.namespace}/{args.secret_name}"])
        inner = inspect_material(
            d.get(defaults.SECRET_CA_BUNDLE),
            d.get(defaults.SECRET_TLS_CERT),
            d.get(defaults.SECRET_TLS_KEY),
            spec,
            now,
            fraction,
            ca_key_pem=d.get(defaults.SECRET_CA_KEY),
        )
        if d.get(defaults.SECRET_NEXT_CA_KEY):
            report.lines.append("CA rotation in progress: a new CA is being published")
        bundle_pem = d.get(defaults.SECRET_CA_BUNDLE)
    report.lines += inner.lines
    report.problems += inner.problems
    if not args.dir or args.check_webhooks:
        kube = Kube(_api_client(args, api_client))
        add_webhook_states(report, _webhook_states(kube, config), bundle_pem)
    print(report.text())
    return EXIT_OK if report.healthy else EXIT_UNHEALTHY


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in previous:
        signal.signal(s, lambda _sig, _frame: stop.set())
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def cmd_sync(
    args: argparse.Namespace,
    api_client: client.ApiClient | None = None,
    stop: threading.Event | None = None,
) -> int:
    if args.ca_days < args.leaf_days:
        raise CertsUsageError("--ca-days must be at least --leaf-days")
    if not logging.getLogger().handlers:
        from tronador import logs

        logs.configure()
    syncer = CertSync(_api_client(args, api_client), _sync_config(args))
    if args.loop:
        stop = stop or threading.Event()
        with _stop_on_signals(stop):
            syncer.run_forever(args.interval, stop)
        return EXIT_OK
    try:
        result = syncer.sync_once()
    except Exception as e:
        raise CertsCliError(describe_error(e)) from None
    state = "updated" if result.secret_written else "unchanged"
    print(f"secret {args.namespace}/{args.secret_name}: {state}")
    for reason in result.reasons:
        print(f"  {reason}")
    failed = False
    for kind, name in syncer.config.webhook_configurations():
        outcome = result.webhooks.get(f"{kind}/{name}")
        failed = failed or outcome is None
        print(f"{kind}/{name}: {outcome or 'error'}")
    if syncer.config.out_dir:
        written = "written" if result.files_written else "unchanged"
        print(f"files in {syncer.config.out_dir}: {written}")
    return EXIT_ERROR if failed else EXIT_OK


def run(args: argparse.Namespace, *, api_client: client.ApiClient | None = None) -> int:
    """Entry point for ``tronador certs``; ``api_client`` is for tests and embedding."""
    try:
        if args.certs_action == "generate":
            return cmd_generate(args)
        if args.certs_action == "status":
            return cmd_status(args, api_client)
        if args.certs_action == "sync":
            return cmd_sync(args, api_client)
        raise CertsCliError(f"unknown action {args.certs_action!r}")
    except CertsCliError as e:
        print(f"tronador certs: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        print(f"tronador certs: error: {describe_error(e)}", file=sys.stderr)
    return EXIT_ERROR
