from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from controller.status import (
    NAMESPACE_READY,
    READY,
    RELEASE_READY,
    SECRETS_READY,
    StatusReport,
    StepOutcome,
    build_status,
    flux_application_state,
    legacy_application_state,
    transition_events,
)

T0 = datetime(2026, 3, 21, 11, 46, 19, tzinfo=UTC)

SEED_LEGACY_STATUS = yaml.safe_load(
    """
conditions:
  - lastTransitionTime: '2022-03-21T11:46:19Z'
    lastUpdateTime: '2022-03-21T11:46:19Z'
    message: >-
      Chart fetch failed for Helm release 'run-pipeline' in
      'stakater-nordmart-inventory-74'.
    reason: ChartFetchFailed
    status: 'False'
    type: ChartFetched
  - lastTransitionTime: '2022-03-21T11:46:40Z'
    lastUpdateTime: '2022-03-21T11:46:40Z'
    message: >-
      Installation or upgrade succeeded for Helm release 'run-pipeline' in
      'stakater-nordmart-inventory-74'.
    reason: Deployed
    status: 'True'
    type: Deployed
  - lastTransitionTime: '2022-03-21T11:46:40Z'
    lastUpdateTime: '2022-03-21T11:48:01Z'
    message: >-
      Release was successful for Helm release 'run-pipeline' in
      'stakater-nordmart-inventory-74'.
    reason: Succeeded
    status: 'True'
    type: Released
lastAttemptedRevision: 6f50ff2ff844f5f7c2b6627e3d7319e4717ac847
observedGeneration: 1
phase: Succeeded
releaseName: run-pipeline
releaseStatus: deployed
revision: 6f50ff2ff844f5f7c2b6627e3d7319e4717ac847
"""
)
SUCCESS_MSG = (
    "Release was successful for Helm release 'run-pipeline' in 'stakater-nordmart-inventory-74'."
)


def _hr(status: dict, generation: int = 1) -> dict:
    return {"metadata": {"name": "run-pipeline", "generation": generation}, "status": status}


def test_legacy_seed_status_is_deployed_with_the_released_message() -> None:
    state = legacy_application_state(_hr(SEED_LEGACY_STATUS), "run-pipeline")
    assert (state.status, state.message) == ("deployed", SUCCESS_MSG)
    assert state.outcome.status == "True"


def test_legacy_without_status_is_pending() -> None:
    state = legacy_application_state({"metadata": {"generation": 1}}, "run-pipeline")
    assert state.status == "pending" and state.outcome.status == "Unknown"
    assert legacy_application_state(None, "run-pipeline").status == "pending"


def test_legacy_failed_release() -> None:
    status = {
        "phase": "DeployFailed",
        "releaseStatus": "failed",
        "observedGeneration": 1,
        "conditions": [
            {
                "type": "Deployed",
                "status": "False",
                "reason": "DeployFailed",
                "message": "Installation or upgrade failed for Helm release 'run-pipeline'",
            }
        ],
    }
    state = legacy_application_state(_hr(status), "run-pipeline")
    assert state.status == "failed"
    assert state.message == "Installation or upgrade failed for Helm release 'run-pipeline'"
    assert state.outcome == StepOutcome.failed("DeployFailed", state.message)


def test_legacy_chart_fetch_failure() -> None:
    status = {"phase": "ChartFetchFailed", "conditions": SEED_LEGACY_STATUS["conditions"][:1]}
    state = legacy_application_state(_hr(status), "run-pipeline")
    assert state.status == "chart-fetch-failed"
    assert state.message.startswith("Chart fetch failed")


def test_legacy_stale_generation_is_progressing() -> None:
    state = legacy_application_state(_hr(SEED_LEGACY_STATUS, generation=2), "run-pipeline")
    assert state.status == "progressing" and state.outcome.status == "Unknown"


def _ready(status: str, reason: str, message: str) -> dict:
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


def test_flux_ready_release_is_deployed() -> None:
    status = {
        "observedGeneration": 1,
        "conditions": [_ready("True", "InstallSucceeded", "Helm install succeeded for release")],
        "history": [{"status": "deployed", "version": 1}],
    }
    state = flux_application_state(_hr(status), "run-pipeline")
    assert state.status == "deployed"
    assert state.message == "Helm install succeeded for release"
    assert state.outcome.status == "True" and state.outcome.reason == "InstallSucceeded"


