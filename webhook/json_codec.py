"""The webhook's JSON: orjson, with the standard library behind it for what orjson refuses.

orjson decodes an AdmissionReview 2.5x faster than `json.loads` (300 against 770 µs for a
200 KiB EP; 3 against 8 µs for a seed EP) and shares the repeated short keys of a large values
tree instead of allocating each again. It is stricter than `json`: NaN, integers past 64 bits
and lone surrogate escapes are refused. The API server never sends them, but a body `json`
accepts must still be decoded the same way, so those fall back to `json.loads` (and anything
orjson cannot encode to `json.dumps`), keeping one answer for every input.

The cyclic garbage collector is paused while a body is decoded (webhook/collector.py).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from webhook.collector import collector_paused

_COMPACT = (",", ":")


def loads(body: bytes) -> Any:
    """The decoded document; ValueError (or RecursionError) when `json` cannot decode it."""
    with collector_paused():
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return json.loads(body)


def dumps(document: Any) -> bytes:
    """Compact UTF-8 JSON."""
    try:
        return orjson.dumps(document)
    except TypeError:
        return json.dumps(document, separators=_COMPACT).encode()
