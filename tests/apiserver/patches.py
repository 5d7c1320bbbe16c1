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


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A merge patch that also merges lists of maps keyed by `name` (containers, env,
    imagePullSecrets...). Other lists are replaced, directives like `$patch` are not supported."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif _named_list(value) and _named_list(current) and value:
            merged = {item["name"]: item for item in current}
            order = [item["name"] for item in current]
            for item in value:
                if item["name"] not in merged:
                    order.append(item["name"])
                merged[item["name"]] = strategic_merge_patch(merged.get(item["name"]), item)
            result[key] = [merged[name] for name in order]
        else:
            result[key] = strategic_merge_patch(current, value)
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
