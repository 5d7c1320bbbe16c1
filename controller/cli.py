"""`tronador controller`: flags (with environment fallbacks) -> Settings -> Controller."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from collections.abc import Mapping
from types import FrameType

from controller.manager import Controller
from controller.settings import (
    ReleaseFlavour,
    ReleaseOptions,
    Settings,
    default_namespace,
    env_default,
    parse_seconds,
)
from tronador import logs
from tronador.kube import load_api_client

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
        help="namespace of the TronadorConfig and of the controller "
        "(env TRONADOR_NAMESPACE, POD_NAMESPACE; default tronador-system)",
    )
    parser.add_argument(
        "--release-flavour",
        choices=[f.value for f in ReleaseFlavour],
        default=env_or("TRONADOR_RELEASE_FLAVOUR", ReleaseFlavour.FLUX_V2.value),
        help="HelmRelease kind to create: flux-v2 (helm.toolkit.fluxcd.io/v2 + GitRepository) or "
        "legacy (helm.fluxcd.io/v1) (env TRONADOR_RELEASE_FLAVOUR; default flux-v2)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(env_or("TRONADOR_WORKERS", "4")),
        help="EPs reconciled in parallel (env TRONADOR_WORKERS; default 4)",
    )
    parser.add_argument(
        "--resync-period",
        type=_seconds,
        default=_seconds(env_or("TRONADOR_RESYNC_PERIOD", "10m")),
        help="re-reconcile every EP this often, from the cache (env TRONADOR_RESYNC_PERIOD; "
        "default 10m)",
    )
    parser.add_argument(
        "--deletion-timeout",
        type=_seconds,
        default=_seconds(env_or("TRONADOR_DELETION_TIMEOUT", "5m")),
        help="how long a deleted EP waits for Flux to uninstall its release before its namespace "
        "is deleted anyway (env TRONADOR_DELETION_TIMEOUT; default 5m)",
    )
    parser.add_argument(
        "--release-interval",
        default=env_or("TRONADOR_RELEASE_INTERVAL", "5m"),
        help="Flux v2 HelmRelease spec.interval (env TRONADOR_RELEASE_INTERVAL; default 5m)",
    )
    parser.add_argument(
        "--source-interval",
        default=env_or("TRONADOR_SOURCE_INTERVAL", "1m"),
        help="Flux v2 GitRepository spec.interval (env TRONADOR_SOURCE_INTERVAL; default 1m)",
    )
    parser.add_argument(
        "--remediation-retries",
        type=int,
        default=int(env_or("TRONADOR_REMEDIATION_RETRIES", "3")),
        help="Flux v2 install/upgrade remediation retries (env TRONADOR_REMEDIATION_RETRIES; "
        "default 3)",
    )
    parser.add_argument(
        "--kubeconfig",
        default=env.get("KUBECONFIG") or None,
        help="kubeconfig file (env KUBECONFIG; default: in-cluster, then ~/.kube/config)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=env_or("TRONADOR_LOG_LEVEL", "info").lower(),
        help="(env TRONADOR_LOG_LEVEL; default info)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings(
        namespace=args.namespace,
        release=ReleaseOptions(
            flavour=ReleaseFlavour(args.release_flavour),
            release_interval=args.release_interval,
            source_interval=args.source_interval,
            remediation_retries=args.remediation_retries,
        ),
        workers=args.workers,
        resync_period=args.resync_period,
        deletion_timeout=args.deletion_timeout,
    )


def run(args: argparse.Namespace) -> int:
    logs.configure(args.log_level)
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        log.error("invalid settings", extra={"fields": {"error": str(exc)}})
        return 2
    controller = Controller(load_api_client(args.kubeconfig), settings)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"fields": {"signal": signal.Signals(signum).name}})
        controller.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not controller.stopped:
        try:
            controller.start()
            break
        except TimeoutError:
            log.warning("caches not synced yet; still waiting (is the API server reachable?)")
    controller.run_until_stopped()
    return 0
