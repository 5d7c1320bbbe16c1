"""Shared test data: the seed EP and TronadorConfig of examples/, as dicts and typed models."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tronador.api import EnvironmentProvisioner, TronadorConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def seed_ep_dict() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "environment-provisioner.yaml").read_text())


def seed_config_dict() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "tronador-config.yaml").read_text())


def seed_ep(**changes: Any) -> EnvironmentProvisioner:
    obj = seed_ep_dict()
    obj["metadata"]["uid"] = "uid-74"
    obj["metadata"]["generation"] = 1
    for path, value in changes.items():
        node = obj
        keys = path.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return EnvironmentProvisioner.model_validate(obj)


def seed_config(mutate: Any = None) -> TronadorConfig:
    obj = copy.deepcopy(seed_config_dict())
    if mutate is not None:
        mutate(obj)
    return TronadorConfig.model_validate(obj)
