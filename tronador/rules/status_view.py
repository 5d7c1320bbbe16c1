"""What an EP's or Environment's status says to the people on its pull request (pure).

Ready: its `Ready` condition is True for the current generation. Failed: `Ready` is False for the
current generation (the controller sets False only for what will not mend by waiting: an invalid
spec, a rejected object, a failed release). Anything else is still on its way, including a status
written for an older generation than the object's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

READY_CONDITION = "Ready"


class Outcome(StrEnum):
    READY = "ready"
    FAILED = "failed"
    WAITING = "waiting"


@dataclass(frozen=True)
class ConditionView:
    type: str
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class EnvironmentState:
    kind: str
    name: str
    phase: str
    outcome: Outcome
    reason: str
    """Ready's reason (or why the status is not current)."""
    message: str
    not_true: list[ConditionView] = field(default_factory=list)
    """Every condition that is not True, Ready's steps and the others alike."""
    urls: list[str] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "phase": self.phase,
            "outcome": str(self.outcome),
            "reason": self.reason,
            "message": self.message,
            "conditions": [vars(c) for c in self.not_true],
            "urls": list(self.urls),
        }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def environment_state(obj: dict[str, Any]) -> EnvironmentState:
    """The state of an EP or Environment as the API server returned it."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    raw_conditions = status.get("conditions") if isinstance(status.get("conditions"), list) else []
    conditions = [c for c in raw_conditions if isinstance(c, dict)]
    generation = meta.get("generation")
    ready = next((c for c in conditions if c.get("type") == READY_CONDITION), None)
    not_true = [
        ConditionView(
            _text(c.get("type")), _text(c.get("status")), _text(c.get("reason")),
            _text(c.get("message")),
        )
        for c in conditions
        if c.get("status") != "True"
    ]  # fmt: skip
    urls = [u for u in status.get("urls") or [] if isinstance(u, str)]
    base = {
        "kind": _text(obj.get("kind")),
        "name": _text(meta.get("name")),
        "phase": _text(status.get("currentPhase")),
        "not_true": not_true,
        "urls": urls,
    }
    if ready is None:
        return EnvironmentState(
            outcome=Outcome.WAITING,
            reason="NoStatus",
            message="the controller has not reported on it yet",
            **base,
        )
    if generation is not None and ready.get("observedGeneration") != generation:
        return EnvironmentState(
            outcome=Outcome.WAITING,
            reason="NotObserved",
            message=f"the controller has not reported on generation {generation} yet",
            **base,
        )
    outcome = {"True": Outcome.READY, "False": Outcome.FAILED}.get(
        _text(ready.get("status")), Outcome.WAITING
    )
    return EnvironmentState(
        outcome=outcome, reason=_text(ready.get("reason")), message=_text(ready.get("message")),
        **base,
    )  # fmt: skip
