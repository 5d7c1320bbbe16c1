"""Keeping ``caBundle`` right in the webhook configurations.

Configurations are read as plain JSON (``_preload_content=False``): the typed models of the
client reject fields they do not know. Updates are JSON patches that first test the
resourceVersion that was read, so a concurrent writer makes the patch fail (422, or 409)
and we re-read instead of patching the wrong webhook entry.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

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


def _read_raw(api: client.AdmissionregistrationV1Api, kind: Kind, name: str) -> dict | None:
    read = (
        api.read_mutating_webhook_configuration
        if kind is Kind.MUTATING
        else api.read_validating_webhook_configuration
    )
    try:
        resp = read(name, _preload_content=False)
    except ApiException as e:
        if e.status == 404:
            return None
        raise BundleError(f"reading {kind} {name}: HTTP {e.status} {e.reason}") from None
    return json.loads(resp.data)


def read_state(api: client.AdmissionregistrationV1Api, kind: Kind, name: str) -> WebhookState:
    obj = _read_raw(api, kind, name)
    if obj is None:
        return WebhookState(kind, name, exists=False, webhooks={})
    hooks = {
        str(h.get("name")): _decode((h.get("clientConfig") or {}).get("caBundle"))
        for h in obj.get("webhooks") or []
    }
    return WebhookState(kind, name, exists=True, webhooks=hooks)


def inject(
    api: client.AdmissionregistrationV1Api, kind: Kind, name: str, bundle_pem: bytes
) -> Outcome:
    """Set caBundle on every webhook of the configuration, writing only when it differs."""
    wanted = base64.b64encode(bundle_pem).decode("ascii")
    patch = (
        api.patch_mutating_webhook_configuration
        if kind is Kind.MUTATING
        else api.patch_validating_webhook_configuration
    )
    for _ in range(MAX_CONFLICT_RETRIES):
        obj = _read_raw(api, kind, name)
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
            patch(
                name,
                ops,
                _content_type="application/json-patch+json",
                _preload_content=False,
            )
        except ApiException as e:
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
