"""The monitoring component's sources, and the PromQL in them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.manifests.render import MANIFESTS

COMPONENT = MANIFESTS / "components" / "monitoring"
OVERLAY = MANIFESTS / "overlays" / "monitoring"
SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas" / "prometheus-operator"
RUNBOOKS = MANIFESTS.parent / "docs" / "monitoring.md"

PROMETHEUS_METRICS = {"up"}
"""Series Prometheus itself writes for every target, not in any /metrics output."""

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "inf", "nan",
}  # fmt: skip


def prometheus_rule() -> dict[str, Any]:
    rule: dict[str, Any] = yaml.safe_load((COMPONENT / "prometheusrule.yaml").read_text())
    return rule


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = prometheus_rule()["spec"]["groups"]
    return groups


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    board: dict[str, Any] = json.loads((COMPONENT / "dashboard.json").read_text())
    return board


def dashboard_exprs() -> list[str]:
    return [
        target["expr"] for panel in dashboard()["panels"] for target in panel.get("targets", [])
    ]


def operator_crds() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(SCHEMAS.glob("*.yaml"))]


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPINGS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_WORD = re.compile(r"(?<![\w:.])[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, keywords or label names)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPINGS.sub(" ", text)
    names = set()
    for word in _WORD.finditer(text):
        called = text[word.end() :].lstrip().startswith("(")
        if not called and word.group().lower() not in PROMQL_WORDS:
            names.add(word.group())
    return names
