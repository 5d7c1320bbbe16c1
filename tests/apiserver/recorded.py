"""The request log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.apiserver.faults import Fault

WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    verb: str
    api_version: str | None
    plural: str | None
    namespace: str | None
    name: str | None
    subresource: str | None
    status: int
    body: Any = None
    """The parsed JSON body, if any."""
    content_type: str | None = None
    fault: Fault | None = field(default=None, compare=False)
    """The fault rule that answered (or delayed) this request."""

    @property
    def is_write(self) -> bool:
        return self.verb in WRITE_VERBS
