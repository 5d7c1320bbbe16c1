"""Re-checking stored EnvironmentProvisioners against a (new) policy.

Admission checks an EP once, against the policy of that moment. When the admins change
`TronadorConfig.spec.policy`, EPs admitted before may no longer comply. The audit answers, per
EP, "would the webhook admit this EP now?" with the same rules the webhook runs (mutate, then
`validate_environment_provisioner`; no rule is duplicated here), and expresses it as a
`PolicyCompliant` condition (metav1.Condition) for the EP's status.

Audited as an UPDATE would see it, minus the immutability rules (there is no "old" object):
- `status` is ignored: it is the controller's, not the user's;
- the new policy's defaults are applied first (an EP lacking a label the policy both requires
  and defaults complies: its next update gets the default), and the condition's message says
  how many defaults are still pending.
Pure: no I/O, `now` is passed in.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jsonpatch

from tronador.api import EnvironmentProvisioner, Policy
from tronador.api.constants import ENV_KIND, EP_KIND
from tronador.rules.conditions import transition_time
from tronador.rules.findings import Findings, Violation
from tronador.rules.jsonpatch_ops import Operation
from tronador.rules.mutate import mutate_environment, mutate_environment_provisioner
from tronador.rules.validate import validate_environment, validate_environment_provisioner
from tronador.words import counted

POLICY_COMPLIANT = "PolicyCompliant"
"""The condition type written to `EnvironmentProvisioner.status.conditions`."""
REASON_COMPLIANT = "Compliant"
REASON_SUFFIX = "Failed"
"""A non-compliant EP's reason is its first failing rule in CamelCase plus this suffix, e.g.
`ChartUrlAllowedFailed` for rule `chart-url-allowed`."""
MESSAGE_LIMIT = 32768
"""metav1.Condition.message's maximum length."""


@dataclass(frozen=True)
class AuditResult:
    name: str
    compliant: bool
    violations: tuple[Violation, ...]
    warnings: tuple[str, ...]
    pending_defaults: tuple[Operation, ...]
    """The JSON Patch the new policy's defaulting would apply on the EP's next update."""
    condition: dict[str, Any] = field(default_factory=dict)
    """The `PolicyCompliant` metav1.Condition, wire form (validates as `tronador.api.Condition`)."""
    kind: str = EP_KIND
    """EnvironmentProvisioner or Environment."""

    @property
    def reason(self) -> str:
        return str(self.condition.get("reason", ""))

    @property
    def message(self) -> str:
        return str(self.condition.get("message", ""))


def rule_reason(rule: str) -> str:
    """`chart-url-allowed` -> `ChartUrlAllowedFailed`; always a valid Condition reason."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in rule).split() if w]
    camel = "".join(w[:1].upper() + w[1:] for w in words if w.isascii())
    if not camel or not camel[0].isalpha():
        camel = f"Rule{camel}"
    return camel + REASON_SUFFIX


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wire(ep: EnvironmentProvisioner | Mapping[str, Any]) -> Any:
    if isinstance(ep, EnvironmentProvisioner):
        return ep.to_wire()
    return copy.deepcopy(dict(ep)) if isinstance(ep, Mapping) else ep


def _name(obj: Any) -> str:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def _generation(obj: Any) -> int | None:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    generation = metadata.get("generation") if isinstance(metadata, dict) else None
    if isinstance(generation, int) and not isinstance(generation, bool) and generation >= 0:
        return generation
    return None


def _previous_conditions(obj: Any) -> list[Any]:
    status = obj.get("status") if isinstance(obj, dict) else None
    conditions = status.get("conditions") if isinstance(status, dict) else None
    return conditions if isinstance(conditions, list) else []


def check_compliance(obj: Any, policy: Policy) -> tuple[Findings, list[Operation]]:
    """The findings for the EP (or Environment) as the webhook would judge it now, and the
    pending defaults."""
    subject = copy.deepcopy(obj)
    environment = isinstance(subject, dict) and subject.get("kind") == ENV_KIND
    if isinstance(subject, dict):
        subject.pop("status", None)
        if environment:
            patch = mutate_environment(subject, policy, finalizer=False).patch
        else:
            patch = mutate_environment_provisioner(subject, policy, finalizer=False)
        if patch:
            try:
                subject = jsonpatch.apply_patch(subject, patch)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
                patch = []  # judge the object as stored; validation names what is wrong
    else:
        patch = []
    if environment:
        return validate_environment(subject, policy), patch
    return validate_environment_provisioner(subject, policy), patch


def _message(findings: Findings, pending: Sequence[Operation]) -> str:
    if findings.allowed:
        message = "complies with the cluster's policy"
        if pending:
            defaults = counted(len(pending), "default")
            message += f"; {defaults} of the policy will be applied on its next update"
        return message
    count = len(findings.violations)
    plural = "violation" if count == 1 else "violations"
    message = f"{count} {plural} of the cluster's policy: {findings.message()}"
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 3] + "..."
    return message


def compliance_condition(
    findings: Findings,
    now: datetime,
    *,
    observed_generation: int | None = None,
    previous: Iterable[Any] = (),
    pending_defaults: Sequence[Operation] = (),
) -> dict[str, Any]:
    """The `PolicyCompliant` condition for these findings.

    `lastTransitionTime` is kept from a `previous` condition of the same type and status (the
    metav1.Condition convention), so re-auditing an unchanged EP gives an identical condition
    and the controller's status write can be skipped.
    """
    status = "True" if findings.allowed else "False"
    reason = REASON_COMPLIANT if findings.allowed else rule_reason(findings.violations[0].rule)
    transition = transition_time(previous, POLICY_COMPLIANT, status, format_time(now))
    condition: dict[str, Any] = {
        "type": POLICY_COMPLIANT,
        "status": status,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": _message(findings, pending_defaults),
    }
    if observed_generation is not None:
        condition["observedGeneration"] = observed_generation
    return condition


def audit_environment_provisioner(
    ep: EnvironmentProvisioner | Mapping[str, Any], policy: Policy, now: datetime
) -> AuditResult:
    """Audit one stored EP (typed or wire) against `policy`."""
    obj = _wire(ep)
    findings, pending = check_compliance(obj, policy)
    condition = compliance_condition(
        findings,
        now,
        observed_generation=_generation(obj),
        previous=_previous_conditions(obj),
        pending_defaults=pending,
    )
    return AuditResult(
        kind=ENV_KIND if isinstance(obj, dict) and obj.get("kind") == ENV_KIND else EP_KIND,
        name=_name(obj),
        compliant=findings.allowed,
        violations=tuple(findings.violations),
        warnings=tuple(findings.warnings),
        pending_defaults=tuple(pending),
        condition=condition,
    )


def audit_environment_provisioners(
    eps: Iterable[EnvironmentProvisioner | Mapping[str, Any]], policy: Policy, now: datetime
) -> list[AuditResult]:
    """Audit every EP; the results keep the input order."""
    return [audit_environment_provisioner(ep, policy, now) for ep in eps]
