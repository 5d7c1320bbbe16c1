"""Comparing a desired object with the one the cluster holds (pure).

An object is up to date when it carries the hash of its desired form (so a field we stopped
setting is noticed) and every field we set still has our value (so someone's edit is repaired).
Fields the API server or other controllers add (defaults, status, other labels) are left alone.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

HASH_ANNOTATION = "tronador.stakater.com/applied-hash"

_SERVER_OWNED = ("metadata", "status", "apiVersion", "kind")


def content_hash(body: dict[str, Any]) -> str:
    """A stable hash of everything in `body` except the hash annotation itself."""
    stripped = copy.deepcopy(body)
    annotations = stripped.get("metadata", {}).get("annotations", {})
    annotations.pop(HASH_ANNOTATION, None)
    encoded = json.dumps(stripped, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def with_hash(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with its content hash recorded in an annotation (a new dict)."""
    out = copy.deepcopy(body)
    out.setdefault("metadata", {}).setdefault("annotations", {})[HASH_ANNOTATION] = content_hash(
        out
    )
    return out


def contains(actual: Any, wanted: Any) -> bool:
    """Whether every field of `wanted` has the same value in `actual` (extra fields allowed; a
    missing field equals an empty map or list, as built-in kinds drop those: Go's omitempty)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(
            contains(actual[key], value) if key in actual else value in ({}, [])
            for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(wanted)
            and all(contains(a, w) for a, w in zip(actual, wanted, strict=True))
        )
    return bool(actual == wanted)


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def needs_update(desired: dict[str, Any], actual: dict[str, Any]) -> bool:
    if _annotations(actual).get(HASH_ANNOTATION) != _annotations(desired).get(HASH_ANNOTATION):
        return True
    return not contains(actual, desired)


def merged_for_update(desired: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    """The object to PUT: `actual`'s server-side metadata (resourceVersion, finalizers, other
    labels and annotations) with our labels, annotations and owner references, and our content
    in place of every other top-level field."""
    meta = copy.deepcopy(actual.get("metadata") or {})
    wanted_meta = desired.get("metadata") or {}
    for key in ("labels", "annotations"):
        merged = dict(meta.get(key) or {})
        merged.update(wanted_meta.get(key) or {})
        if merged:
            meta[key] = merged
    if "ownerReferences" in wanted_meta:
        meta["ownerReferences"] = merge_owner_references(
            meta.get("ownerReferences") or [], wanted_meta["ownerReferences"]
        )
    out: dict[str, Any] = {k: copy.deepcopy(v) for k, v in desired.items() if k != "metadata"}
    out["metadata"] = meta
    if "status" in actual:
        out["status"] = copy.deepcopy(actual["status"])
    return out


def merge_owner_references(
    current: list[dict[str, Any]], wanted: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    uids = {ref.get("uid") for ref in wanted}
    return [ref for ref in current if ref.get("uid") not in uids] + copy.deepcopy(wanted)


def owner_reference_missing(actual: dict[str, Any], wanted: list[dict[str, Any]]) -> bool:
    current = {
        ref.get("uid") for ref in (actual.get("metadata") or {}).get("ownerReferences") or []
    }
    return any(ref.get("uid") not in current for ref in wanted)


def label_changes(
    current: dict[str, str], wanted: dict[str, str], previously_applied: dict[str, str]
) -> dict[str, str | None]:
    """Labels to set (value) or remove (None) so `current` carries `wanted`; a label is removed
    only when we applied it before and it is no longer wanted. Others' labels are left alone."""
    changes: dict[str, str | None] = {k: v for k, v in wanted.items() if current.get(k) != v}
    for key in previously_applied:
        if key not in wanted and key in current:
            changes[key] = None
    return changes


def apply_label_changes(labels: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    out = dict(labels)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out
