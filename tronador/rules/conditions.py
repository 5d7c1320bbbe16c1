"""Setting a status condition by the metav1.Condition convention: one condition per type, and
its lastTransitionTime moves only when its status flips."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tronador.api.base import Condition


def transition_time(previous: Iterable[Any], type_: str, status: str, now: str) -> str:
    """The lastTransitionTime of a `type_` condition with `status`: that of the `previous`
    (wire-form) condition of this type while its status stays, else `now`."""
    for old in previous:
        if isinstance(old, Mapping) and old.get("type") == type_:
            kept = old.get("lastTransitionTime")
            return kept if old.get("status") == status and isinstance(kept, str) else now
    return now


def set_condition(conditions: Iterable[Condition], condition: Condition) -> list[Condition]:
    """`conditions` with `condition` in the place of the one of its type (or appended), keeping
    the stored lastTransitionTime while the status holds."""
    current = list(conditions)
    wire = [
        {"type": c.type, "status": c.status, "lastTransitionTime": c.last_transition_time}
        for c in current
    ]
    transition = transition_time(
        wire, condition.type, condition.status, condition.last_transition_time
    )
    condition = condition.model_copy(update={"last_transition_time": transition})
    if any(c.type == condition.type for c in current):
        return [condition if c.type == condition.type else c for c in current]
    return [*current, condition]
