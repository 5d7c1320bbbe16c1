"""`tronador controller`: flags (with environment fallbacks) -> Settings -> Controller."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Mapping
from types import FrameType

from controller.health import parse_address
from controller.leaderelection import (
    DEFAULT_LEASE_DURATION,
    DEFAULT_LEASE_NAME,
    DEFAULT_RENEW_DEADLINE,
    DEFAULT_RETRY_PERIOD,
    LeaderElectionConfig,
    default_identity,
)
from controller.runtime import Replica
from controller.settings import (
    ReleaseFlavour,
    ReleaseOptions,
    Settings,
    default_namespace,
    env_default,
    parse_seconds,
)
from kube.client import NoCluster, load_api_client
from tronador import logs
from tronador.namespace import NAMESPACE_HELP

log = logging.getLogger(__name__)


def _seconds(text: str) -> float:
    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str] = os.environ) -> None:
    def env_or(name: str, default: str) -> str:
        return env_default(env, name, default=default)

    parser.add_argument(
        "--namespace",
        default=default_namespace(env),
        help=f"namespace of the TronadorConfig and of the controller [{NAMESPACE_HELP}]",
    )
    parser.add_argument(
        "--release-flavour",
        choices=[f.value for f in ReleaseFlavour],
        default=env_or("TRONADOR_RELEASE_FLAVOUR", ReleaseFlavour.FLUX_V2.value),
        help="HelmRelease kind to create: flux-v2 (helm.toolkit.fluxcd.io/v2 + GitRepository) or "
        "legacy (helm.fluxcd.io/v1) [env TRONADOR_RELEASE_FLAVOUR, default flux-v2]",
    )
    parser.add_argument(
        "--allow-unconfined-releases",
        action="store_true",
        default=env_or("TRONADOR_ALLOW_UNCONFINED_RELEASES", "") in ("1", "true"),
        help="run releases that cannot be confined to their namespace (the legacy flavour: "
        "the Helm Operator installs charts with its own account); every environment's status "
        "then says so [env TRONADOR_ALLOW_UNCONFINED_RELEASES, default off; docs/security.md]",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(env_or("TRONADOR_WORKERS", "4")),
        help="EPs reconciled in parallel [env TRONADOR_WORKERS, default 4]",
    )
    parser.add_argument(
        "--resync-period",
        type=_seconds,
        default=_seconds(env_or("TRONADOR_RESYNC_PERIOD", "10m")),
        help="re-reconcile every EP this often, from the cache [env TRONADOR_RESYNC_PERIOD, "
        "default 10m]",
    )
    parser.add_argument(
        "--deletion-timeout",
        type=_seconds,
        default=_seconds(env_or("TRONADOR_DELETION_TIMEOUT", "5m")),
        help="how long a deleted EP waits for Flux to uninstall its release before its namespace "
        "is deleted anyway [env TRONADOR_DELETION_TIMEOUT, default 5m]",
    )
    parser.add_argument(
        "--release-interval",
        default=env_or("TRONADOR_RELEASE_INTERVAL", "5m"),
        help="Flux v2 HelmRelease spec.interval [env TRONADOR_RELEASE_INTERVAL, default 5m]",
    )
    parser.add_argument(
        "--source-interval",
        default=env_or("TRONADOR_SOURCE_INTERVAL", "1m"),
        help="Flux v2 GitRepository spec.interval [env TRONADOR_SOURCE_INTERVAL, default 1m]",
    )
    parser.add_argument(
        "--remediation-retries",
        type=int,
        default=int(env_or("TRONADOR_REMEDIATION_RETRIES", "3")),
        help="Flux v2 install/upgrade remediation retries [env TRONADOR_REMEDIATION_RETRIES, "
        "default 3]",
    )
    parser.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=env_or("TRONADOR_LEADER_ELECT", "true").lower() not in ("false", "0", "no"),
        help="take part in leader election on a Lease; only the leader writes "
        "[env TRONADOR_LEADER_ELECT, default on]",
    )
    parser.add_argument(
        "--lease-name",
        default=env_or("TRONADOR_LEASE_NAME", DEFAULT_LEASE_NAME),
        help=f"the election's Lease (default {DEFAULT_LEASE_NAME})",
    )
    parser.add_argument(
        "--lease-namespace",
        default=env.get("TRONADOR_LEASE_NAMESPACE") or None,
        help="the Lease's namespace (default: --namespace)",
    )
    parser.add_argument(
        "--lease-duration",
        type=_seconds,
        default=DEFAULT_LEASE_DURATION,
        help="how long a standby waits for an unrenewed Lease before taking over (default 15s)",
    )
    parser.add_argument(
        "--renew-deadline",
        type=_seconds,
        default=DEFAULT_RENEW_DEADLINE,
        help="how long the leader keeps leading without a successful renewal (default 10s)",
    )
    parser.add_argument(
        "--retry-period",
        type=_seconds,
        default=DEFAULT_RETRY_PERIOD,
        help="how often standbys try to acquire and the leader renews (default 2s)",
    )
    parser.add_argument(
        "--metrics-address",
        default=env_or("TRONADOR_METRICS_ADDRESS", ":8080"),
        help="where /healthz, /readyz and /metrics are served; port 0 picks a free port, "
        "an empty value serves nothing [env TRONADOR_METRICS_ADDRESS, default :8080]",
    )
    parser.add_argument(
        "--kubeconfig",
        default=env.get("KUBECONFIG") or None,
        help="kubeconfig file [env KUBECONFIG, default: in-cluster, then ~/.kube/config]",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=env_or("TRONADOR_LOG_LEVEL", "info").lower(),
        help="[env TRONADOR_LOG_LEVEL, default info]",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings(
        namespace=args.namespace,
        release=ReleaseOptions(
            flavour=ReleaseFlavour(args.release_flavour),
            release_interval=args.release_interval,
            source_interval=args.source_interval,
            remediation_retries=args.remediation_retries,
            allow_unconfined=args.allow_unconfined_releases,
        ),
        workers=args.workers,
        resync_period=args.resync_period,
        deletion_timeout=args.deletion_timeout,
    )


def election_from_args(args: argparse.Namespace) -> LeaderElectionConfig | None:
    """The election's settings, or None with --no-leader-elect. ValueError when invalid."""
    if not args.leader_elect:
        return None
    return LeaderElectionConfig(
        identity=default_identity(),
        lease_name=args.lease_name,
        namespace=args.lease_namespace or args.namespace,
        lease_duration=args.lease_duration,
        renew_deadline=args.renew_deadline,
        retry_period=args.retry_period,
    ).validated()


def run(args: argparse.Namespace) -> int:
    logs.configure(args.log_level)
    try:
        settings = settings_from_args(args)
        election = election_from_args(args)
        if args.metrics_address:
            parse_address(args.metrics_address)
    except ValueError as exc:
        log.error("invalid settings", extra={"fields": {"error": str(exc)}})
        return 2
    try:
        api_client = load_api_client(args.kubeconfig)
    except NoCluster as exc:
        log.error("cannot reach a cluster", extra={"fields": {"error": str(exc)}})
        return 2
    replica = Replica(
        api_client,
        settings,
        election=election,
        metrics_address=args.metrics_address or None,
    )
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"fields": {"signal": signal.Signals(signum).name}})
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping.is_set():
        try:
            replica.start()
            break
        except TimeoutError:
            log.warning("caches not synced yet; still waiting (is the API server reachable?)")
    stopping.wait()
    replica.stop()  # steps down and releases the Lease first, so a standby takes over at once
    return 0
