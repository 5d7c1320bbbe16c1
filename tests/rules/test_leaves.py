"""The pruned string-leaf scan (tronador/rules/leaves.py) gives what a full walk gives.

The rules skip the parts of a values tree that orjson's text shows cannot hold a string they care
about. These properties compare the scan with a plain walk of every leaf, and the rules' whole
verdicts (findings and patches) with the pruning switched off, on random EPs and Environments
and on large values trees with placeholders, `latest` tags and image keys planted anywhere.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.payloads import large_ep
from tests.reliability.strategies import (
    environment_provisioners,
    environments,
    helm_values,
    json_values,
    policies,
)
from tronador.api import Policy
from tronador.rules import leaves
from tronador.rules.leaves import Interest, Key, Path, find_leaves, find_strings
from tronador.rules.mutate import mutate_environment, mutate_environment_provisioner
from tronador.rules.validate import validate_environment, validate_environment_provisioner

PROPERTY = settings(
    max_examples=int(os.environ.get("TRONADOR_FUZZ_EXAMPLES", "200")),
    derandomize=os.environ.get("TRONADOR_FUZZ_RANDOM") != "1",
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

NEEDLE_TEXTS = st.sampled_from(
    ["{{ APPLICATION_IMAGE_TAG }}", "latest", "nginx:latest", "{{", "a{{b", "x", "", "la test"]
)
trees = st.recursive(
    json_values | NEEDLE_TEXTS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["image", "repository", "tag", "env", "name", "{{k}}", "latest"])
            | st.text(max_size=6),
            children,
            max_size=5,
        )
    ),
    max_leaves=40,
)
interests = st.builds(
    Interest,
    keys=st.frozensets(st.sampled_from(["image", "repository", "tag"]), max_size=2),
    substrings=st.lists(st.sampled_from(["{{", "latest", ":latest"]), max_size=2).map(tuple),
)


def every_leaf(node: Any, trail: Path = ()) -> list[tuple[Path, str]]:
    """The reference: every string leaf, in document order, no pruning."""
    if isinstance(node, str):
        return [(trail, node)]
    if not isinstance(node, dict | list):
        return []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    return [leaf for key, value in items for leaf in every_leaf(value, (*trail, key))]


def _key(path: Path) -> Key:
    return path[-1] if path else None


@PROPERTY
@given(trees, interests)
def test_the_scan_finds_every_admitted_leaf_a_full_walk_finds(tree: Any, interest: Interest):
    expected = [(p, t) for p, t in every_leaf(tree) if interest.admits(_key(p), t)]
    assert find_leaves(tree, interest) == expected


@PROPERTY
@given(trees, interests)
def test_find_strings_roots_paths_and_applies_the_rules_test(tree: Any, interest: Interest):
    def wanted(key: Key, text: str) -> bool:
        return interest.admits(key, text) and len(text) % 2 == 0

    expected = [(("spec", *p), t) for p, t in every_leaf(tree) if wanted(_key(p), t)]
    assert find_strings(tree, interest, wanted, ("spec",)) == expected


def test_a_tree_orjson_cannot_serialize_is_walked_in_full():
    tree = {"big": [2**70, {"image": "nginx"}], "l": [["nginx:latest"]]}
    interest = Interest(keys=frozenset({"image"}), substrings=("latest",))
    assert find_leaves(tree, interest) == [
        (("big", 1, "image"), "nginx"),
        (("l", 0, 0), "nginx:latest"),
    ]


def test_a_list_without_a_candidate_is_not_walked():
    tree = {"env": [{"name": "A", "value": "1"}] * 3, "image": {"repository": "nginx"}}
    interest = Interest(keys=frozenset({"repository"}))
    assert not interest.may_hold(tree["env"])
    assert find_leaves(tree, interest) == [(("image", "repository"), "nginx")]


@pytest.mark.parametrize("needle", ['a"b', "a\\b", "", "tab\t", "é"])
def test_needles_orjson_would_escape_are_refused(needle: str):
    with pytest.raises(ValueError, match="needles"):
        Interest(substrings=(needle,))


@pytest.fixture
def no_pruning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leaves.Interest, "may_hold", lambda self, node: True)


def _verdicts(obj: Any, policy: Policy, environment: bool) -> tuple[Any, ...]:
    if environment:
        mutation = mutate_environment(obj, policy) if isinstance(obj, dict) else None
        patch = (mutation.patch, mutation.warnings) if mutation else None
        findings = validate_environment(obj, policy)
    else:
        patch = mutate_environment_provisioner(obj, policy) if isinstance(obj, dict) else None
        findings = validate_environment_provisioner(obj, policy)
    return patch, findings.violations, findings.warnings


def _same_verdict_unpruned(obj: Any, policy: Policy, environment: bool) -> None:
    pruned = _verdicts(obj, policy, environment)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(leaves.Interest, "may_hold", lambda self, node: True)
        full = _verdicts(obj, policy, environment)
    assert pruned == full


@PROPERTY
@given(environment_provisioners, policies)
def test_ep_verdicts_are_the_same_with_and_without_pruning(ep: Any, policy: Policy):
    _same_verdict_unpruned(ep, policy, environment=False)


@PROPERTY
@given(environments, policies)
def test_environment_verdicts_are_the_same_with_and_without_pruning(env: Any, policy: Policy):
    _same_verdict_unpruned(env, policy, environment=True)


LARGE = large_ep(24 * 1024)
REWRITING = Policy.model_validate(
    {"imageRegistryRewrites": [{"from": "docker.io", "to": "mirror.example.com/hub"}]}
)
PLANTED = st.sampled_from(
    [
        "{{ APPLICATION_IMAGE_TAG }}",
        "{{APPLICATION_IMAGE_NAME}}",
        "latest",
        "nginx:latest",
        "index.docker.io/acme/app",
        "{{ OTHER }}",
    ]
)


def _containers(node: Any, trail: Path = ()) -> list[Path]:
    out = [trail] if isinstance(node, dict | list) else []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        out += _containers(value, (*trail, key))
    return out


SPOTS = _containers(LARGE["spec"]["application"]["release"]["values"])


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SPOTS), st.sampled_from(["tag", "image", "x", "repository"]), PLANTED
        ),
        max_size=4,
    ),
    helm_values,
    st.just(REWRITING) | policies,
    st.booleans(),
)
def test_large_values_with_planted_candidates_give_the_same_verdicts(
    planted: list[tuple[Path, str, str]], extra: Any, policy: Policy, annotated: bool
):
    ep = copy.deepcopy(LARGE)
    values = ep["spec"]["application"]["release"]["values"]
    values["extra"] = extra
    for spot, key, text in planted:
        node = values
        for part in spot:
            node = node[part]
        if isinstance(node, dict):
            node[key] = text
        else:
            node.append({key: text})
    if annotated:
        ep["metadata"]["annotations"] = {
            "tronador.stakater.com/image-name": "acme/app",
            "tronador.stakater.com/image-tag": "pr-74",
        }
    _same_verdict_unpruned(ep, policy, environment=False)
