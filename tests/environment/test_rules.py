"""The EP's rules applied to the Environment (same rule, same message), and its own rules."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonpatch
import pytest

from tests.seeds import example_environment, seed_environment_provisioner
from tronador.api import Policy
from tronador.api.constants import FINALIZER, IMAGE_NAME_ANNOTATION, IMAGE_TAG_ANNOTATION
from tronador.rules.findings import Findings, Severity
from tronador.rules.mutate import mutate_environment, mutate_environment_provisioner
from tronador.rules.review import review_environment, review_object
from tronador.rules.validate import validate_environment, validate_environment_provisioner

GIT = ("spec", "application", "gitRepository")
RELEASE = ("spec", "application", "release")


def ep() -> dict[str, Any]:
    obj = seed_environment_provisioner()
    obj.pop("status")
    return obj


def env() -> dict[str, Any]:
    return example_environment()


def at(obj: dict[str, Any], *path: str) -> dict[str, Any]:
    for part in path:
        obj = obj[part]
    return obj


def denials(findings: Findings) -> dict[str, str]:
    return {v.rule: str(v) for v in findings.violations}


def test_example_is_allowed_after_review_with_gitimplementation_dropped() -> None:
    review = review_environment(env(), Policy())
    assert review.findings.allowed, review.findings.message()
    assert {"op": "remove", "path": "/spec/application/gitRepository/gitImplementation"} in (
        review.patch
    )
    assert "gitImplementation" not in at(review.result, *GIT)
    assert review.findings.warnings == [
        "spec.application.gitRepository.gitImplementation: "
        "source.toolkit.fluxcd.io/v1 no longer has this field; it was dropped"
    ]
    assert mutate_environment(review.result, Policy()).patch == []


def test_validate_alone_warns_that_gitimplementation_will_be_dropped() -> None:
    findings = validate_environment(env(), Policy())
    assert findings.allowed
    assert findings.warnings == [
        "spec.application.gitRepository.gitImplementation: "
        "source.toolkit.fluxcd.io/v1 no longer has this field; it is dropped, not passed to Flux"
    ]


def test_review_object_chooses_the_rules_by_kind() -> None:
    assert review_object(env(), Policy()).findings.allowed
    assert review_object(ep(), Policy()).findings.allowed
    wrong = env()
    wrong["kind"] = "EnvironmentProvisioner"
    assert not review_object(wrong, Policy()).findings.allowed


# The issue's "bad input": denied, field named, rule named.


def test_unknown_field_is_denied_with_its_path() -> None:
    obj = env()
    at(obj, *RELEASE)["chart"]["spec"]["branch"] = "main"
    assert denials(validate_environment(obj, Policy())) == {
        "unknown-field": "spec.application.release.chart.spec.branch: unknown field "
        "(rule unknown-field)"
    }


def test_bad_url_is_denied_by_the_chart_url_rule() -> None:
    obj = env()
    at(obj, *GIT)["url"] = "http://github.com/stakater-lab/inventory"
    findings = validate_environment(obj, Policy())
    assert denials(findings) == {
        "chart-url": "spec.application.gitRepository.url: "
        "'http://github.com/stakater-lab/inventory' is not an https://, ssh:// or scp-style "
        "(git@host:org/repo) git URL (plain http is not allowed) (rule chart-url)"
    }
    assert findings.severity is Severity.MALFORMED


@pytest.mark.parametrize("ref", [{}, {"branch": ""}, None])
def test_ref_with_neither_branch_nor_tag_is_denied(ref: Any) -> None:
    obj = env()
    if ref is None:
        del at(obj, *GIT)["ref"]
    else:
        at(obj, *GIT)["ref"] = ref
    assert denials(validate_environment(obj, Policy())) == {
        "git-ref": "spec.application.gitRepository.ref: needs one of branch, tag, semver, "
        "commit or name (rule git-ref)"
    }


@pytest.mark.parametrize("ref", [{"tag": "v1.2.0"}, {"semver": ">=1.0"}, {"commit": "a" * 40}])
def test_any_ref_selector_is_enough(ref: dict[str, str]) -> None:
    obj = env()
    at(obj, *GIT)["ref"] = ref
    assert validate_environment(obj, Policy()).allowed


def test_source_ref_in_another_namespace_is_denied() -> None:
    obj = env()
    at(obj, *RELEASE, "chart", "spec", "sourceRef")["namespace"] = "flux-system"
    assert denials(validate_environment(obj, Policy())) == {
        "source-namespace": "spec.application.release.chart.spec.sourceRef.namespace: "
        "'flux-system' is another namespace; the chart's GitRepository is created in the "
        "environment's own namespace ('pr-123-stakater-nordmart-inventory') "
        "(rule source-namespace)"
    }
    at(obj, *RELEASE, "chart", "spec", "sourceRef")["namespace"] = obj["metadata"]["name"]
    assert validate_environment(obj, Policy()).allowed


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("targetNamespace", "kube-system"),
        ("storageNamespace", "kube-system"),
        ("kubeConfig", {"secretRef": {"name": "remote"}}),
        ("serviceAccountName", "cluster-admin"),
    ],
)
def test_release_stays_confined(field: str, value: Any) -> None:
    obj = env()
    at(obj, *RELEASE)[field] = value
    findings = validate_environment(obj, Policy())
    assert list(denials(findings)) == ["release-confined"]
    assert findings.violations[0].path == f"spec.application.release.{field}"
    assert findings.severity is Severity.POLICY


def test_other_flux_fields_pass() -> None:
    obj = env()
    at(obj, *GIT).update({"recurseSubmodules": True, "ignore": "/*\n!/deploy"})
    at(obj, *RELEASE).update({"install": {"remediation": {"retries": 3}}, "maxHistory": 5})
    assert validate_environment(obj, Policy()).allowed


def test_depends_on_another_namespace_is_denied() -> None:
    obj = env()
    at(obj, *RELEASE)["dependsOn"] = [
        {"name": "db"},
        {"name": "db", "namespace": obj["metadata"]["name"]},
        {"name": "vault", "namespace": "kube-system"},
    ]
    findings = validate_environment(obj, Policy())
    assert denials(findings) == {
        "depends-on-namespace": "spec.application.release.dependsOn[2].namespace: 'kube-system' "
        "is another namespace; a release may depend only on releases in its environment's own "
        f"namespace ({obj['metadata']['name']!r}) (rule depends-on-namespace)"
    }


def test_post_renderers_need_the_policy() -> None:
    obj = env()
    at(obj, *RELEASE)["postRenderers"] = [{"kustomize": {"patches": []}}]
    assert list(denials(validate_environment(obj, Policy()))) == ["post-renderers"]
    allowing = Policy.model_validate({"release": {"allowPostRenderers": True}})
    assert validate_environment(obj, allowing).allowed


# One rule, two kinds: the same rule name and message.

Edit = Callable[[dict[str, Any], tuple[str, ...]], None]
EP_URL = (*RELEASE, "chart")
ENV_URL = GIT


def _labels(obj: dict[str, Any], _url: tuple[str, ...]) -> None:
    obj["spec"]["namespaceLabels"]["stakater.com/tenant"] = "gamma"


def _values_from(obj: dict[str, Any], _url: tuple[str, ...]) -> None:
    at(obj, *RELEASE)["valuesFrom"] = [
        {"secretKeyRef": {"name": "creds", "namespace": "kube-system"}}
    ]


def _name(obj: dict[str, Any], _url: tuple[str, ...]) -> None:
    obj["metadata"]["name"] = "Not_A_Label"


def _placeholder(obj: dict[str, Any], _url: tuple[str, ...]) -> None:
    at(obj, *RELEASE)["values"] = {"image": {"tag": "{{APPLICATION_IMAGE_TAG}}"}}


POLICY = Policy.model_validate(
    {
        "tenant": {"allowedValues": ["alpha", "veeru"]},
        "requiredNamespaceLabels": ["owner"],
        "allowedChartGitPrefixes": ["https://github.com/stakater-lab/"],
    }
)


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (_labels, "tenant-allowed"),
        (_values_from, "values-from-namespace"),
        (_name, "dns-1123-label"),
        (_placeholder, "unresolved-placeholder"),
    ],
)
def test_a_rule_reads_the_same_for_both_kinds(edit: Edit, rule: str) -> None:
    found = []
    for obj, validate, url in (
        (ep(), validate_environment_provisioner, EP_URL),
        (env(), validate_environment, ENV_URL),
    ):
        obj["spec"]["namespaceLabels"]["owner"] = "stakater"
        edit(obj, url)
        violations = [v for v in validate(obj, POLICY).violations if v.rule == rule]
        assert violations, rule
        found.append([(v.path, v.message.replace("Environment", "EP")) for v in violations])
    assert found[0] == found[1]


def test_chart_url_policy_and_immutability_name_the_kinds_own_field() -> None:
    for obj, validate, field in (
        (ep(), validate_environment_provisioner, "spec.application.release.chart.git"),
        (env(), validate_environment, "spec.application.gitRepository.url"),
    ):
        old = copy.deepcopy(obj)
        key = "git" if field.endswith("git") else "url"
        at(obj, *field.split(".")[:-1])[key] = "https://gitlab.com/other/app"
        findings = validate(obj, POLICY, old)
        assert {(v.path, v.rule) for v in findings.violations} >= {
            (field, "chart-url-allowed"),
            (field, "immutable-chart-url"),
        }


def test_mutate_fills_the_eps_defaults_for_an_environment() -> None:
    policy = Policy.model_validate(
        {
            "defaultNamespaceLabels": {"cost-center": "dev"},
            "imageRegistryRewrites": [{"from": "docker.io", "to": "mirror.example.com/hub"}],
        }
    )
    obj = env()
    del at(obj, *RELEASE)["releaseName"]
    at(obj, *GIT)["ref"] = {"branch": "feature/Login_Page"}
    obj["metadata"]["annotations"] = {IMAGE_NAME_ANNOTATION: "nginx", IMAGE_TAG_ANNOTATION: "1.25"}
    at(obj, *RELEASE)["values"] = {"image": {"repository": "{{APPLICATION_IMAGE_NAME}}"}}
    mutation = mutate_environment(obj, policy)
    result = jsonpatch.apply_patch(copy.deepcopy(obj), mutation.patch)
    assert at(result, *RELEASE)["releaseName"] == "feature-login-page"
    assert at(result, *RELEASE)["values"] == {
        "image": {"repository": "mirror.example.com/hub/library/nginx"}
    }
    assert result["spec"]["namespaceLabels"]["cost-center"] == "dev"
    assert result["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "tronador.stakater.com",
        "stakater.com/tenant": "veeru",
    }
    assert result["metadata"]["finalizers"] == [FINALIZER]
    assert mutate_environment(result, policy).patch == []


def test_ep_mutation_is_unchanged_by_the_shared_code() -> None:
    assert mutate_environment_provisioner(ep(), Policy()) == [
        {
            "op": "add",
            "path": "/metadata/labels",
            "value": {
                "app.kubernetes.io/managed-by": "tronador.stakater.com",
                "stakater.com/tenant": "veeru",
            },
        },
        {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
    ]


@pytest.mark.parametrize("obj", [None, [], "x", {"kind": "Environment"}])
def test_malformed_input_never_crashes(obj: Any) -> None:
    findings = validate_environment(obj, Policy())
    assert not findings.allowed
    if isinstance(obj, dict):
        assert mutate_environment(obj, Policy()).patch is not None
