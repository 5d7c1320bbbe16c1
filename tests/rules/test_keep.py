"""The keep annotation at admission: a boolean, and refused where the policy forbids it."""

from __future__ import annotations


def test_keep_is_true_or_false_and_the_policy_may_forbid_it() -> None:
    from tests.seeds import seed_environment_provisioner
    from tronador.api import Policy
    from tronador.rules.validate import validate_environment_provisioner

    ep = seed_environment_provisioner()
    ep["metadata"].setdefault("annotations", {})["tronador.stakater.com/keep"] = "yes"
    findings = validate_environment_provisioner(ep, Policy())
    assert [v.rule for v in findings.violations] == ["keep-annotation"]
    ep["metadata"]["annotations"]["tronador.stakater.com/keep"] = "true"
    assert validate_environment_provisioner(ep, Policy()).allowed
    forbids = Policy.model_validate({"allowKeep": False})
    findings = validate_environment_provisioner(ep, forbids)
    assert [v.rule for v in findings.violations] == ["keep-not-allowed"]
