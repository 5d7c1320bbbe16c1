"""Server-side apply, simplified (see README.md, "Server-side apply").

A field set is a set of paths of `fieldsV1` keys: `("f:metadata", "f:labels", "f:team")`. Maps
are walked key by key; a list with a known merge key has one path per item
(`k:{"uid":"..."}`, owned whole), `metadata.finalizers` one per value (`v:"x"`), any other list
is one field (atomic).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from tests.apiserver import errors
from tests.apiserver.resources import Resource

Obj = dict[str, Any]
FieldPath = tuple[str, ...]

APPLY = "Apply"
MERGE_KEYS = {"ownerReferences": "uid", "imagePullSecrets": "name", "conditions": "type"}
"""Lists of maps whose items are merged (and owned) one by one, by this key."""
SET_LISTS = {("metadata", "finalizers")}
"""Lists of scalars merged as sets."""
_IDENTITY = {
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"),
}


def _item_key(key: str, item: Any) -> str:
    return "k:" + json.dumps({key: item.get(key)}, separators=(",", ":"))


def field_set(config: Any, path: tuple[str, ...] = ()) -> set[FieldPath]:
    """The fields `config` sets (`path`: the plain keys above it, for the list rules)."""
    found: set[FieldPath] = set()

    def walk(value: Any, keys: tuple[str, ...], fields: FieldPath) -> None:
        if isinstance(value, dict) and value:
            for key, child in value.items():
                walk(child, (*keys, key), (*fields, f"f:{key}"))
            return
        keyed = isinstance(value, list) and value and keys[-1:] and keys[-1] in MERGE_KEYS
        if keyed and all(isinstance(i, dict) for i in value):
            for item in value:
                found.add((*fields, _item_key(MERGE_KEYS[keys[-1]], item)))
            return
        if isinstance(value, list) and value and keys in SET_LISTS:
            for item in value:
                found.add((*fields, "v:" + json.dumps(item)))
            return
        if fields and fields not in _IDENTITY:
            found.add(fields)

    walk(config, path, tuple(f"f:{k}" for k in path))
    return found


def to_fields_v1(paths: set[FieldPath]) -> Obj:
    root: Obj = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(key, {})
        if path[-1].startswith(("k:", "v:")):
            node.setdefault(".", {})
    return root


def from_fields_v1(fields: Obj, prefix: FieldPath = ()) -> set[FieldPath]:
    paths: set[FieldPath] = set()
    children = {k: v for k, v in fields.items() if k != "."}
    if prefix and not children:
        return {prefix}
    for key, child in children.items():
        paths |= from_fields_v1(child if isinstance(child, dict) else {}, (*prefix, key))
    return paths


def _lookup(obj: Any, path: FieldPath) -> tuple[bool, Any]:
    """(found, value) of the field at `path` in `obj`."""
    node = obj
    for key in path:
        kind, _, raw = key.partition(":")
        if kind == "f":
            if not isinstance(node, dict) or raw not in node:
                return False, None
            node = node[raw]
        elif kind == "k":
            wanted = json.loads(raw)
            items = [i for i in node or [] if isinstance(i, dict)] if isinstance(node, list) else []
            match = [i for i in items if all(i.get(k) == v for k, v in wanted.items())]
            if not match:
                return False, None
            node = match[0]
        elif kind == "v":
            value = json.loads(raw)
            return (isinstance(node, list) and value in node), value
    return True, node


def _remove(obj: Obj, path: FieldPath) -> None:
    parent_found, parent = _lookup(obj, path[:-1])
    if not parent_found:
        return
    kind, _, raw = path[-1].partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(raw, None)
    elif kind in ("k", "v") and isinstance(parent, list):
        wanted = json.loads(raw)
        parent[:] = [
            i
            for i in parent
            if not (
                (kind == "v" and i == wanted)
                or (kind == "k" and isinstance(i, dict)
                    and all(i.get(k) == v for k, v in wanted.items()))
            )
        ]  # fmt: skip


def merge(target: Any, config: Any, keys: tuple[str, ...] = ()) -> Any:
    """`config` merged into `target`: maps key by key, keyed lists item by item, set lists as a
    union, any other value replaced."""
    if isinstance(config, dict):
        result = dict(target) if isinstance(target, dict) else {}
        for key, value in config.items():
            result[key] = merge(result.get(key), value, (*keys, key))
        return result
    if isinstance(config, list) and keys[-1:] and keys[-1] in MERGE_KEYS:
        key = MERGE_KEYS[keys[-1]]
        items = copy.deepcopy(target) if isinstance(target, list) else []
        for item in config:
            same = [n for n, i in enumerate(items) if isinstance(i, dict) and i.get(key) == (
                item.get(key) if isinstance(item, dict) else None)]  # fmt: skip
            if same:
                items[same[0]] = merge(items[same[0]], item, keys)
            else:
                items.append(copy.deepcopy(item))
        return items
    if isinstance(config, list) and keys in SET_LISTS:
        items = list(target) if isinstance(target, list) else []
        return items + [v for v in config if v not in items]
    return copy.deepcopy(config)


def _entries(obj: Obj | None) -> list[Obj]:
    return list(((obj or {}).get("metadata") or {}).get("managedFields") or [])


def _conflict(resource: Resource, name: str, found: list[tuple[FieldPath, str]]) -> errors.APIError:
    def text(path: FieldPath) -> str:
        out = ""
        for key in path:
            kind, _, raw = key.partition(":")
            out += f".{raw}" if kind == "f" else f"[{raw}]"
        return out

    causes = [
        {
            "type": "FieldManagerConflict",
            "message": f'conflict with "{manager}"',
            "field": text(path),
        }
        for path, manager in found
    ]
    plural = "conflict" if len(found) == 1 else "conflicts"
    listed = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
    return errors.APIError(
        errors.status(
            409,
            "Conflict",
            f"Apply failed with {len(found)} {plural}: {listed}",
            {"name": name, "group": resource.group, "kind": resource.plural, "causes": causes},
        )
    )


def apply(
    resource: Resource,
    current: Obj | None,
    config: Any,
    manager: str | None,
    force: bool,
    subresource: str | None,
) -> tuple[Obj, list[Obj]]:
    """The object after applying `config` as `manager`, and its new managedFields. 409 when
    another manager owns a field we set with another value and `force` is false."""
    if not manager:
        raise errors.bad_request("PATCH, application/apply-patch+yaml: fieldManager is required")
    if not isinstance(config, dict) or not (config.get("metadata") or {}).get("name"):
        raise errors.bad_request("the applied configuration needs apiVersion, kind and a name")
    if config.get("apiVersion") != resource.api_version or config.get("kind") != resource.kind:
        raise errors.bad_request(
            f"apply: apiVersion/kind of the configuration must be {resource.api_version}, "
            f"{resource.kind}"
        )
    scope = subresource or ""
    applied = field_set(config)
    if scope == "status":
        applied = {p for p in applied if p[:1] == ("f:status",)}
    else:
        status_apart = resource.status_subresource
        applied = {p for p in applied if not (status_apart and p[:1] == ("f:status",))}
    ours, others = None, []
    for entry in _entries(current):
        same_scope = str(entry.get("subresource") or "") == scope
        if same_scope and entry.get("manager") == manager and entry.get("operation") == APPLY:
            ours = entry
        else:
            others.append(copy.deepcopy(entry))
    obj = copy.deepcopy(current) if current is not None else {}
    conflicts: list[tuple[FieldPath, str]] = []
    for entry in others:
        if str(entry.get("subresource") or "") != scope:
            continue
        theirs = from_fields_v1(entry.get("fieldsV1") or {})
        for path in sorted(applied & theirs):
            mine = _lookup(config, path)
            if mine != _lookup(obj, path) and not isinstance(mine[1], dict):  # maps: no conflict
                conflicts.append((path, str(entry.get("manager"))))
    if conflicts and not force:
        raise _conflict(resource, str(config["metadata"]["name"]), conflicts)
    taken = {path for path, _ in conflicts}
    for entry in others:
        if taken and str(entry.get("subresource") or "") == scope:
            kept = from_fields_v1(entry.get("fieldsV1") or {}) - taken
            entry["fieldsV1"] = to_fields_v1(kept)
    others = [e for e in others if e.get("fieldsV1")]
    previous = from_fields_v1((ours or {}).get("fieldsV1") or {})
    still_owned = set().union(*(from_fields_v1(e.get("fieldsV1") or {}) for e in others))
    for path in sorted(previous - applied, key=len, reverse=True):
        if path not in still_owned:
            _remove(obj, path)
    part = {k: v for k, v in config.items() if k not in ("apiVersion", "kind")}
    if scope == "status":
        part = {"status": part.get("status")} if "status" in part else {}
    elif resource.status_subresource:
        part.pop("status", None)
    obj = merge(obj, part)
    obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
    if ours is not None and from_fields_v1(ours.get("fieldsV1") or {}) == applied:
        entry = ours
    else:
        entry = {
            "manager": manager,
            "operation": APPLY,
            "apiVersion": resource.api_version,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(applied),
        }
        if scope:
            entry["subresource"] = scope
    return obj, [*others, entry]
