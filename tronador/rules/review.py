"""Mutate then validate, in the order the API server calls the two webhooks."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import jsonpatch

from tronador.api import Policy
from tronador.api.constants import ENV_KIND
from tronador.rules.findings import Findings
from tronador.rules.jsonpatch_ops import Operation
from tronador.rules.mutate import mutate_environment, mutate_environment_provisioner
from tronador.rules.validate import validate_environment, validate_environment_provisioner


@dataclass
class Review:
    patch: list[Operation]
    result: Any
    findings: Findings


def review_environment_provisioner(obj: Any, policy: Policy, old: Any = None) -> Review:
    patch = mutate_environment_provisioner(obj, policy) if isinstance(obj, dict) else []
    result = jsonpatch.apply_patch(copy.deepcopy(obj), patch) if patch else obj
    return Review(patch, result, validate_environment_provisioner(result, policy, old))


def review_environment(obj: Any, policy: Policy, old: Any = None) -> Review:
    if not isinstance(obj, dict):
        return Review([], obj, validate_environment(obj, policy, old))
    mutation = mutate_environment(obj, policy)
    patch = mutation.patch
    result = jsonpatch.apply_patch(copy.deepcopy(obj), patch) if patch else obj
    findings = validate_environment(result, policy, old)
    findings.warnings[:0] = mutation.warnings
    return Review(patch, result, findings)


def review_object(obj: Any, policy: Policy, old: Any = None) -> Review:
    """Review an EP or an Environment, chosen by its kind (an EP when it names neither)."""
    if isinstance(obj, dict) and obj.get("kind") == ENV_KIND:
        return review_environment(obj, policy, old)
    return review_environment_provisioner(obj, policy, old)
