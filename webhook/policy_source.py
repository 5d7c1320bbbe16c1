"""Where the rules' Policy comes from: the interface the server reads, and the shared logic of
turning a TronadorConfig into the current policy."""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from tronador.api import Policy, TronadorConfig
from tronador.rules.config_rules import validate_tronador_config

log = logging.getLogger(__name__)


class PolicySource(Protocol):
    """The server reads `policy` on every request; implementations swap it whole."""

    @property
    def policy(self) -> Policy | None:
        """The policy to apply; None when no valid one is known (EP requests are then denied)."""
        ...

    @property
    def synced(self) -> bool:
        """Whether the source has read its origin at least once (part of readiness)."""
        ...

    @property
    def last_sync(self) -> float | None:
        """When the source last confirmed that `policy` is its origin's (Unix time; None:
        never). An origin that cannot be read or holds an invalid config stops it advancing."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class PolicyHolder:
    """The current policy, replaced by one attribute store (safe to read from the event loop
    while a background thread updates it). An invalid TronadorConfig never replaces a good
    policy."""

    def __init__(self, namespace: str | None, origin: str) -> None:
        self.namespace = namespace
        self.origin = origin
        self.policy: Policy | None = None
        self.synced = False
        self.last_sync: float | None = None
        self._in_sync = False

    def confirm(self) -> None:
        """The origin was read again and is unchanged: the policy is still current (unless the
        origin holds an invalid config)."""
        if self._in_sync:
            self.last_sync = time.time()

    def unusable(self) -> None:
        """The origin could not be read as a TronadorConfig: the policy in force stays, but
        `last_sync` stops until a usable config arrives."""
        self._in_sync = False

    def _applied(self, usable: bool) -> bool:
        self._in_sync = usable
        if usable:
            self.last_sync = time.time()
        return usable

    def apply(self, config: Any, version: str = "") -> bool:
        """Use the policy of `config` (a TronadorConfig as JSON; None when there is none).
        Returns whether it was usable; logs why not (violations only, never the object)."""
        fields: dict[str, Any] = {"source": self.origin, "resourceVersion": version}
        if config is None:
            policy = Policy()
            changed = policy != self.policy
            self.policy, self.synced = policy, True
            if changed:
                log.info("no TronadorConfig: using the default policy", extra={"fields": fields})
            return self._applied(True)
        findings = validate_tronador_config(config, self.namespace)
        if not findings.allowed:
            self.synced = True
            kept = "keeping the last good policy" if self.policy else "no valid policy yet"
            log.error(
                f"invalid TronadorConfig ignored; {kept}",
                extra={"fields": {**fields, "violations": [str(v) for v in findings.violations]}},
            )
            return self._applied(False)
        policy = TronadorConfig.model_validate(config).spec.policy
        changed = policy != self.policy
        self.policy, self.synced = policy, True
        if changed:
            log.info("policy applied", extra={"fields": fields})
        return self._applied(True)
