"""What the EP and the Environment share, read the same way for both kinds.

The rules never ask which kind they check: they read a `SpecView`, and a `KindShape` says where
each kind keeps the shared parts (the chart's URL, path and ref) and how its messages name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from tronador.api import Environment, EnvironmentProvisioner
from tronador.api.constants import ENV_KIND, EP_KIND

FieldPath = tuple[str, ...]
RELEASE: FieldPath = ("spec", "application", "release")
GIT_REPOSITORY: FieldPath = ("spec", "application", "gitRepository")
GIT_REF_FIELDS = ("branch", "tag", "semver", "commit", "name")
"""A Flux GitRepository ref selects by one of these (Flux picks commit > name > semver > tag >
branch when several are given); the first given here names the release by default."""


@dataclass(frozen=True)
class KindShape:
    kind: str
    noun: str
    """How messages name one object of the kind."""
    model: type[BaseModel]
    chart_url: FieldPath
    chart_path: FieldPath
    chart_ref: FieldPath
    """A string (EP) or a Flux GitRepository ref mapping (Environment)."""


EP_SHAPE = KindShape(
    kind=EP_KIND,
    noun="EP",
    model=EnvironmentProvisioner,
    chart_url=(*RELEASE, "chart", "git"),
    chart_path=(*RELEASE, "chart", "path"),
    chart_ref=(*RELEASE, "chart", "ref"),
)
ENVIRONMENT_SHAPE = KindShape(
    kind=ENV_KIND,
    noun="Environment",
    model=Environment,
    chart_url=(*GIT_REPOSITORY, "url"),
    chart_path=(*RELEASE, "chart", "spec", "chart"),
    chart_ref=(*GIT_REPOSITORY, "ref"),
)


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def dig(obj: Any, parts: FieldPath) -> Any:
    for part in parts:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def ref_text(ref: Any) -> str | None:
    """The git ref as one string: the EP's as given, an Environment's first selector."""
    if isinstance(ref, str):
        return ref
    for key in GIT_REF_FIELDS:
        value = mapping(ref).get(key)
        if isinstance(value, str) and value:
            return value
    return None


class SpecView:
    """Typed read access to the fields the rules look at, tolerant of a malformed rest."""

    def __init__(self, obj: dict[str, Any], shape: KindShape) -> None:
        self.shape = shape
        name = mapping(obj.get("metadata")).get("name")
        self.name: str | None = name if isinstance(name, str) else None
        labels = mapping(dig(obj, ("spec", "namespaceLabels")))
        self.namespace_labels: dict[str, str] = {
            k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)
        }
        self.chart_url: str | None = _string(dig(obj, shape.chart_url))
        self.chart_path: str | None = _string(dig(obj, shape.chart_path))
        self.ref: str | None = ref_text(dig(obj, shape.chart_ref))
        release = mapping(dig(obj, RELEASE))
        self.values: dict[str, Any] = mapping(release.get("values"))
        sources = release.get("valuesFrom")
        self.values_from: list[Any] = sources if isinstance(sources, list) else []
