from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.seeds import seed_environment_provisioner
from tronador.api import Policy
from tronador.rules.findings import Severity
from tronador.rules.validate import validate_environment_provisioner


def seed() -> dict[str, Any]:
    ep = seed_environment_provisioner()
    ep.pop("status")
    return ep


def rules_of(findings: Any) -> dict[str, str]:
    return {v.rule: str(v) for v in findings.violations}


def test_seed_environment_provisioner_validates() -> None:
    findings = validate_environment_provisioner(seed_environment_provisioner(), Policy())
    assert findings.allowed, findings.message()
    assert findings.warnings == []


def test_unknown_spec_field_is_rejected_with_its_path() -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["chart"]["branch"] = "main"
    findings = validate_environment_provisioner(ep, Policy())
    assert rules_of(findings) == {
        "unknown-field": "spec.application.release.chart.branch: unknown field (rule unknown-field)"
    }
    assert findings.severity is Severity.MALFORMED


def test_null_values_from_and_labels_are_accepted() -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["valuesFrom"] = None
    ep["spec"]["application"]["release"]["values"] = None
    findings = validate_environment_provisioner(ep, Policy())
    assert findings.allowed, findings.message()


def test_several_problems_are_reported_together() -> None:
    ep = seed()
    ep["metadata"]["name"] = "Stakater_Inventory"
    ep["spec"]["application"]["release"]["chart"]["git"] = "not a url"
    ep["spec"]["application"]["release"]["chart"]["extra"] = 1
    ep["spec"]["namespaceLabels"]["team"] = "-bad-"
    findings = validate_environment_provisioner(ep, Policy())
    rules = rules_of(findings)
    assert set(rules) == {"dns-1123-label", "chart-url", "unknown-field", "label-value"}
    assert rules["chart-url"].startswith("spec.application.release.chart.git: 'not a url' is not")
    assert rules["label-value"].startswith("spec.namespaceLabels.team: '-bad-'")
    assert "metadata.name: 'Stakater_Inventory'" in rules["dns-1123-label"]


def test_over_long_name_is_rejected() -> None:
    ep = seed()
    ep["metadata"]["name"] = "a" * 64
    assert "dns-1123-label" in rules_of(validate_environment_provisioner(ep, Policy()))


def test_over_long_release_name_names_the_limit() -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["releaseName"] = "r" * 54
    rules = rules_of(validate_environment_provisioner(ep, Policy()))
    assert rules == {
        "max-length": "spec.application.release.releaseName: must be at most 53 characters "
        "(rule max-length)"
    }


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("http://github.com/org/repo", "plain http"),
        ("https://user:token@github.com/org/repo", "credentials"),
        ("ftp://github.com/org/repo", ""),
        ("https://github.com", ""),
        ("git@github.com", ""),
    ],
)
def test_bad_chart_url_is_rejected(url: str, hint: str) -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["chart"]["git"] = url
    rules = rules_of(validate_environment_provisioner(ep, Policy()))
    assert set(rules) == {"chart-url"}
    assert hint in rules["chart-url"]


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/repo",
        "https://github.com/org/repo.git",
        "ssh://git@github.com:2222/org/repo",
        "git@github.com:org/repo.git",
    ],
)
def test_good_chart_urls_are_accepted(url: str) -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["chart"]["git"] = url
    assert validate_environment_provisioner(ep, Policy()).allowed


def test_unresolved_placeholder_anywhere_in_spec_is_rejected() -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["values"]["application"]["deployment"]["image"]["tag"] = (
        "{{ APPLICATION_IMAGE_TAG }}"
    )
    ep["spec"]["application"]["release"]["chart"]["ref"] = "{{BRANCH}}"
    findings = validate_environment_provisioner(ep, Policy())
    messages = [str(v) for v in findings.violations]
    assert messages == [
        "spec.application.release.chart.ref: placeholder '{{BRANCH}}' was never substituted "
        "(rule unresolved-placeholder)",
        "spec.application.release.values.application.deployment.image.tag: placeholder "
        "'{{ APPLICATION_IMAGE_TAG }}' was never substituted (rule unresolved-placeholder)",
    ]


def test_chart_url_outside_allowed_prefixes_is_a_policy_denial() -> None:
    policy = Policy.model_validate({"allowedChartGitPrefixes": ["https://github.com/acme/"]})
    findings = validate_environment_provisioner(seed(), policy)
    assert set(rules_of(findings)) == {"chart-url-allowed"}
    assert findings.severity is Severity.POLICY


