"""The controller's settings: one frozen value built from flags, environment or code."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE
from tronador.namespace import system_namespace
from tronador.patterns import bounded
from tronador.rules.durations import parse_duration

FLUX_INTERVAL = bounded(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$", 64)
"""The duration format Flux's CRDs accept for `interval`."""


class ReleaseFlavour(StrEnum):
    FLUX_V2 = "flux-v2"
    """helm.toolkit.fluxcd.io/v2 HelmRelease + source.toolkit.fluxcd.io/v1 GitRepository."""
    LEGACY = "legacy"
    """helm.fluxcd.io/v1 HelmRelease of the Flux v1 Helm Operator, as in the workflow guide."""


@dataclass(frozen=True)
class ReleaseOptions:
    """What shapes the Flux objects the controller writes."""

    flavour: ReleaseFlavour = ReleaseFlavour.FLUX_V2
    release_interval: str = "5m"
    source_interval: str = "1m"
    remediation_retries: int = 3
    allow_unconfined: bool = False
    """The admin's explicit opt-in to releases that cannot be confined (the legacy flavour)."""

    def __post_init__(self) -> None:
        for name in ("release_interval", "source_interval"):
            if not FLUX_INTERVAL.match(getattr(self, name)):
                raise ValueError(f"{name} {getattr(self, name)!r} is not a Flux interval like 5m")
        if self.remediation_retries < 0:
            raise ValueError("remediation_retries must be >= 0")


@dataclass(frozen=True)
class Settings:
    """Durations are in seconds."""

    namespace: str = DEFAULT_SYSTEM_NAMESPACE
    release: ReleaseOptions = ReleaseOptions()
    workers: int = 4
    resync_period: float = 600.0
    deletion_timeout: float = 300.0
    deletion_poll: float = 5.0
    """How often a deleting EP re-checks that its HelmRelease is gone (watch events wake it too)."""
    backoff_base: float = 0.5
    backoff_max: float = 300.0
    watch_timeout: float = 300.0
    """Server-side timeout of one watch request; the watch resumes from its resourceVersion."""
    request_timeout: float = 30.0
    conflict_retries: int = 3
    event_namespace: str = "default"
    """Where Events about cluster-scoped EPs go (as client-go's recorder does)."""
    component: str = "tronador-controller"

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        for name in ("resync_period", "deletion_timeout", "deletion_poll", "watch_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if not 0 < self.backoff_base <= self.backoff_max:
            raise ValueError("backoff_base must be > 0 and <= backoff_max")

    @property
    def flavour(self) -> ReleaseFlavour:
        return self.release.flavour


def parse_seconds(text: str) -> float:
    """`90`, `1.5`, `30s`, `10m`, `1h30m` -> seconds."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        duration = parse_duration(text)
        if duration is None:
            raise ValueError(f"{text!r} is not a duration like 30s, 10m or 1h") from None
        return duration.total_seconds()
    if value <= 0:
        raise ValueError(f"{text!r} must be positive")
    return value


def env_default(env: Mapping[str, str], *names: str, default: str) -> str:
    """The first of `names` set in `env`, else `default`."""
    for name in names:
        value = env.get(name)
        if value:
            return value
    return default


def default_namespace(env: Mapping[str, str] = os.environ) -> str:
    return system_namespace(env)
