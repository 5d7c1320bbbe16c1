"""Building RFC 6902 operations directly (cheaper and more exact than diffing whole objects)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Operation = dict[str, Any]


def pointer(parts: Iterable[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def add(parts: Iterable[str | int], value: Any) -> Operation:
    return {"op": "add", "path": pointer(parts), "value": value}


def replace(parts: Iterable[str | int], value: Any) -> Operation:
    return {"op": "replace", "path": pointer(parts), "value": value}


def remove(parts: Iterable[str | int]) -> Operation:
    return {"op": "remove", "path": pointer(parts)}
