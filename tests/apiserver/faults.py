"""Fault rules: matched against every request before it touches any state."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("reply", "delay", "late", "drop")


@dataclass(eq=False)
class Fault:
    """One rule. Unset matchers match anything.

    What a matching request gets, after sleeping `delay` seconds (in the server, without
    blocking other requests):
    - kind="reply" (default): an error answer with `status` (500 if unset), `body` (default: a
      standard Status with the reason and message the real server uses for that code) and
      `headers`; a `Retry-After` header also fills `details.retryAfterSeconds`. Exception: a rule
      with a delay and no status just delays, as kind="delay" does.
    - kind="delay": nothing but the delay; the request then proceeds normally.
    - kind="late": the request is served at once (its watch events go out), and its answer is
      sent `delay` seconds later: a client's write-through then arrives after the watch.
    - kind="drop": the connection is closed without an answer.
    - drop_watch=True: only watch requests match; the stream is opened (200 and headers sent)
      and then closed abruptly, without the final chunk.
    `times` is how often the rule fires (None: forever); `fired` counts it.
    """

    method: str | None = None
    path_regex: str | None = None
    """re.search()ed against the URL path, without the query string."""
    name: str | None = None
    """The object name in the URL, or in the body for a create."""
    status: int | None = None
    body: dict[str, Any] | str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = 1
    drop_watch: bool = False
    kind: str = "reply"
    verb: str | None = None
    """get, list, watch, create, update, patch, delete or deletecollection."""
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"Fault kind must be one of {FAULT_KINDS}, not {self.kind!r}")
        self._pattern = re.compile(self.path_regex) if self.path_regex is not None else None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    @property
    def proceeds(self) -> bool:
        """Whether the request goes on to be served once the delay is over."""
        if self.drop_watch or self.kind == "drop":
            return False
        return self.kind in ("delay", "late") or (self.status is None and self.delay > 0)

    @property
    def reply_status(self) -> int:
        return self.status if self.status is not None else 500

    def matches(self, method: str, path: str, name: str | None, verb: str) -> bool:
        if self.drop_watch and verb != "watch":
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.verb is not None and self.verb != verb:
            return False
        if self.name is not None and self.name != name:
            return False
        return self._pattern is None or self._pattern.search(path) is not None


class FaultRules:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, name: str | None, verb: str) -> Fault | None:
        """The first live rule matching the request, counted as fired."""
        with self._lock:
            for fault in self._faults:
                if not fault.exhausted and fault.matches(method, path, name, verb):
                    fault.fired += 1
                    return fault
        return None

    def __iter__(self) -> Iterator[Fault]:
        with self._lock:
            return iter(list(self._faults))

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)
