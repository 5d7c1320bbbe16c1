"""The in-cluster loop: Secret -> webhook configurations' caBundle -> files on disk.

Run it as a sidecar (``tronador certs sync --loop``) or as an init step
(``tronador certs sync``). Any number of
replicas may run it at once: Secret writes are conditional on the resourceVersion read, a
lost race means re-read and re-decide, so they converge on one CA.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kubernetes import client

from certs import bundle, defaults, files
from certs.bundle import Kind, Outcome
from certs.pki import Policy, ServingSpec
from certs.plan import Material, plan
from certs.secret import SecretStore
from kube.api import ApiError, Kube

log = logging.getLogger(__name__)

MAX_SECRET_ATTEMPTS = 5


class SyncError(RuntimeError):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def describe_error(e: BaseException) -> str:
    """One line, never a response body (Secret responses carry keys)."""
    if isinstance(e, ApiError):
        return f"HTTP {e.status} {e.reason}" if e.status else f"{e.reason}: {e.message}"
    return f"{type(e).__name__}: {e}"


@dataclass(frozen=True)
class SyncConfig:
    secret_name: str = defaults.SECRET_NAME
    namespace: str = defaults.NAMESPACE
    spec: ServingSpec = field(default_factory=ServingSpec)
    mutating_webhook: str | None = defaults.MUTATING_WEBHOOK_NAME
    validating_webhook: str | None = defaults.VALIDATING_WEBHOOK_NAME
    out_dir: str | None = None
    """Write ca.crt, tls.crt, tls.key here after every pass (None: do not write files)."""
    policy: Policy = field(default_factory=Policy)

    def webhook_configurations(self) -> list[tuple[Kind, str]]:
        out = []
        if self.mutating_webhook:
            out.append((Kind.MUTATING, self.mutating_webhook))
        if self.validating_webhook:
            out.append((Kind.VALIDATING, self.validating_webhook))
        return out


@dataclass
class SyncResult:
    material: Material
    secret_written: bool
    reasons: list[str]
    webhooks: dict[str, Outcome]
    """``Kind/name`` -> outcome; a configuration that could not be updated is absent."""
    files_written: bool


class CertSync:
    def __init__(
        self,
        api_client: client.ApiClient,
        config: SyncConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config or SyncConfig()
        self.clock = clock
        self.kube = Kube(api_client)
        self.store = SecretStore(self.kube, self.config.secret_name, self.config.namespace)
        self._last_outcome: dict[str, Outcome | str] = {}

    @property
    def _fields(self) -> dict[str, str]:
        return {"secret": self.config.secret_name, "namespace": self.config.namespace}

    def ensure_secret(self) -> tuple[Material, list[str], bool]:
        """Make the Secret hold valid material; returns (material, reasons, written)."""
        for _ in range(MAX_SECRET_ATTEMPTS):
            stored = self.store.read()
            data = stored.data if stored else None
            published = True
            if data and data.get(defaults.SECRET_NEXT_CA_KEY):
                published = self._bundle_published(data.get(defaults.SECRET_CA_BUNDLE, b""))
            decision = plan(data, self.config.spec, self.clock(), self.config.policy, published)
            if not decision.changed:
                return decision.material, [], False
            payload = decision.material.to_secret_data()
            won = (
                self.store.create(payload)
                if stored is None
                else self.store.replace(payload, stored)
            )
            if won:
                level = logging.WARNING if decision.repaired else logging.INFO
                log.log(
                    level,
                    "webhook certificate material replaced"
                    if stored
                    else "webhook certificate material created",
                    extra={"fields": {**self._fields, "reasons": decision.reasons}},
                )
                return decision.material, decision.reasons, True
            log.info(
                "secret changed by another writer; re-reading",
                extra={"fields": self._fields},
            )
        raise SyncError(
            f"secret {self.config.namespace}/{self.config.secret_name}: "
            f"still conflicting after {MAX_SECRET_ATTEMPTS} attempts"
        )

    def _bundle_published(self, bundle_pem: bytes) -> bool:
        try:
            return all(
                bundle.read_state(self.kube, kind, name).trusts(bundle_pem)
                for kind, name in self.config.webhook_configurations()
            )
        except Exception as e:
            log.warning(
                "cannot read webhook configurations; holding CA rotation",
                extra={"fields": {"error": describe_error(e)}},
            )
            return False

    def publish(self, bundle_pem: bytes) -> dict[str, Outcome]:
        """Inject the bundle into each configuration; failures are logged, not raised."""
        outcomes: dict[str, Outcome] = {}
        for kind, name in self.config.webhook_configurations():
            key = f"{kind}/{name}"
            try:
                outcome = bundle.inject(self.kube, kind, name, bundle_pem)
            except Exception as e:
                self._note(key, "error", "cannot update caBundle", describe_error(e))
                continue
            outcomes[key] = outcome
            if outcome is Outcome.MISSING:
                self._note(key, outcome, "webhook configuration not found; will retry")
            else:
                self._last_outcome[key] = outcome
        return outcomes

    def _note(self, key: str, state: Outcome | str, msg: str, error: str | None = None) -> None:
        """Warn once per change of state, not on every pass."""
        if self._last_outcome.get(key) != state or error:
            fields = {"configuration": key, **({"error": error} if error else {})}
            log.warning(msg, extra={"fields": fields})
        self._last_outcome[key] = state

    def write_files(self, material: Material) -> bool:
        if not self.config.out_dir:
            return False
        wrote = files.write(
            self.config.out_dir,
            files.CertFiles(
                ca_cert=material.bundle_pem,
                tls_cert=material.leaf.cert_pem,
                tls_key=material.leaf.key_pem,
            ),
        )
        if wrote:
            log.info("certificate files written", extra={"fields": {"dir": self.config.out_dir}})
        return wrote

    def sync_once(self) -> SyncResult:
        """One pass. Raises when the Secret cannot be ensured (the API is unreachable...)."""
        material, reasons, written = self.ensure_secret()
        outcomes = self.publish(material.bundle_pem)
        wrote = self.write_files(material)
        return SyncResult(material, written, reasons, outcomes, wrote)

    def run_forever(
        self,
        interval: float = defaults.SYNC_INTERVAL_SECONDS,
        stop: threading.Event | None = None,
        on_pass: Callable[[SyncResult], None] | None = None,
    ) -> None:
        """Sync every ``interval`` seconds until ``stop`` is set; never raises."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                result = self.sync_once()
            except Exception as e:
                log.error(
                    "certificate sync failed; will retry",
                    extra={"fields": {**self._fields, "error": describe_error(e)}},
                )
            else:
                if on_pass is not None:
                    on_pass(result)
            stop.wait(interval)
