"""Applying the PATCH content types the API server accepts."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from tests.apiserver import errors
from tests.apiserver.resources import Resource

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


_MERGE_KEYS = {
    "ownerReferences": "uid",
    "imagePullSecrets": "name",
    "secrets": "name",
    "webhooks": "name",
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "conditions": "type",
}
"""patchStrategy=merge lists of maps in the built-in types we serve, by their patchMergeKey."""
_SCALAR_MERGE_PATHS = {("metadata", "finalizers")}
"""patchStrategy=merge lists of scalars: a patch adds to them (a union), it does not replace."""
_DELETE_FROM = "$deleteFromPrimitiveList/"
_DELETE = object()


def _without_directives(item: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("$")}


def _merge_keyed_list(current: Any, patch: list[Any], key: str, path: tuple[str, ...]) -> Any:
    if not all(isinstance(item, dict) for item in patch):
        return copy.deepcopy(patch)
    if any(item.get("$patch") == "replace" for item in patch):
        return [_without_directives(i) for i in patch if i.get("$patch") != "replace"]
    items = copy.deepcopy(current) if isinstance(current, list) else []
    for item in patch:
        same = [
            n for n, i in enumerate(items) if isinstance(i, dict) and i.get(key) == item.get(key)
        ]
        if item.get("$patch") == "delete":
            items = [i for n, i in enumerate(items) if n not in same]
        elif same:
            items[same[0]] = strategic_merge_patch(items[same[0]], item, path)
        else:
            items.append(_without_directives(item))
    return items


def strategic_merge_patch(target: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """Strategic merge for the built-in kinds we serve, without their Go schema: the
    patchStrategy=merge fields are listed above; every other list is replaced. Supports the
    `$patch: replace|delete` and `$deleteFromPrimitiveList/` directives; `$setElementOrder/`
    and `$retainKeys` are accepted and ignored."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _without_directives(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith(_DELETE_FROM) and isinstance(value, list):
            field = key[len(_DELETE_FROM) :]
            kept = [v for v in result.get(field) or [] if v not in value]
            result[field] = kept
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        here = (*path, key)
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and here in _SCALAR_MERGE_PATHS:
            merged = list(current) if isinstance(current, list) else []
            merged += [v for v in value if v not in merged]
            result[key] = merged
        elif isinstance(value, list) and key in _MERGE_KEYS:
            result[key] = _merge_keyed_list(current, value, _MERGE_KEYS[key], here)
        elif isinstance(value, dict):
            merged_map = strategic_merge_patch(current, value, here)
            if merged_map is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged_map
        else:
            result[key] = copy.deepcopy(value)
    return result


def apply_patch(resource: Resource, current: dict[str, Any], content_type: str, body: Any) -> Any:
    media = content_type.split(";")[0].strip().lower()
    if media == MERGE_PATCH:
        if not isinstance(body, dict):
            raise errors.bad_request("json: cannot unmarshal into Go value of type map[string]")
        return merge_patch(current, body)
    if media == STRATEGIC_MERGE_PATCH and not resource.custom:
        if not isinstance(body, dict):
            raise errors.bad_request("json: cannot unmarshal into Go value of type map[string]")
        return strategic_merge_patch(current, body)
    if media == JSON_PATCH:
        if not isinstance(body, list):
            raise errors.bad_request(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
        try:
            return jsonpatch.JsonPatch(body).apply(current)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise errors.patch_rejected() from exc
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise errors.patch_rejected() from exc
    raise errors.unsupported_media_type(media)
