"""What server-side apply owns, read from `metadata.managedFields` (pure: no I/O).

An applied configuration is our whole intent for the fields we manage. Its field set is compared
with the `fieldsV1` of our manager's Apply entry: when the cached object already holds every
field of the configuration with our value and our entry covers exactly those fields, applying
again would change nothing, so the controller skips the call (an idle resync costs nothing).

Paths are tuples of map keys. Lists are compared whole on both sides: the server may track a
list's items by key (`k:{...}`), by value (`v:...`) or by index (`i:N`), which depends on its
schema, so a `fieldsV1` node with item children counts as one field, the list itself.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from kube.api import FIELD_MANAGER

MANAGER = FIELD_MANAGER
APPLY = "Apply"
LEGACY_MANAGERS = frozenset({"OpenAPI-Generator"})
"""The field manager our versions before server-side apply wrote as (the kubernetes client's
default, by POST/PUT): on objects that carry our ownership labels its fields are ours to take
over, as kubectl's csaupgrade does, or an upgraded controller could never change them again."""


def is_legacy_entry(entry: dict[str, Any]) -> bool:
    return entry.get("manager") in LEGACY_MANAGERS and entry.get("operation") == "Update"


Path = tuple[str, ...]

_IDENTITY: frozenset[Path] = frozenset(
    {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}
)
"""Fields every applied configuration names to say which object it is; not owned as such."""
_ITEM_PREFIXES = ("k:", "v:", "i:")


def applied_paths(config: dict[str, Any]) -> set[Path]:
    """The fields `config` sets: every non-map value and every empty map, by path."""
    paths: set[Path] = set()

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, dict) and value:
            for key, child in value.items():
                walk(child, (*path, str(key)))
        elif path and path not in _IDENTITY:
            paths.add(path)

    walk(config, ())
    return paths


def owned_fields(fields_v1: dict[str, Any]) -> dict[Path, list[str]]:
    """The fields a `fieldsV1` set names, lists counted as one field (see the module doc), each
    with the list items it owns (`k:{...}`, `v:...`, `i:N` keys; empty for anything else)."""
    found: dict[Path, list[str]] = {}

    def walk(node: dict[str, Any], path: Path) -> None:
        children = {k: v for k, v in node.items() if k != "."}
        items = [k for k in children if k.startswith(_ITEM_PREFIXES)]
        if path and (not children or items):
            found[path] = items
            return
        for key, child in children.items():
            if key.startswith("f:"):
                walk(child if isinstance(child, dict) else {}, (*path, key[2:]))

    walk(fields_v1, ())
    return {p: i for p, i in found.items() if p not in _IDENTITY}


def owned_paths(fields_v1: dict[str, Any]) -> set[Path]:
    return set(owned_fields(fields_v1))


def entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    managed = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    return [e for e in managed if isinstance(e, dict)]


def _subresource(entry: dict[str, Any]) -> str:
    return str(entry.get("subresource") or "")


def our_entry(
    obj: dict[str, Any] | None, subresource: str = "", manager: str = MANAGER
) -> dict[str, Any] | None:
    for entry in entries(obj):
        if (
            entry.get("manager") == manager
            and entry.get("operation") == APPLY
            and _subresource(entry) == subresource
        ):
            return entry
    return None


def holds(actual: Any, wanted: Any) -> bool:
    """Whether `actual` has every field of `wanted` with the same value (other fields allowed; a
    missing field equals an empty map or list, as built-in kinds drop those). A list holds when
    every wanted item is held by one of its items: others may own items beside ours."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(
            holds(actual[key], value) if key in actual else value in ({}, [])
            for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return isinstance(actual, list) and all(any(holds(a, w) for a in actual) for w in wanted)
    return bool(actual == wanted)


def up_to_date(
    actual: dict[str, Any] | None,
    config: dict[str, Any],
    subresource: str = "",
    manager: str = MANAGER,
) -> bool:
    """Whether applying `config` to `actual` would change nothing: `actual` holds it, and our
    Apply entry owns exactly its fields (no field we stopped wanting is still ours)."""
    if actual is None:
        return False
    entry = our_entry(actual, subresource, manager)
    if entry is None:
        return False
    part = _part(actual, subresource)
    wanted = _part(config, subresource)
    owned = owned_paths(entry.get("fieldsV1") or {})
    applied = _atomic(_scoped(applied_paths(config), subresource), owned)
    return holds(part, wanted) and owned == applied


def _atomic(applied: set[Path], owned: set[Path]) -> set[Path]:
    """`applied` with the fields inside an atomic map (owned whole, e.g. a RoleBinding's
    roleRef) counted as that map, as the server's `fieldsV1` counts them."""
    return {next((q for q in owned if q == p[: len(q)]), p) for p in applied}


