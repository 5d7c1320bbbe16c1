"""`tronador webhook`: serve the admission webhook over HTTPS until SIGTERM.

Every option can also be set by an environment variable (shown in --help); the option wins.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from kube.api import Kube
from kube.client import NoCluster, load_api_client
from kube.discovery import ServedKinds as ServedKindsCache
from tronador import logs
from tronador.cli_common import CliError
from tronador.config_loading import ConfigFileError
from tronador.namespace import NAMESPACE_HELP, system_namespace
from webhook import limits
from webhook.admitters import ServedKinds
from webhook.allocator import apply_malloc_settings
from webhook.policy_file import FilePolicySource
from webhook.policy_source import PolicySource
from webhook.policy_watch import KubernetesPolicySource
from webhook.server import CERTIFICATE_CHECK_SECONDS, create_app, serve
from webhook.tls import CertificateReloader

log = logging.getLogger("webhook")

DEFAULT_PORT = 8443
DEFAULT_CERT_FILE = "/tls/tls.crt"
DEFAULT_KEY_FILE = "/tls/tls.key"
LOG_LEVELS = ("debug", "info", "warning", "error")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value[:40]!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    def option(flag: str, env: str, default: str | None, help_text: str, **kwargs: Any) -> None:
        shown = f" [env {env}" + (f", default {default}]" if default is not None else "]")
        parser.add_argument(
            flag, default=os.environ.get(env, default), help=help_text + shown, **kwargs
        )

    option("--address", "TRONADOR_WEBHOOK_ADDRESS", "0.0.0.0", "address to listen on")
    option("--port", "TRONADOR_WEBHOOK_PORT", str(DEFAULT_PORT), "HTTPS port", type=_port)
    option(
        "--cert",
        "TRONADOR_WEBHOOK_CERT",
        DEFAULT_CERT_FILE,
        "serving certificate (PEM)",
        metavar="FILE",
    )
    option(
        "--key", "TRONADOR_WEBHOOK_KEY", DEFAULT_KEY_FILE, "its private key (PEM)", metavar="FILE"
    )
    option(
        "--config",
        "TRONADOR_WEBHOOK_CONFIG",
        None,
        "read the policy from this TronadorConfig file instead of the cluster",
        metavar="FILE",
    )
    parser.add_argument(
        "--namespace",
        default=system_namespace(),
        help=f"namespace of the TronadorConfig singleton, where Tronador runs [{NAMESPACE_HELP}]",
    )
    option(
        "--kubeconfig",
        "KUBECONFIG",
        None,
        "kubeconfig when not running in a cluster",
        metavar="FILE",
    )
    option("--log-level", "TRONADOR_LOG_LEVEL", "info", "log level", choices=LOG_LEVELS)
    option("--log-format", "TRONADOR_LOG_FORMAT", "json", "log format", choices=("json", "text"))
    option(
        "--cert-check-interval",
        "TRONADOR_WEBHOOK_CERT_CHECK_INTERVAL",
        str(CERTIFICATE_CHECK_SECONDS),
        "seconds between checks of the certificate files for a new pair",
        type=float,
        metavar="SECONDS",
    )
    option(
        "--shutdown-timeout",
        "TRONADOR_WEBHOOK_SHUTDOWN_TIMEOUT",
        "10",
        "seconds to let in-flight requests finish after SIGTERM",
        type=float,
        metavar="SECONDS",
    )

    option(
        "--request-timeout",
        "TRONADOR_WEBHOOK_REQUEST_TIMEOUT",
        str(limits.DEFAULT_REQUEST_TIMEOUT),
        "seconds a client has to send a request's headers and body once connected (or, on a "
        "kept-alive connection, from the request's first byte); then it is disconnected",
        type=float,
        metavar="SECONDS",
    )
    option(
        "--tls-handshake-timeout",
        "TRONADOR_WEBHOOK_TLS_HANDSHAKE_TIMEOUT",
        str(limits.DEFAULT_TLS_HANDSHAKE_TIMEOUT),
        "seconds a client has to complete the TLS handshake",
        type=float,
        metavar="SECONDS",
    )
    option(
        "--idle-timeout",
        "TRONADOR_WEBHOOK_IDLE_TIMEOUT",
        str(limits.DEFAULT_IDLE_TIMEOUT),
        "seconds a kept-alive connection may stay idle between requests",
        type=float,
        metavar="SECONDS",
    )
    option(
        "--max-connections",
        "TRONADOR_WEBHOOK_MAX_CONNECTIONS",
        str(limits.DEFAULT_MAX_CONNECTIONS),
        "open connections (TLS handshakes included); more are closed as soon as accepted",
        type=int,
        metavar="N",
    )
    option(
        "--max-requests-in-flight",
        "TRONADOR_WEBHOOK_MAX_REQUESTS_IN_FLIGHT",
        str(limits.DEFAULT_MAX_REQUESTS_IN_FLIGHT),
        "admission requests reading a body larger than ~32 KiB at once; more wait up to 1 s, "
        "then get 503",
        type=int,
        metavar="N",
    )


def serving_limits(args: argparse.Namespace) -> limits.ServingLimits:
    try:
        return limits.ServingLimits(
            request_timeout=args.request_timeout,
            tls_handshake_timeout=args.tls_handshake_timeout,
            idle_timeout=args.idle_timeout,
            max_connections=args.max_connections,
            max_requests_in_flight=args.max_requests_in_flight,
        )
    except limits.LimitError as exc:
        raise CliError(f"--{exc.field.replace('_', '-')}: {exc.rule}") from None


def policy_source(args: argparse.Namespace) -> PolicySource:
    if args.config:
        source = FilePolicySource(args.config)
        try:
            source.load()
        except ConfigFileError as exc:
            raise CliError(str(exc)) from None
        return source
    try:
        api_client = load_api_client(args.kubeconfig)
    except NoCluster as exc:
        raise CliError(
            f"cannot reach a cluster ({exc}); use --config FILE to run without one"
        ) from None
    return KubernetesPolicySource(Kube(api_client), args.namespace)


def served_kinds(source: PolicySource) -> ServedKinds | None:
    """Discovery through the policy watch's client; None without a cluster (--config FILE)."""
    if isinstance(source, KubernetesPolicySource):
        return ServedKindsCache(source.kube).served
    return None


def run(args: argparse.Namespace) -> int:
    logs.configure(args.log_level, args.log_format)
    serving = serving_limits(args)
    malloc = apply_malloc_settings()
    source = policy_source(args)
    certificates = CertificateReloader(args.cert, args.key)
    app = create_app(
        source,
        namespace=args.namespace,
        certificates=certificates,
        certificate_check_seconds=args.cert_check_interval,
        served_kinds=served_kinds(source),
        max_requests_in_flight=serving.max_requests_in_flight,
    )
    log.info(
        "webhook starting",
        extra={
            "fields": {
                "namespace": args.namespace,
                "policySource": args.config or "cluster",
                "requestTimeout": serving.request_timeout,
                "tlsHandshakeTimeout": serving.tls_handshake_timeout,
                "idleTimeout": serving.idle_timeout,
                "maxConnections": serving.max_connections,
                "maxRequestsInFlight": serving.max_requests_in_flight,
                "malloc": malloc,
            }
        },
    )
    try:
        asyncio.run(
            serve(
                app,
                host=args.address,
                port=args.port,
                ssl_context=certificates.server_context,
                limits=serving,
                shutdown_timeout=args.shutdown_timeout,
            )
        )
    except OSError as exc:
        raise CliError(f"cannot listen on {args.address}:{args.port}: {exc}") from None
    log.info("webhook stopped")
    return 0
