"""Mutate then validate, in the order the API server calls the two webhooks."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import jsonpatch

from tronador.api import Policy
from tronador.rules.findings import Findings
from tronador.rules.jsonpatch_ops import Operation
from tronador.rules.mutate import mutate_environment_provisioner
from tronador.rules.validate import validate_environment_provisioner


@dataclass
class Review:
    patch: list[Operation]
    result: Any
    findings: Findings


def review_environment_provisioner(obj: Any, policy: Policy, old: Any = None) -> Review:
    patch = mutate_environment_provisioner(obj, policy) if isinstance(obj, dict) else []
    result = jsonpatch.apply_patch(copy.deepcopy(obj), patch) if patch else obj
    return Review(patch, result, validate_environment_provisioner(result, policy, old))