def _part(obj: dict[str, Any], subresource: str) -> Any:
    if subresource == "status":
        return {"status": obj.get("status") or {}}
    return obj


def _scoped(paths: set[Path], subresource: str) -> set[Path]:
    if subresource == "status":
        return {p for p in paths if p[:1] == ("status",)}
    return paths


def value_at(obj: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _overlaps(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _item_conflicts(actual: Any, wanted: Any, items: list[str]) -> bool:
    """Whether another manager owning these items of a list we set holds one of our items (by
    its key) with another value. Items kept by value (`v:`) cannot differ; by index (`i:`) the
    list is as good as atomic."""
    if any(key.startswith("i:") for key in items):
        return not holds(actual, wanted)
    keyed = [json.loads(key[2:]) for key in items if key.startswith("k:")]
    for mine in wanted if isinstance(wanted, list) else []:
        if not isinstance(mine, dict):
            continue
        for theirs in keyed:
            if isinstance(theirs, dict) and all(mine.get(k) == v for k, v in theirs.items()):
                same = [a for a in actual or [] if isinstance(a, dict)
                        and all(a.get(k) == v for k, v in theirs.items())]  # fmt: skip
                if not any(holds(a, mine) for a in same):
                    return True
    return False


def foreign_fields(
    actual: dict[str, Any] | None,
    config: dict[str, Any],
    subresource: str = "",
    manager: str = MANAGER,
    adopt_legacy: bool = False,
) -> dict[Path, str]:
    """Fields of `config` another manager owns in `actual` with another value than ours, each
    with that manager's name: applying them without force would conflict, so we yield them.
    With `adopt_legacy`, what our earlier versions wrote (`LEGACY_MANAGERS`) is not another's."""
    found: dict[Path, str] = {}
    wanted = applied_paths(config)
    for entry in entries(actual):
        if entry.get("manager") == manager and entry.get("operation") == APPLY:
            continue
        if adopt_legacy and is_legacy_entry(entry):
            continue
        if _subresource(entry) != subresource:
            continue
        theirs = owned_fields(entry.get("fieldsV1") or {})
        for path in wanted:
            if path in found:
                continue
            mine, held = value_at(config, path), value_at(actual, path)
            for owned, items in theirs.items():
                if not _overlaps(path, owned):
                    continue
                if owned == path and items:
                    clash = _item_conflicts(held, mine, items)
                else:
                    clash = not holds(held, mine)
                if clash:
                    found[path] = str(entry.get("manager") or "unknown")
                    break
    return found


def without(config: dict[str, Any], paths: Iterable[Path]) -> dict[str, Any]:
    """`config` without the fields at `paths` (a map left empty by that goes too); `config`
    itself when there are none."""
    paths = list(paths)
    if not paths:
        return config
    out = copy.deepcopy(config)
    for path in paths:
        parents: list[tuple[dict[str, Any], str]] = []
        node: Any = out
        for key in path[:-1]:
            if not isinstance(node, dict) or key not in node:
                node = None
                break
            parents.append((node, key))
            node = node[key]
        if isinstance(node, dict):
            node.pop(path[-1], None)
            for parent, key in reversed(parents):
                if parent[key] == {}:
                    del parent[key]
    return out


def path_text(path: Path) -> str:
    """A path as the API server writes it in conflict messages: `.metadata.labels.team`."""
    return "".join(f".{key}" for key in path)


def conflicting_fields(
    config: dict[str, Any], causes: Iterable[tuple[str, str]]
) -> dict[Path, str]:
    """The fields of `config` a 409 apply conflict names, each with the manager that owns it:
    a cause's field is `.metadata.labels.team` (or deeper, into a list's item); its message
    `conflict with "<manager>"...`."""
    by_text = sorted(((path_text(p), p) for p in applied_paths(config)), key=lambda t: -len(t[0]))
    found: dict[Path, str] = {}
    for field, message in causes:
        manager = message.split('"')[1] if message.count('"') >= 2 else "another manager"
        for text, path in by_text:
            if field == text or field.startswith((text + ".", text + "[")):
                found.setdefault(path, manager)
                break
    return found
