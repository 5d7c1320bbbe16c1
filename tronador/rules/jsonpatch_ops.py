"""Building RFC 6902 operations directly (cheaper and more exact than diffing whole objects)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Operation = dict[str, Any]


def pointer(parts: Iterable[str | int]) -> str:
    text = [str(p) for p in parts]
    if not text:
        return ""
    escaped = [t.replace("~", "~0").replace("/", "~1") if "~" in t or "/" in t else t for t in text]
    return "/" + "/".join(escaped)


def add(parts: Iterable[str | int], value: Any) -> Operation:
    return {"op": "add", "path": pointer(parts), "value": value}


def replace(parts: Iterable[str | int], value: Any) -> Operation:
    return {"op": "replace", "path": pointer(parts), "value": value}


def remove(parts: Iterable[str | int]) -> Operation:
    return {"op": "remove", "path": pointer(parts)}
