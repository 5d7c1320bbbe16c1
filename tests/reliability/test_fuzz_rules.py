"""Property-based fuzzing of the pure admission rules (mutate, validate, review).

Deterministic (`derandomize=True`) and bounded (300 examples a property) so CI stays fast; the
example counts are printed in the terminal summary. For a deeper local
run: `TRONADOR_FUZZ_EXAMPLES=5000 TRONADOR_FUZZ_RANDOM=1 pytest tests/reliability -k fuzz`."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime
from typing import Any

import jsonpatch
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.fuzzcount import RUNS
from tests.reliability.strategies import (
    environment_provisioners,
    json_objects,
    json_values,
    policies,
    spec,
)
from tronador.api import Policy
from tronador.api.constants import IMAGE_NAME_ANNOTATION, IMAGE_TAG_ANNOTATION
from tronador.api.formats import PLACEHOLDER_RE
from tronador.rules.audit import audit_environment_provisioner
from tronador.rules.expiry import decide
from tronador.rules.findings import Findings
from tronador.rules.images import rewrite_chain
from tronador.rules.mutate import mutate_environment_provisioner
from tronador.rules.review import review_environment_provisioner
from tronador.rules.validate import validate_environment_provisioner

FUZZ = settings(
    max_examples=int(os.environ.get("TRONADOR_FUZZ_EXAMPLES", "300")),
    derandomize=os.environ.get("TRONADOR_FUZZ_RANDOM") != "1",
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
_NOW = datetime(2024, 5, 1, tzinfo=UTC)
DEFAULT = Policy()


def assert_well_formed(findings: Findings) -> None:
    for violation in findings.violations:
        assert isinstance(violation.path, str)
        assert violation.rule and isinstance(violation.rule, str)
        assert violation.message and isinstance(violation.message, str)
    assert all(isinstance(w, str) and w for w in findings.warnings)
    if not findings.allowed:
        assert findings.message()


# --- known issues (found by this fuzzing; see the xfail tests at the end) ----------------------


def chained_rewrites(policy: Policy) -> bool:
    """A rewrite whose target another rewrite matches: each mutate rewrites the image again."""
    return rewrite_chain(policy.image_registry_rewrites) is not None


def placeholder_in_image_annotation(obj: Any) -> bool:
    """An image-name/tag annotation that itself holds a placeholder: substituted again on
    each mutate, so the value grows."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        return False
    return any(
        isinstance(annotations.get(key), str) and PLACEHOLDER_RE.search(annotations[key])
        for key in (IMAGE_NAME_ANNOTATION, IMAGE_TAG_ANNOTATION)
    )


def assert_mutation_properties(obj: dict[str, Any], policy: Policy) -> None:
    before = copy.deepcopy(obj)
    patch = mutate_environment_provisioner(obj, policy)
    assert obj == before, "mutate must not change its input"
    assert isinstance(patch, list)
    result = jsonpatch.apply_patch(copy.deepcopy(obj), patch)  # always applies
    assert mutate_environment_provisioner(result, policy) == [], "second mutate must be a no-op"
    findings = validate_environment_provisioner(result, policy)
    assert_well_formed(findings)
    RUNS[f"(mutated result {'allowed' if findings.allowed else 'denied'})"] += 1
    if not findings.allowed:
        # denied with a message naming a field
        assert all(v.path for v in findings.violations), findings.message()
        assert all(v.path in findings.message() for v in findings.violations)


@FUZZ
@given(obj=json_objects, policy=policies)
def test_mutate_arbitrary_json_objects(obj: dict[str, Any], policy: Policy) -> None:
    RUNS["mutate: arbitrary JSON objects"] += 1
    assert_mutation_properties(obj, policy)


@FUZZ
@given(obj=environment_provisioners, policy=policies)
def test_mutate_ep_shaped_dicts(obj: dict[str, Any], policy: Policy) -> None:
    RUNS["mutate: EP-shaped dicts"] += 1
    assert_mutation_properties(obj, policy)


@FUZZ
@given(body=spec, name=st.sampled_from(["inventory-74", "pr-1"]), policy=policies)
def test_mutate_specs_close_to_the_schema(body: dict[str, Any], name: str, policy: Policy) -> None:
    RUNS["mutate: specs close to the schema"] += 1
    obj = {
        "apiVersion": "tronador.stakater.com/v1alpha1",
        "kind": "EnvironmentProvisioner",
        "metadata": {"name": name},
        "spec": body,
    }
    assert_mutation_properties(obj, policy)


