from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.seeds import seed_environment_provisioner
from tronador.api import Condition, EnvironmentProvisioner, Policy
from tronador.rules.audit import (
    POLICY_COMPLIANT,
    audit_environment_provisioner,
    audit_environment_provisioners,
    rule_reason,
)
from tronador.rules.conditions import set_condition
from tronador.rules.review import review_environment_provisioner

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
STRICT = Policy.model_validate(
    {
        "allowedChartGitPrefixes": ["https://gitlab.example.com/"],
        "requiredNamespaceLabels": ["cost-center"],
        "tenant": {"allowedValues": ["jai"]},
    }
)


def stored(**metadata: Any) -> dict[str, Any]:
    ep = seed_environment_provisioner()
    ep["metadata"].update({"generation": 3, "uid": "u-1", "resourceVersion": "42", **metadata})
    return ep


def test_compliant_ep_gets_a_true_condition() -> None:
    result = audit_environment_provisioner(stored(), Policy(), NOW)
    assert result.compliant
    assert result.condition == {
        "type": POLICY_COMPLIANT,
        "status": "True",
        "lastTransitionTime": "2024-05-01T10:00:00Z",
        "reason": "Compliant",
        "message": result.message,
        "observedGeneration": 3,
    }
    Condition.model_validate(result.condition)


def test_the_cleanup_finalizer_is_not_a_pending_default_of_the_policy() -> None:
    """Admission adds it, but it is not the policy's: an EP from git (never admitted) or one
    admitted before the webhook added it complies with nothing pending."""
    ep = review_environment_provisioner(stored(), Policy()).result  # labelled, defaulted
    del ep["metadata"]["finalizers"]
    result = audit_environment_provisioner(ep, Policy(), NOW)
    assert result.compliant and result.pending_defaults == ()
    assert "default" not in result.message


def test_non_compliant_ep_names_the_first_rule_and_lists_all() -> None:
    result = audit_environment_provisioner(stored(), STRICT, NOW)
    assert not result.compliant
    assert result.condition["status"] == "False"
    assert result.reason == "ChartUrlAllowedFailed"
    assert result.message.startswith("3 violations of the cluster's policy: ")
    for rule in ("chart-url-allowed", "tenant-allowed", "required-namespace-labels"):
        assert f"(rule {rule})" in result.message
    assert [v.rule for v in result.violations] == [
        "chart-url-allowed",
        "tenant-allowed",
        "required-namespace-labels",
    ]
    Condition.model_validate(result.condition)


def test_status_is_not_audited() -> None:
    ep = stored()
    ep["status"]["somethingOld"] = "from an older controller"
    assert audit_environment_provisioner(ep, Policy(), NOW).compliant


def test_defaults_of_the_new_policy_count_as_applied_but_are_reported() -> None:
    policy = Policy.model_validate(
        {
            "requiredNamespaceLabels": ["cost-center"],
            "defaultNamespaceLabels": {"cost-center": "dev"},
        }
    )
    result = audit_environment_provisioner(stored(), policy, NOW)
    assert result.compliant
    assert any(op["path"] == "/spec/namespaceLabels/cost-center" for op in result.pending_defaults)
    assert "will be applied on its next update" in result.message


def test_transition_time_is_kept_while_the_status_holds() -> None:
    first = audit_environment_provisioner(stored(), STRICT, NOW)
    ep = stored()
    ep["status"]["conditions"] = [first.condition]
    later = audit_environment_provisioner(ep, STRICT, NOW + timedelta(hours=1))
    assert later.condition == first.condition
    assert ep["status"]["conditions"] == [later.condition]  # nothing to write
    fixed = audit_environment_provisioner(ep, Policy(), NOW + timedelta(hours=2))
    assert fixed.condition["lastTransitionTime"] == "2024-05-01T12:00:00Z"
    assert ep["status"]["conditions"] != [fixed.condition]


def test_malformed_stored_objects_are_non_compliant_not_errors() -> None:
    for obj in ({}, {"spec": 1}, {"metadata": {"name": "a"}, "spec": {"application": None}}):
        result = audit_environment_provisioner(obj, Policy(), NOW)
        assert not result.compliant
        Condition.model_validate(result.condition)


def test_typed_and_batch_inputs() -> None:
    ep = stored()
    ep.pop("status")
    typed = EnvironmentProvisioner.model_validate(ep)
    results = audit_environment_provisioners([typed, ep], STRICT, NOW)
    assert [r.name for r in results] == [ep["metadata"]["name"]] * 2
    assert results[0].condition == results[1].condition


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("chart-url", "ChartUrlFailed"),
        ("dns-1123-label", "Dns1123LabelFailed"),
        ("unknown-field", "UnknownFieldFailed"),
        ("", "RuleFailed"),
        ("1abc", "Rule1abcFailed"),
    ],
)
def test_rule_reasons_are_valid_condition_reasons(rule: str, reason: str) -> None:
    assert rule_reason(rule) == reason


def test_set_condition_replaces_by_type_and_moves_the_transition_only_on_a_flip() -> None:
    def condition(type_: str, status: str, at: str) -> Condition:
        return Condition.model_validate(
            {"type": type_, "status": status, "reason": "R", "lastTransitionTime": at}
        )

    other = condition("Ready", "True", "t0")
    old = condition(POLICY_COMPLIANT, "True", "t1")
    new = condition(POLICY_COMPLIANT, "False", "t2")
    assert set_condition([other, old], new) == [other, new]
    assert set_condition([other], new) == [other, new]
    same = condition(POLICY_COMPLIANT, "True", "t3")
    assert set_condition([old, other], same) == [old, other]
