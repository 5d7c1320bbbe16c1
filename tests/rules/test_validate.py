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


@pytest.mark.parametrize(
    ("prefix", "url", "allowed"),
    [
        ("https://git.example.com", "https://git.example.com/a/b", True),
        ("https://git.example.com", "https://git.example.com.attacker.net/a/b", False),
        ("https://git.example.com/team", "https://git.example.com/team-evil/b", False),
        ("https://git.example.com/team/", "https://git.example.com/team/b", True),
        ("https://git.example.com/team", "https://GIT.example.com/team/b", True),
        ("https://git.example.com/", "ssh://git@git.example.com/team/b", False),
        ("https://git.example.com:8443/", "https://git.example.com/team/b", False),
        ("git@github.com:org/", "git@github.com:org/app.git", True),
        ("git@github.com:org", "git@github.com:organisation/app.git", False),
    ],
)
def test_allowed_chart_prefixes_compare_host_then_whole_segments(
    prefix: str, url: str, allowed: bool
) -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["chart"]["git"] = url
    findings = validate_environment_provisioner(
        ep, Policy.model_validate({"allowedChartGitPrefixes": [prefix]})
    )
    assert ("chart-url-allowed" not in rules_of(findings)) is allowed


def test_an_external_source_needs_a_listed_url() -> None:
    ep = seed()
    source = {"externalSourceRef": {"url": "https://values.example.com.evil/x.yaml"}}
    ep["spec"]["application"]["release"]["valuesFrom"] = [source]
    denied = rules_of(validate_environment_provisioner(ep, Policy()))
    assert denied["external-source-allowed"].startswith(
        "spec.application.release.valuesFrom[0].externalSourceRef.url: "
        "'https://values.example.com.evil/x.yaml' is not under a URL the cluster's policy lists"
    )
    policy = Policy.model_validate(
        {"release": {"externalSourceURLPrefixes": ["https://values.example.com/"]}}
    )
    assert "external-source-allowed" in rules_of(validate_environment_provisioner(ep, policy))
    source["externalSourceRef"]["url"] = "https://values.example.com/x.yaml"
    assert validate_environment_provisioner(ep, policy).allowed


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("pod-security.kubernetes.io/enforce", "privileged", "label-denied"),
        ("capsule.clastix.io/tenant", "team-b", "label-denied"),
        ("tronador.stakater.com/environment", "someone-else", "label-denied"),
        ("argocd.argoproj.io/managed-by", "argocd", "label-denied"),
        ("kubernetes.io/metadata.name", "kube-system", "label-denied"),
    ],
)
def test_namespace_labels_the_policy_denies_by_default(key: str, value: str, rule: str) -> None:
    ep = seed()
    ep["spec"]["namespaceLabels"][key] = value
    findings = validate_environment_provisioner(ep, Policy())
    assert rules_of(findings) == {
        rule: f'spec.namespaceLabels["{key}"]: label {key!r} may not be set by an environment '
        f"(policy.namespaceLabels.deniedKeys: {_glob_for(key)!r}) (rule {rule})"
    }


def _glob_for(key: str) -> str:
    from tronador.api.tronador_config import DEFAULT_DENIED_LABEL_KEYS
    from tronador.rules.label_policy import glob_match

    return next(p for p in DEFAULT_DENIED_LABEL_KEYS if glob_match(p, key))


def test_allowed_keys_values_and_enforced_labels() -> None:
    policy = Policy.model_validate(
        {
            "namespaceLabels": {
                "allowedKeys": ["kind", "team"],
                "allowedValues": {"team": ["team-*"]},
                "enforced": {"pod-security.kubernetes.io/enforce": "restricted"},
            }
        }
    )
    ep = seed()
    ep["spec"]["namespaceLabels"].update(
        {"team": "gabbar", "cost-centre": "x", "pod-security.kubernetes.io/enforce": "privileged"}
    )
    assert rules_of(validate_environment_provisioner(ep, policy)) == {
        "label-value-allowed": "spec.namespaceLabels.team: 'gabbar' is not an allowed value of "
        "'team' (policy.namespaceLabels.allowedValues: team-*) (rule label-value-allowed)",
        "label-allowed": "spec.namespaceLabels.cost-centre: label 'cost-centre' is not among the "
        "keys the cluster's policy allows (policy.namespaceLabels.allowedKeys: kind, team) "
        "(rule label-allowed)",
        "label-enforced": 'spec.namespaceLabels["pod-security.kubernetes.io/enforce"]: the '
        "cluster's "
        "policy sets this label to 'restricted' on every environment namespace "
        "(policy.namespaceLabels.enforced) (rule label-enforced)",
    }
    ep["spec"]["namespaceLabels"] = {
        "kind": "pr",
        "team": "team-a",
        "stakater.com/tenant": "veeru",
        "pod-security.kubernetes.io/enforce": "restricted",
    }
    assert validate_environment_provisioner(ep, policy).allowed


def test_enforced_labels_win_at_admission_and_in_the_namespace() -> None:
    from controller.desired import desired_namespace
    from tests.controller.helpers import seed_ep
    from tronador.rules.review import review_environment_provisioner

    enforced = {"pod-security.kubernetes.io/enforce": "restricted"}
    policy = Policy.model_validate({"namespaceLabels": {"enforced": enforced}})
    ep = seed()
    ep["spec"]["namespaceLabels"]["pod-security.kubernetes.io/enforce"] = "privileged"
    review = review_environment_provisioner(ep, policy)
    assert review.findings.allowed, review.findings.message()
    assert review.result["spec"]["namespaceLabels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )
    stored = seed_ep(spec__namespaceLabels={"capsule.clastix.io/tenant": "team-b", "kind": "pr"})
    labels = desired_namespace(stored, policy).labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert "capsule.clastix.io/tenant" not in labels and labels["kind"] == "pr"
