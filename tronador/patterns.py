"""Every regular expression of the product, in one of two kinds, so none can stall on hostile
input (tests/test_patterns.py enumerates them and fails on any other use of `re`):

- `linear(pattern)`: compiled by RE2 (google-re2), whose matching is linear in the input
  whatever the pattern: for text of any length, e.g. Helm values.
- `bounded(pattern, max_length)`: Python's `re`, for short anchored patterns on the hot path
  (RE2 costs ~3 µs a call more), only ever run on text of at most `max_length` characters
  (longer text does not match): even a backtracking pattern then has a small, fixed worst case.
  Each is on the reviewed list of the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import re2  # type: ignore[import-untyped]


@dataclass(frozen=True)
class BoundedPattern:
    pattern: str
    max_length: int
    compiled: re.Pattern[str] = field(repr=False, compare=False)

    def _fits(self, text: str) -> bool:
        return len(text) <= self.max_length

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self.compiled.fullmatch(text) if self._fits(text) else None

    def match(self, text: str) -> re.Match[str] | None:
        return self.compiled.match(text) if self._fits(text) else None

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled.search(text) if self._fits(text) else None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(text) if self._fits(text) else iter(())

    def sub(self, replacement: str | Callable[[re.Match[str]], str], text: str) -> str:
        if not self._fits(text):
            raise ValueError(f"text longer than {self.max_length} characters")
        return self.compiled.sub(replacement, text)


REGISTERED: list[tuple[str, str, int | None]] = []
"""(kind, pattern, max length) of every pattern compiled through this module."""


def linear(pattern: str) -> Any:
    """`pattern` compiled by RE2: linear-time matching on input of any length."""
    REGISTERED.append(("linear", pattern, None))
    return re2.compile(pattern)


def bounded(pattern: str, max_length: int) -> BoundedPattern:
    """`pattern` for text of at most `max_length` characters (longer never matches)."""
    REGISTERED.append(("bounded", pattern, max_length))
    return BoundedPattern(pattern, max_length, re.compile(pattern))
