"""An EP's status as plain data (pure): the HelmRelease mirrored into applicationStatus, the
standard conditions, and the events a change of status deserves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tronador.api import Condition, EnvironmentProvisionerStatus, Policy
from tronador.api.base import ConditionStatus
from tronador.patterns import bounded
from tronador.rules.audit import audit_environment_provisioner
from tronador.rules.conditions import set_condition

NAMESPACE_READY = "NamespaceReady"
SECRETS_READY = "SecretsReady"
RELEASE_READY = "ReleaseReady"
READY = "Ready"
RELEASE_CONFINED = "ReleaseConfined"
"""Whether the chart runs as its environment's own ServiceAccount (not part of Ready)."""
STEP_CONDITIONS = (NAMESPACE_READY, SECRETS_READY, RELEASE_READY)

PHASE_CREATING_NAMESPACE = "Creating Namespace"
PHASE_COPYING_SECRETS = "Copying Secrets"
PHASE_CREATING_RELEASE = "Creating Helm Release"
PHASE_WAITING = "Waiting For Next Reconciliation Loop"
PHASE_INVALID = "Invalid Spec"
PHASE_DELETING = "Deleting Environment"

APP_DEPLOYED = "deployed"
APP_FAILED = "failed"
APP_PROGRESSING = "progressing"
APP_PENDING = "pending"
APP_CHART_FETCH_FAILED = "chart-fetch-failed"

