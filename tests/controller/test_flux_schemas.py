"""The schema check used on every object the controller writes is not vacuous."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from controller.desired import desired_for_provisioner
from controller.settings import ReleaseOptions
from tests.controller.flux_schemas import CEL_RULES, cel_rules, served_schema, validate
from tests.controller.helpers import seed_ep


def _release() -> dict:
    return copy.deepcopy(
        desired_for_provisioner(seed_ep(), None, ReleaseOptions()).helm_release.body
    )


def test_a_helm_release_without_interval_is_rejected() -> None:
    body = _release()
    del body["spec"]["interval"]
    with pytest.raises(jsonschema.ValidationError):
        validate(body)


def test_a_bad_reconcile_strategy_is_rejected() -> None:
    body = _release()
    body["spec"]["chart"]["spec"]["reconcileStrategy"] = "Always"
    with pytest.raises(jsonschema.ValidationError):
        validate(body)


def test_chart_and_chart_ref_together_break_the_cel_rule() -> None:
    body = _release()
    body["spec"]["chartRef"] = {"kind": "OCIRepository", "name": "x"}
    with pytest.raises(AssertionError, match=r"either|chartRef"):
        validate(body)


def test_retry_interval_with_remediate_on_failure_breaks_the_cel_rule() -> None:
    body = _release()
    body["spec"]["install"]["strategy"] = {"name": "RemediateOnFailure", "retryInterval": "1m"}
    with pytest.raises(AssertionError, match="retryInterval"):
        validate(body)


@pytest.mark.parametrize(
    "api_version", ["helm.toolkit.fluxcd.io/v2", "source.toolkit.fluxcd.io/v1"]
)
def test_every_cel_rule_of_the_crds_has_a_predicate(api_version: str) -> None:
    schema = served_schema(api_version)

    def rules(node: dict) -> list[str]:
        found = [r["rule"] for r in node.get("x-kubernetes-validations", [])]
        for sub in (node.get("properties") or {}).values():
            found += rules(sub)
        if isinstance(node.get("items"), dict):
            found += rules(node["items"])
        return found

    assert set(rules(schema)) <= set(CEL_RULES)
    assert list(cel_rules(schema, {"spec": {}}))  # the root spec rules apply to every object
