"""Property tests of the Environment's rules: never a crash, an idempotent patch that always
applies and drops what Flux v1 lacks, and denials that name their field."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
from hypothesis import given

from tests.reliability.fuzzcount import RUNS
from tests.reliability.strategies import environments, json_values, policies
from tests.reliability.test_fuzz_rules import FUZZ, assert_well_formed
from tronador.api import Policy
from tronador.api.environment import DROPPED_GIT_REPOSITORY_FIELDS
from tronador.rules.kinds import dig
from tronador.rules.mutate import mutate_environment
from tronador.rules.validate import validate_environment


@FUZZ
@given(obj=environments, policy=policies)
def test_mutate_then_validate_environment_shaped_dicts(obj: dict[str, Any], policy: Policy) -> None:
    RUNS["environment: mutate then validate"] += 1
    before = copy.deepcopy(obj)
    mutation = mutate_environment(obj, policy)
    assert obj == before, "mutate must not change its input"
    result = jsonpatch.apply_patch(copy.deepcopy(obj), mutation.patch)
    assert mutate_environment(result, policy).patch == [], "second mutate must be a no-op"
    git = dig(result, ("spec", "application", "gitRepository"))
    if isinstance(git, dict):
        assert not set(DROPPED_GIT_REPOSITORY_FIELDS) & set(git)
    findings = validate_environment(result, policy)
    assert_well_formed(findings)
    RUNS[f"(environment {'allowed' if findings.allowed else 'denied'})"] += 1
    assert all(v.path in findings.message() for v in findings.violations)


@FUZZ
@given(obj=json_values)
def test_validate_environment_takes_any_json(obj: Any) -> None:
    RUNS["environment: validate arbitrary JSON"] += 1
    assert_well_formed(validate_environment(obj, Policy()))
