"""Per-kind defaulting and conversion the real API server applies to what it stores."""

from __future__ import annotations

import base64
from typing import Any

from tests.apiserver.resources import Resource


def apply_defaults(resource: Resource, obj: dict[str, Any]) -> None:
    if resource.api_version == "v1" and resource.kind == "Secret":
        _secret(obj)


def _secret(obj: dict[str, Any]) -> None:
    """`stringData` is write-only: it is merged into `data`, base64-encoded."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data:
        data = dict(obj.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data
