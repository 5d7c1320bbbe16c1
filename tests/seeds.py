"""The seed examples (tests/data/seeds) as test data: what users expect, verbatim."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT / "tests" / "data"
SEEDS = DATA / "seeds"
SCHEMAS = DATA / "schemas"
EXAMPLES = REPO_ROOT / "examples"


@cache
def _seed_text(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


def seed_config_file_text() -> str:
    return _seed_text("tronador.yaml")


def seed_environment_provisioner() -> dict[str, Any]:
    return yaml.safe_load(_seed_text("environment-provisioner.yaml"))


def seed_helm_release() -> dict[str, Any]:
    return yaml.safe_load(_seed_text("helm-release.yaml"))


def example_environment() -> dict[str, Any]:
    """The docs' Environment (examples/environment.yaml): Tronador's current API."""
    return yaml.safe_load((EXAMPLES / "environment.yaml").read_text(encoding="utf-8"))