def test_flux_failures() -> None:
    failed = {
        "observedGeneration": 1,
        "conditions": [_ready("False", "InstallFailed", "Helm install failed: timeout")],
        "history": [{"status": "failed", "version": 1}],
    }
    state = flux_application_state(_hr(failed), "run-pipeline")
    assert (state.status, state.outcome.status, state.outcome.reason) == (
        "failed",
        "False",
        "InstallFailed",
    )
    fetch = {
        "observedGeneration": 1,
        "conditions": [_ready("False", "ArtifactFailed", "HelmChart 'x' is not ready")],
    }
    assert flux_application_state(_hr(fetch), "run-pipeline").status == "chart-fetch-failed"


def test_flux_failing_source_explains_the_release() -> None:
    source = {"status": {"conditions": [_ready("False", "AuthenticationFailed", "auth failed")]}}
    state = flux_application_state(None, "run-pipeline", source)
    assert (state.status, state.message) == ("chart-fetch-failed", "auth failed")
    assert state.outcome.reason == "AuthenticationFailed"


def test_flux_progressing() -> None:
    status = {
        "observedGeneration": 1,
        "conditions": [_ready("Unknown", "Progressing", "Running 'upgrade' action")],
    }
    state = flux_application_state(_hr(status), "run-pipeline")
    assert state.status == "progressing" and state.outcome.status == "Unknown"
    stale = {**status, "conditions": [_ready("True", "UpgradeSucceeded", "ok")]}
    assert flux_application_state(_hr(stale, 2), "run-pipeline").status == "progressing"


def _report(release: StepOutcome) -> StatusReport:
    return StatusReport(
        phase="Waiting For Next Reconciliation Loop",
        steps={
            NAMESPACE_READY: StepOutcome.ok("Provisioned", "Namespace is ready"),
            SECRETS_READY: StepOutcome.ok("Copied", "2 secrets copied"),
            RELEASE_READY: release,
        },
        namespace_labels={"kind": "pr"},
    )


def test_conditions_move_their_transition_time_only_when_status_flips() -> None:
    first = build_status(None, _report(StepOutcome.waiting("Progressing", "wait")), 1, T0)
    ready = {c.type: c for c in first.conditions}
    assert ready[READY].status == "Unknown"
    assert ready[NAMESPACE_READY].last_transition_time == "2026-03-21T11:46:19Z"
    later = T0 + timedelta(minutes=5)
    second = build_status(first, _report(StepOutcome.waiting("Progressing", "still")), 1, later)
    by_type = {c.type: c for c in second.conditions}
    assert by_type[RELEASE_READY].last_transition_time == "2026-03-21T11:46:19Z"
    assert by_type[RELEASE_READY].message == "still"
    third = build_status(second, _report(StepOutcome.ok("Succeeded", "done")), 2, later)
    by_type = {c.type: c for c in third.conditions}
    assert by_type[READY].status == "True"
    assert by_type[READY].last_transition_time == "2026-03-21T11:51:19Z"
    assert by_type[NAMESPACE_READY].last_transition_time == "2026-03-21T11:46:19Z"
    assert by_type[READY].observed_generation == 2 and third.observed_generation == 2


def test_the_same_report_gives_the_same_status() -> None:
    first = build_status(None, _report(StepOutcome.ok("Succeeded", "done")), 1, T0)
    again = build_status(first, _report(StepOutcome.ok("Succeeded", "done")), 1, T0 + timedelta(1))
    assert again.to_wire() == first.to_wire()
    assert transition_events(first, again) == []


def test_a_report_that_stops_early_keeps_earlier_fields() -> None:
    first = build_status(None, _report(StepOutcome.ok("Succeeded", "done")), 1, T0)
    first.application_status = "deployed"
    conflict = StatusReport(
        phase="Creating Namespace",
        steps={NAMESPACE_READY: StepOutcome.failed("NamespaceConflict", "taken")},
    )
    second = build_status(first, conflict, 1, T0)
    assert second.application_status == "deployed"
    assert second.namespace_labels == {"kind": "pr"}
    by_type = {c.type: c for c in second.conditions}
    assert by_type[READY].status == "False" and by_type[READY].reason == "NamespaceConflict"


def test_events_are_emitted_per_transition() -> None:
    progressing = build_status(None, _report(StepOutcome.waiting("Progressing", "wait")), 1, T0)
    assert transition_events(None, progressing) == []
    failed = build_status(progressing, _report(StepOutcome.failed("InstallFailed", "boom")), 1, T0)
    events = transition_events(progressing, failed)
    assert [(e.type, e.reason, e.message) for e in events] == [("Warning", "InstallFailed", "boom")]
    assert transition_events(failed, failed) == []
    ready = build_status(failed, _report(StepOutcome.ok("Succeeded", SUCCESS_MSG)), 1, T0)
    assert [(e.type, e.reason) for e in transition_events(failed, ready)] == [("Normal", "Ready")]
