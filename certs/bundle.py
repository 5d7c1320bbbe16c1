"""Keeping ``caBundle`` right in the webhook configurations.

Configurations are read as plain JSON through `kube.api.Kube`, so fields the client's typed
models do not know survive. Updates are JSON patches that first test the
resourceVersion that was read, so a concurrent writer makes the patch fail (422, or 409)
and we re-read instead of patching the wrong webhook entry.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kube.api import ApiError, Kube, Obj
from kube.resources import MUTATING_WEBHOOK_CONFIGURATIONS, VALIDATING_WEBHOOK_CONFIGURATIONS

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5


class Kind(StrEnum):
    MUTATING = "MutatingWebhookConfiguration"
    VALIDATING = "ValidatingWebhookConfiguration"


class BundleError(RuntimeError):
    pass


class Outcome(StrEnum):
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    MISSING = "missing"


@dataclass(frozen=True)
class WebhookState:
    """How one configuration's webhooks compare with the wanted bundle."""

    kind: Kind
    name: str
    exists: bool
    webhooks: dict[str, bytes | None]
    """Webhook name -> its decoded caBundle (None when unset or not base64)."""

    def stale(self, bundle_pem: bytes) -> list[str]:
        return [n for n, b in self.webhooks.items() if b != bundle_pem]

    def trusts(self, bundle_pem: bytes) -> bool:
        return not self.exists or not self.stale(bundle_pem)


def _decode(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _read_raw(kube: Kube, kind: Kind, name: str) -> Obj | None:
    try:
        if kind is Kind.MUTATING:
            return kube.get(MUTATING_WEBHOOK_CONFIGURATIONS, name)
        return kube.get(VALIDATING_WEBHOOK_CONFIGURATIONS, name)
    except ApiError as e:
        raise BundleError(f"reading {kind} {name}: HTTP {e.status} {e.reason}") from None


def _patch(kube: Kube, kind: Kind, name: str, ops: list[dict[str, Any]]) -> None:
    if kind is Kind.MUTATING:
        kube.patch(MUTATING_WEBHOOK_CONFIGURATIONS, name, ops)
    else:
        kube.patch(VALIDATING_WEBHOOK_CONFIGURATIONS, name, ops)


def read_state(kube: Kube, kind: Kind, name: str) -> WebhookState:
    obj = _read_raw(kube, kind, name)
    if obj is None:
        return WebhookState(kind, name, exists=False, webhooks={})
    hooks = {
        str(h.get("name")): _decode((h.get("clientConfig") or {}).get("caBundle"))
        for h in obj.get("webhooks") or []
    }
    return WebhookState(kind, name, exists=True, webhooks=hooks)


def inject(kube: Kube, kind: Kind, name: str, bundle_pem: bytes) -> Outcome:
    """Set caBundle on every webhook of the configuration, writing only when it differs."""
    wanted = base64.b64encode(bundle_pem).decode("ascii")
    for _ in range(MAX_CONFLICT_RETRIES):
        obj = _read_raw(kube, kind, name)
        if obj is None:
            return Outcome.MISSING
        ops: list[dict[str, Any]] = [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": obj["metadata"]["resourceVersion"],
            }
        ]
        changed = []
        for i, hook in enumerate(obj.get("webhooks") or []):
            if _decode((hook.get("clientConfig") or {}).get("caBundle")) == bundle_pem:
                continue
            changed.append(str(hook.get("name")))
            ops.append({"op": "test", "path": f"/webhooks/{i}/name", "value": hook.get("name")})
            if "clientConfig" not in hook:
                ops.append({"op": "add", "path": f"/webhooks/{i}/clientConfig", "value": {}})
            ops.append(
                {"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": wanted}
            )
        if not changed:
            return Outcome.UNCHANGED
        try:
            _patch(kube, kind, name, ops)
        except ApiError as e:
            if e.status in (409, 422):
                continue  # changed under us (failed test op): re-read and try again
            if e.status == 404:
                return Outcome.MISSING
            raise BundleError(f"updating {kind} {name}: HTTP {e.status} {e.reason}") from None
        log.info(
            "caBundle updated",
            extra={"fields": {"kind": str(kind), "name": name, "webhooks": changed}},
        )
        return Outcome.UPDATED
    raise BundleError(f"updating {kind} {name}: still conflicting after retries")
