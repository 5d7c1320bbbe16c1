"""The status view: ready and failed only for the generation the status was written for."""

from __future__ import annotations

from typing import Any

from tronador.rules.status_view import Outcome, environment_state


def _obj(generation: int, ready: dict[str, Any] | None, **status: Any) -> dict[str, Any]:
    conditions = [] if ready is None else [{"type": "Ready", **ready}]
    return {
        "kind": "EnvironmentProvisioner",
        "metadata": {"name": "app-1", "generation": generation},
        "status": {"conditions": conditions, **status},
    }


def test_ready_for_the_current_generation() -> None:
    state = environment_state(
        _obj(2, {"status": "True", "reason": "Ready", "observedGeneration": 2}, urls=["https://a"])
    )
    assert (state.outcome, state.urls) == (Outcome.READY, ["https://a"])


def test_a_status_written_for_an_older_generation_is_still_waiting() -> None:
    state = environment_state(
        _obj(3, {"status": "True", "reason": "Ready", "observedGeneration": 2})
    )
    assert (state.outcome, state.reason) == (Outcome.WAITING, "NotObserved")


def test_failed_lists_every_condition_that_is_not_true() -> None:
    ready = {
        "status": "False",
        "reason": "InstallFailed",
        "message": "boom",
        "observedGeneration": 1,
    }
    obj = _obj(1, ready)
    obj["status"]["conditions"].append({"type": "SecretsReady", "status": "True"})
    state = environment_state(obj)
    assert state.outcome is Outcome.FAILED
    assert [c.type for c in state.not_true] == ["Ready"]


def test_no_status_yet_and_garbage_are_waiting_not_errors() -> None:
    assert environment_state(_obj(1, None)).outcome is Outcome.WAITING
    assert environment_state({"status": "nonsense", "metadata": []}).outcome is Outcome.WAITING
