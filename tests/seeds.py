"""The seed documents (../shared/seeds) as test data: what users expect, verbatim."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
EXAMPLES = REPO_ROOT / "examples"


@cache
def _guide_blocks() -> list[str]:
    text = (SHARED / "seeds" / "workflow-guide.md").read_text(encoding="utf-8")
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


def seed_config_file_text() -> str:
    return _guide_blocks()[0]


def seed_environment_provisioner() -> dict[str, Any]:
    return yaml.safe_load(_guide_blocks()[1])


def seed_helm_release() -> dict[str, Any]:
    return yaml.safe_load(_guide_blocks()[2])