@FUZZ
@given(obj=json_values, policy=policies)
def test_validate_never_raises_on_any_json(obj: Any, policy: Policy) -> None:
    RUNS["validate: arbitrary JSON values"] += 1
    findings = validate_environment_provisioner(obj, policy)
    assert_well_formed(findings)
    if not isinstance(obj, dict):
        assert not findings.allowed


@FUZZ
@given(obj=environment_provisioners, old=environment_provisioners | json_values, policy=policies)
def test_validate_update_never_raises(obj: dict[str, Any], old: Any, policy: Policy) -> None:
    RUNS["validate: updates of EP-shaped dicts"] += 1
    assert_well_formed(validate_environment_provisioner(obj, policy, old))


@FUZZ
@given(obj=environment_provisioners | json_values, policy=policies)
def test_review_audit_and_expiry_never_raise(obj: Any, policy: Policy) -> None:
    RUNS["review + audit + expiry: EP-shaped dicts and JSON"] += 1
    review = review_environment_provisioner(obj, policy)
    assert_well_formed(review.findings)
    if isinstance(obj, dict):
        result = audit_environment_provisioner(obj, policy, _NOW)
        assert result.compliant == (result.condition["status"] == "True")
    decision = decide(obj, policy, _NOW)
    assert decision.message


image_values = st.dictionaries(
    st.sampled_from(["image", "repository", "sidecar"]),
    st.sampled_from(["nginx", "docker.io/acme/app", "mirror.example.com/x", "ghcr.io/acme/y"])
    | st.fixed_dictionaries({"repository": st.sampled_from(["nginx", "quay.io/z"])}),
    min_size=1,
    max_size=3,
)


@FUZZ
@given(values=image_values, policy=policies)
def test_registry_rewrites_are_idempotent(values: dict[str, Any], policy: Policy) -> None:
    RUNS["mutate: registry rewrites"] += 1
    obj = {"metadata": {"name": "a"}, "spec": {"application": {"release": {"values": values}}}}
    assert_mutation_properties(obj, policy)


def test_chained_rewrites_are_idempotent() -> None:
    """Found by this fuzzing: a rewrite target that another rewrite matches used to be
    rewritten again on every mutate."""
    policy = Policy.model_validate(
        {
            "imageRegistryRewrites": [
                {"from": "docker.io", "to": "ghcr.io/acme"},
                {"from": "ghcr.io/acme", "to": "docker.io"},
            ]
        }
    )
    obj = {"metadata": {"name": "a"}, "spec": {"application": {"release": {"values": {}}}}}
    obj["spec"]["application"]["release"]["values"] = {"image": "nginx"}
    assert chained_rewrites(policy)
    assert_idempotent(obj, policy)


@pytest.mark.parametrize(
    ("rewrites", "image"),
    [
        (
            [
                {"from": "ghcr.io/acme", "to": "mirror.example.com"},
                {"from": "mirror.example.com", "to": "docker.io"},
            ],
            "ghcr.io/acme/y",
        ),
        (
            [
                {"from": "docker.io", "to": "index.docker.io/mirror"},
            ],
            "nginx",
        ),
    ],
)
def test_chained_rewrites_to_a_bare_host_are_idempotent(
    rewrites: list[dict[str, str]], image: str
) -> None:
    policy = Policy.model_validate({"imageRegistryRewrites": rewrites})
    obj = {"metadata": {"name": "a"}, "spec": {"application": {"release": {"values": {}}}}}
    obj["spec"]["application"]["release"]["values"] = {"image": image}
    assert chained_rewrites(policy)
    assert_idempotent(obj, policy)


def test_placeholder_in_the_image_annotation_is_idempotent_and_denied() -> None:
    """Found by this fuzzing: an image annotation holding a placeholder used to be substituted
    again on every mutate, growing the value."""
    obj = {
        "metadata": {
            "name": "a",
            "annotations": {IMAGE_NAME_ANNOTATION: "{{APPLICATION_IMAGE_NAME}}x"},
        },
        "spec": {"application": {"release": {"values": {"image": "{{APPLICATION_IMAGE_NAME}}"}}}},
    }
    assert placeholder_in_image_annotation(obj)
    assert_idempotent(obj, Policy())
    findings = validate_environment_provisioner(obj, Policy())
    assert any(
        v.rule == "unresolved-placeholder" and v.path.startswith("metadata.annotations")
        for v in findings.violations
    )


def assert_idempotent(obj: dict[str, Any], policy: Policy) -> None:
    patch = mutate_environment_provisioner(obj, policy)
    result = jsonpatch.apply_patch(copy.deepcopy(obj), patch)
    assert mutate_environment_provisioner(result, policy) == []
