"""Finding the string leaves that matter in a free-form JSON tree (Helm `values` are
preserve-unknown-fields), without visiting the parts that cannot hold one.

A caller says which strings can matter (an `Interest`): those standing under one of its `keys`,
or containing one of its `substrings`. The tree and each list in it are first serialized by
orjson, in C, and skipped when the text holds none of them: a list of 24 env-var maps costs one
C call instead of 24 Python visits, and a tree with no candidate at all costs one `dumps`
(~70 µs for 200 KiB, against ~1 ms to walk it; see bench/RESULTS.md).

The skipping can only err towards visiting: every key is written `"key":` and every substring
appears as is in orjson's output (it escapes only `"`, `\\` and control characters, which no
needle holds), and a tree orjson cannot serialize is walked in full.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

Key = str | int | None
"""The key (or list index) a string stands under; None for a bare string."""

Path = tuple[str | int, ...]

_UNESCAPED = frozenset(map(chr, range(0x20, 0x7F))) - {'"', "\\"}


@dataclass(frozen=True)
class Interest:
    """Which string leaves a rule may care about: a leaf it would act on must be under one of
    `keys` or contain one of `substrings` (the rule's own test then decides)."""

    keys: frozenset[str] = frozenset()
    substrings: tuple[str, ...] = ()
    _needles: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for text in (*self.keys, *self.substrings):
            if not text or not set(text) <= _UNESCAPED:
                raise ValueError(f"{text!r}: needles are printable ASCII without quote or \\")
        needles = [f'"{k}":'.encode() for k in sorted(self.keys)]
        needles += [s.encode() for s in self.substrings]
        object.__setattr__(self, "_needles", tuple(needles))

    def admits(self, key: Key, text: str) -> bool:
        return key in self.keys or any(s in text for s in self.substrings)

    def may_hold(self, node: Any) -> bool:
        """False only when no string under `node` can be of interest."""
        try:
            text = orjson.dumps(node)
        except (TypeError, ValueError):
            return True
        return any(map(text.__contains__, self._needles))


def find_leaves(node: Any, interest: Interest) -> list[tuple[Path, str]]:
    """(path, text) of each string leaf under `node` that `interest` admits, in document order."""
    found: list[tuple[Path, str]] = []
    if isinstance(node, str):
        if interest.admits(None, node):
            found.append(((), node))
    elif isinstance(node, dict | list) and interest.may_hold(node):
        _scan(node, [], interest, found)
    return found


def _scan(
    node: dict[Any, Any] | list[Any],
    trail: list[str | int],
    interest: Interest,
    found: list[tuple[Path, str]],
) -> None:
    """The path is one list pushed and popped in place: a visit per node, not a tuple per node."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    keys, substrings = interest.keys, interest.substrings
    for key, value in items:
        kind = type(value)
        if kind not in _EXACT:
            kind = _json_kind(value)
        if kind is str:
            if key in keys:
                found.append(((*trail, key), value))
                continue
            for substring in substrings:
                if substring in value:
                    found.append(((*trail, key), value))
                    break
        elif kind is dict or (kind is list and interest.may_hold(value)):
            trail.append(key)
            _scan(value, trail, interest, found)
            trail.pop()


_EXACT = frozenset({str, dict, list, int, float, bool, type(None)})
"""What JSON decodes to; `type(v) is ...` checks are half the cost of isinstance here."""


def _json_kind(value: Any) -> type:
    """str, dict or list for instances of their subclasses, else the value's own type."""
    for kind in (str, dict, list):
        if isinstance(value, kind):
            return kind
    return type(value)


def find_strings(
    node: Any, interest: Interest, wanted: Callable[[Key, str], bool], root: Path = ()
) -> list[tuple[Path, str]]:
    """(path under `root`, text) of each string leaf for which `wanted(key, text)` holds;
    `wanted` may only hold for leaves `interest` admits."""
    return [
        ((*root, *path), text)
        for path, text in find_leaves(node, interest)
        if wanted(path[-1] if path else None, text)
    ]


def transform_strings(
    node: Any, interest: Interest, transform: Callable[[Key, str], str]
) -> list[tuple[Path, str, str]]:
    """(path, old, new) for each string leaf that `transform(key, text)` changes; it may only
    change leaves `interest` admits."""
    changes = []
    for path, old in find_leaves(node, interest):
        new = transform(path[-1] if path else None, old)
        if new != old:
            changes.append((path, old, new))
    return changes
