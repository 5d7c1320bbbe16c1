"""Validating objects against the Flux CRDs in tests/data/schemas/flux: the served version's
openAPIV3Schema with jsonschema, and the CEL rules we can meet, as Python predicates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import jsonschema
import yaml

from tests.seeds import SCHEMAS

SCHEMA_DIR = SCHEMAS / "flux"

_FILES = {
    "helm.fluxcd.io": "helm.fluxcd.io_helmreleases.yaml",
    "helm.toolkit.fluxcd.io": "helm.toolkit.fluxcd.io_helmreleases.yaml",
    "source.toolkit.fluxcd.io": "source.toolkit.fluxcd.io_gitrepositories.yaml",
}

CEL_RULES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))": (
        lambda s: ("chart" in s) != ("chartRef" in s)
    ),
    "!has(self.retryInterval) || self.name != 'RemediateOnFailure'": (
        lambda s: "retryInterval" not in s or s.get("name") != "RemediateOnFailure"
    ),
    "!has(self.retryInterval) || self.name == 'RetryOnFailure'": (
        lambda s: "retryInterval" not in s or s.get("name") == "RetryOnFailure"
    ),
    "has(self.configMapRef) || has(self.secretRef)": (
        lambda s: "configMapRef" in s or "secretRef" in s
    ),
    "!has(self.configMapRef) || !has(self.secretRef)": (
        lambda s: "configMapRef" not in s or "secretRef" not in s
    ),
    "!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' || "
    "self.provider == 'aws'))": (
        lambda s: "serviceAccountName" not in s or s.get("provider") in ("azure", "aws")
    ),
}
"""Every CEL rule of the three CRDs, as a predicate on the object it applies to."""


@cache
def crd(group: str) -> dict[str, Any]:
    return yaml.safe_load((SCHEMA_DIR / _FILES[group]).read_text())


def served_schema(api_version: str) -> dict[str, Any]:
    group, _, version = api_version.rpartition("/")
    for candidate in crd(group)["spec"]["versions"]:
        if candidate["name"] == version and candidate.get("served", False):
            return candidate["schema"]["openAPIV3Schema"]
    raise LookupError(f"{api_version} is not served by the CRD")


def cel_rules(schema: dict[str, Any], node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(rule, value) for every CEL rule whose field is present in `node`."""
    if not isinstance(node, dict):
        return
    for rule in schema.get("x-kubernetes-validations", []):
        yield rule["rule"], node
    for key, sub in (schema.get("properties") or {}).items():
        if key in node:
            value = node[key]
            if sub.get("type") == "array" and isinstance(value, list):
                for item in value:
                    yield from cel_rules(sub.get("items") or {}, item)
            else:
                yield from cel_rules(sub, value)


def validate(obj: dict[str, Any]) -> None:
    """Raise if `obj` breaks its CRD's schema or one of its CEL rules."""
    schema = served_schema(obj["apiVersion"])
    jsonschema.validate(obj, schema)
    for rule, value in cel_rules(schema, obj):
        assert rule in CEL_RULES, f"no predicate for CEL rule {rule!r}"
        assert CEL_RULES[rule](value), f"CEL rule {rule!r} fails on {value!r}"