def test_tenant_required_and_allowed_values() -> None:
    policy = Policy.model_validate({"tenant": {"required": True, "allowedValues": ["jai"]}})
    findings = validate_environment_provisioner(seed(), policy)
    assert rules_of(findings) == {
        "tenant-allowed": "spec.namespaceLabels[\"stakater.com/tenant\"]: tenant 'veeru' is not "
        "one of the allowed tenants (jai) (rule tenant-allowed)"
    }
    ep = seed()
    del ep["spec"]["namespaceLabels"]["stakater.com/tenant"]
    assert set(rules_of(validate_environment_provisioner(ep, policy))) == {"tenant-required"}


def test_tenant_label_key_comes_from_policy() -> None:
    policy = Policy.model_validate({"tenant": {"labelKey": "team", "allowedValues": ["gabbar"]}})
    assert validate_environment_provisioner(seed(), policy).allowed


def test_required_namespace_labels() -> None:
    policy = Policy.model_validate({"requiredNamespaceLabels": ["kind", "cost-center"]})
    findings = validate_environment_provisioner(seed(), policy)
    assert rules_of(findings) == {
        "required-namespace-labels": "spec.namespaceLabels: label 'cost-center' is required by "
        "the cluster's policy (rule required-namespace-labels)"
    }


def test_invalid_label_key_is_rejected() -> None:
    ep = seed()
    ep["spec"]["namespaceLabels"]["Bad_Prefix/x"] = "y"
    assert set(rules_of(validate_environment_provisioner(ep, Policy()))) == {"label-key"}


def test_update_may_not_change_chart_url_or_tenant() -> None:
    old = seed()
    new = copy.deepcopy(old)
    new["spec"]["application"]["release"]["chart"]["git"] = "https://github.com/other/repo"
    new["spec"]["namespaceLabels"]["stakater.com/tenant"] = "jai"
    findings = validate_environment_provisioner(new, Policy(), old=old)
    assert set(rules_of(findings)) == {"immutable-chart-url", "immutable-tenant"}
    assert findings.severity is Severity.POLICY


def test_update_may_change_values_and_ref() -> None:
    old = seed()
    new = copy.deepcopy(old)
    new["spec"]["application"]["release"]["chart"]["ref"] = "other-branch"
    new["spec"]["application"]["release"]["values"]["application"]["deployment"]["image"]["tag"] = (
        "SNAPSHOT-PR-74-aaaa"
    )
    assert validate_environment_provisioner(new, Policy(), old=old).allowed


def test_latest_tag_is_a_warning_not_a_denial() -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["values"]["application"]["deployment"]["image"]["tag"] = (
        "latest"
    )
    findings = validate_environment_provisioner(ep, Policy())
    assert findings.allowed
    assert findings.warnings == [
        "spec.application.release.values.application.deployment.image.tag: tag 'latest' is "
        "mutable; a new push will not redeploy"
    ]


def test_values_from_needs_exactly_one_source() -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["valuesFrom"] = [
        {"secretKeyRef": {"name": "a"}, "configMapKeyRef": {"name": "b"}}
    ]
    rules = rules_of(validate_environment_provisioner(ep, Policy()))
    assert "exactly one of configMapKeyRef" in rules["schema"]
    assert rules["schema"].startswith("spec.application.release.valuesFrom[0]")


@pytest.mark.parametrize("obj", [None, [], "text", 3, {"spec": "x"}])
def test_not_an_object_is_rejected_without_crashing(obj: Any) -> None:
    findings = validate_environment_provisioner(obj, Policy())
    assert not findings.allowed
    assert findings.severity is Severity.MALFORMED


def test_wrong_api_version_is_rejected() -> None:
    ep = seed()
    ep["apiVersion"] = "tronador.stakater.com/v1"
    rules = rules_of(validate_environment_provisioner(ep, Policy()))
    assert rules["schema"].startswith("apiVersion: 'tronador.stakater.com/v1' is not allowed")


def test_values_from_may_reference_only_opened_namespaces() -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["valuesFrom"] = [
        {"secretKeyRef": {"name": "db", "namespace": "kube-system"}},
        {"configMapKeyRef": {"name": "common", "namespace": "team"}},
        {"configMapKeyRef": {"name": "own", "namespace": "stakater-nordmart-inventory-74"}},
        {"configMapKeyRef": {"name": "implicit"}},
    ]
    findings = validate_environment_provisioner(ep, Policy())
    assert [str(v) for v in findings.violations] == [
        "spec.application.release.valuesFrom[0].secretKeyRef.namespace: 'kube-system' is not "
        "open to valuesFrom (policy.valuesFromNamespaces: none) (rule values-from-namespace)",
        "spec.application.release.valuesFrom[1].configMapKeyRef.namespace: 'team' is not "
        "open to valuesFrom (policy.valuesFromNamespaces: none) (rule values-from-namespace)",
    ]
    assert findings.severity is Severity.POLICY
    opened = Policy.model_validate({"valuesFromNamespaces": ["team", "kube-system"]})
    assert validate_environment_provisioner(ep, opened).allowed