_REASON = bounded(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", 1024)


def timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def safe_reason(text: str | None, default: str) -> str:
    """`text` if it is a valid condition reason (CamelCase), else `default`."""
    return text if text and _REASON.match(text) and len(text) <= 1024 else default


@dataclass(frozen=True)
class StepOutcome:
    """How one provisioning step ended: becomes a condition."""

    status: ConditionStatus
    reason: str
    message: str

    @staticmethod
    def ok(reason: str, message: str) -> StepOutcome:
        return StepOutcome("True", reason, message)

    @staticmethod
    def failed(reason: str, message: str) -> StepOutcome:
        return StepOutcome("False", reason, message)

    @staticmethod
    def waiting(reason: str, message: str) -> StepOutcome:
        return StepOutcome("Unknown", reason, message)


@dataclass(frozen=True)
class ApplicationState:
    """The release as its Flux controller reports it."""

    status: str
    message: str
    outcome: StepOutcome


def _conditions(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    status = (obj or {}).get("status") or {}
    return {
        str(c["type"]): c
        for c in status.get("conditions") or []
        if isinstance(c, dict) and c.get("type")
    }


def _stale(obj: dict[str, Any]) -> int | None:
    """The generation the controller has not processed yet, if any."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return generation
    return None


def _pending(kind: str, name: str, who: str) -> ApplicationState:
    return ApplicationState(
        APP_PENDING,
        f"Waiting for {who} to process {kind} '{name}'",
        StepOutcome.waiting("Progressing", f"Waiting for {who} to process {kind} '{name}'"),
    )


def _not_yet_observed(hr: dict[str, Any] | None, name: str, who: str) -> ApplicationState | None:
    """Pending while the release has no status, progressing while its status describes an
    older generation; None once the operator has observed the current spec."""
    if hr is None or not hr.get("status"):
        return _pending("HelmRelease", name, who)
    generation = _stale(hr)
    if generation is not None:
        message = f"Waiting for {who} to apply generation {generation} of HelmRelease '{name}'"
        return ApplicationState(
            APP_PROGRESSING, message, StepOutcome.waiting("Progressing", message)
        )
    return None


_LEGACY_FAILED_PHASES = {
    "ChartFetchFailed": APP_CHART_FETCH_FAILED,
    "DeployFailed": APP_FAILED,
    "RollbackFailed": APP_FAILED,
    "RolledBack": APP_FAILED,
    "TestFailed": APP_FAILED,
}
_LEGACY_PHASE_CONDITION = {
    "ChartFetchFailed": "ChartFetched",
    "DeployFailed": "Deployed",
    "RollbackFailed": "RolledBack",
    "RolledBack": "RolledBack",
    "TestFailed": "Tested",
}
_LEGACY_SUCCESS_PHASES = {"Succeeded", "Deployed", "Tested", None}


def legacy_application_state(hr: dict[str, Any] | None, name: str) -> ApplicationState:
    """Mirror a helm.fluxcd.io/v1 HelmRelease: `status.releaseStatus`, the phase, and the
    `Released` condition's message (e.g. "Release was successful for Helm release ...")."""
    who = "the Helm Operator"
    waiting = _not_yet_observed(hr, name, who)
    if waiting is not None:
        return waiting
    assert hr is not None
    status = hr["status"]
    conditions = _conditions(hr)
    phase = status.get("phase")
    release_status = status.get("releaseStatus")
    released = conditions.get("Released")
    latest = max(
        conditions.values(),
        key=lambda c: str(c.get("lastUpdateTime") or c.get("lastTransitionTime") or ""),
        default=None,
    )
    message = str((released or latest or {}).get("message") or "")
    if (
        phase in _LEGACY_FAILED_PHASES
        or release_status == "failed"
        or (released is not None and released.get("status") == "False")
    ):
        cause = conditions.get(_LEGACY_PHASE_CONDITION.get(phase or "", ""), released or latest)
        message = str((cause or {}).get("message") or message or f"Helm release '{name}' failed")
        app = _LEGACY_FAILED_PHASES.get(phase or "", APP_FAILED)
        return ApplicationState(
            app, message, StepOutcome.failed(safe_reason(phase, "ReleaseFailed"), message)
        )
    if (
        release_status == "deployed"
        and phase in _LEGACY_SUCCESS_PHASES
        and (released is None or released.get("status") == "True")
    ):
        return ApplicationState(
            APP_DEPLOYED, message, StepOutcome.ok(safe_reason(phase, "Succeeded"), message)
        )
    app = release_status if isinstance(release_status, str) and release_status else APP_PROGRESSING
    message = message or f"Helm release '{name}' is {phase or 'in progress'}"
    return ApplicationState(app, message, StepOutcome.waiting("Progressing", message))


_FETCH_REASONS = {
    "ArtifactFailed",
    "ChartFetchFailed",
    "HelmChartNotReady",
    "SourceNotReady",
    "GetChartFailed",
    "ChartPullFailed",
}


def flux_application_state(
    hr: dict[str, Any] | None, name: str, source: dict[str, Any] | None = None
) -> ApplicationState:
    """Mirror a helm.toolkit.fluxcd.io/v2 HelmRelease from its `Ready` condition and `history`;
    a failing GitRepository explains a release that cannot fetch its chart."""
    who = "Flux"
    source_ready = _conditions(source).get("Ready")
    if source_ready is not None and source_ready.get("status") == "False":
        message = str(source_ready.get("message") or f"GitRepository '{name}' is not ready")
        hr_ready = _conditions(hr).get("Ready")
        if hr_ready is None or hr_ready.get("status") != "True":
            reason = safe_reason(source_ready.get("reason"), "SourceNotReady")
            return ApplicationState(
                APP_CHART_FETCH_FAILED, message, StepOutcome.failed(reason, message)
            )
    waiting = _not_yet_observed(hr, name, who)
    if waiting is not None:
        return waiting
    assert hr is not None
    ready = _conditions(hr).get("Ready")
    if ready is None:
        return _pending("HelmRelease", name, who)
    history = hr["status"].get("history") or []
    latest = history[0] if history and isinstance(history[0], dict) else {}
    message = str(ready.get("message") or "")
    reason = str(ready.get("reason") or "")
    if ready.get("status") == "True":
        app = str(latest.get("status") or APP_DEPLOYED)
        return ApplicationState(app, message, StepOutcome.ok(safe_reason(reason, "Ready"), message))
    if ready.get("status") == "False" and not reason.startswith("Progressing"):
        app = APP_CHART_FETCH_FAILED if reason in _FETCH_REASONS else APP_FAILED
        return ApplicationState(
            app, message, StepOutcome.failed(safe_reason(reason, "ReleaseFailed"), message)
        )
    message = message or f"Flux is reconciling HelmRelease '{name}'"
    return ApplicationState(APP_PROGRESSING, message, StepOutcome.waiting("Progressing", message))


def _step_condition(
    conditions: list[Condition],
    type_: str,
    outcome: StepOutcome,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """`conditions` with `type_` set to `outcome`; lastTransitionTime moves only on a flip."""
    return set_condition(conditions, _condition(type_, outcome, generation, timestamp(now)))


def _condition(
    type_: str, outcome: StepOutcome, generation: int | None, transition: str
) -> Condition:
    return Condition(
        type=type_,
        status=outcome.status,
        reason=outcome.reason,
        message=outcome.message[:32768],
        observed_generation=generation,
        last_transition_time=transition,
    )


def ready_outcome(steps: dict[str, StepOutcome]) -> StepOutcome:
    """Ready: True when every step is, else the first failing (then the first waiting) step."""
    outcomes = [steps[t] for t in STEP_CONDITIONS if t in steps]
    for wanted in ("False", "Unknown"):
        for outcome in outcomes:
            if outcome.status == wanted:
                return StepOutcome(wanted, outcome.reason, outcome.message)  # type: ignore[arg-type]
    if len(outcomes) < len(STEP_CONDITIONS):
        return StepOutcome.waiting("Progressing", "Provisioning has not finished")
    return StepOutcome.ok("Ready", outcomes[-1].message or "The environment is ready")


@dataclass(frozen=True)
class StatusReport:
    """What one reconcile found: turned into the EP's status."""

    phase: str
    steps: dict[str, StepOutcome]
    namespace_labels: dict[str, str] | None = None
    application: ApplicationState | None = None
    policy_compliant: Condition | None = None
    """The `PolicyCompliant` condition (see `policy_condition`); None keeps the previous one."""
    confinement: StepOutcome | None = None
    """The `ReleaseConfined` condition; None keeps the previous one."""
    urls: list[str] | None = None
    """What the namespace exposes (`tronador.rules.exposure`); None keeps the previous ones."""


def policy_condition(ep: dict[str, Any], policy: Policy, now: datetime) -> Condition:
    """The EP's `PolicyCompliant` condition under `policy`, from the webhook's own rules
    (`tronador.rules.audit`); its lastTransitionTime is kept while its status stays."""
    condition = audit_environment_provisioner(ep, policy, now).condition
    return Condition.model_validate(condition)


def build_status(
    previous: EnvironmentProvisionerStatus | None,
    report: StatusReport,
    generation: int | None,
    now: datetime,
) -> EnvironmentProvisionerStatus:
    """The EP's next status. Fields a report leaves out keep their previous value, so a reconcile
    that stopped early does not erase what an earlier one established."""
    previous = previous or EnvironmentProvisionerStatus()
    conditions = list(previous.conditions)
    for type_ in STEP_CONDITIONS:
        if type_ in report.steps:
            conditions = _step_condition(conditions, type_, report.steps[type_], generation, now)
    ready = report.steps.get(READY) or ready_outcome(report.steps)
    conditions = _step_condition(conditions, READY, ready, generation, now)
    if report.confinement is not None:
        conditions = _step_condition(
            conditions, RELEASE_CONFINED, report.confinement, generation, now
        )
    if report.policy_compliant is not None:
        conditions = set_condition(conditions, report.policy_compliant)
    application = report.application
    return EnvironmentProvisionerStatus(
        application_status=application.status if application else previous.application_status,
        application_status_msg=application.message
        if application
        else previous.application_status_msg,
        current_phase=report.phase,
        namespace_labels=report.namespace_labels
        if report.namespace_labels is not None
        else previous.namespace_labels,
        conditions=conditions,
        observed_generation=generation,
        urls=(report.urls or None) if report.urls is not None else previous.urls,
    )


@dataclass(frozen=True)
class EventSpec:
    type: str
    """Normal or Warning."""
    reason: str
    message: str


def became_ready(
    previous: EnvironmentProvisionerStatus | None, current: EnvironmentProvisionerStatus
) -> bool:
    """Whether this status write turns Ready True (first time, or again after a change)."""

    def ready(status: EnvironmentProvisionerStatus | None) -> bool:
        return status is not None and any(
            c.type == READY and c.status == "True" for c in status.conditions
        )

    return ready(current) and not ready(previous)


def transition_events(
    previous: EnvironmentProvisionerStatus | None, current: EnvironmentProvisionerStatus
) -> list[EventSpec]:
    """An event per condition that turned False (or changed its failure reason) and one when the
    EP becomes Ready: a steady state repeats nothing."""
    before = {c.type: c for c in (previous.conditions if previous else [])}
    events: list[EventSpec] = []
    for condition in current.conditions:
        old = before.get(condition.type)
        changed = old is None or (old.status, old.reason) != (condition.status, condition.reason)
        if not changed:
            continue
        if condition.status == "False":
            explained = condition.type == READY and any(
                c.type != READY and c.status == "False" and c.reason == condition.reason
                for c in current.conditions
            )
            if not explained:
                events.append(EventSpec("Warning", condition.reason, condition.message))
        elif condition.type == READY and condition.status == "True":
            events.append(EventSpec("Normal", "Ready", condition.message))
    return events
