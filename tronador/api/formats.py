"""Named string formats. Each is used three ways from this one definition: pydantic enforces it,
the generated CRD schema carries it, and a failed match is explained in a person's words."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from tronador.patterns import BoundedPattern, bounded, linear


@dataclass(frozen=True)
class NamedFormat:
    rule: str
    pattern: str
    max_length: int | None
    explanation: str

    def matches(self, value: str) -> bool:
        if self.max_length is not None and len(value) > self.max_length:
            return False
        return _compiled(self.pattern).fullmatch(value) is not None


@functools.cache
def _compiled(pattern: str) -> BoundedPattern:
    return bounded(pattern.strip("^$"), 253)


DNS1123_LABEL = NamedFormat(
    rule="dns-1123-label",
    pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    max_length=63,
    explanation="a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
    "starting and ending with a letter or digit",
)
HELM_RELEASE_NAME = NamedFormat(
    rule="release-name",
    pattern=DNS1123_LABEL.pattern,
    max_length=53,
    explanation="a Helm release name: at most 53 lowercase letters, digits or '-', "
    "starting and ending with a letter or digit",
)
DNS1123_SUBDOMAIN = NamedFormat(
    rule="dns-1123-subdomain",
    pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    max_length=253,
    explanation="a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' or '.', "
    "starting and ending with a letter or digit",
)
LABEL_VALUE = NamedFormat(
    rule="label-value",
    pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$",
    max_length=63,
    explanation="a label value: empty or at most 63 letters, digits, '-', '_' or '.', "
    "starting and ending with a letter or digit",
)
LABEL_NAME = NamedFormat(
    rule="label-key",
    pattern=r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$",
    max_length=63,
    explanation="a label name: at most 63 letters, digits, '-', '_' or '.', "
    "starting and ending with a letter or digit",
)
NAMED_FORMATS = (DNS1123_LABEL, HELM_RELEASE_NAME, DNS1123_SUBDOMAIN, LABEL_VALUE, LABEL_NAME)


def format_for_pattern(pattern: str) -> NamedFormat | None:
    for named in NAMED_FORMATS:
        if named.pattern == pattern:
            return named
    return None


def constrained(named: NamedFormat) -> object:
    return Field(pattern=named.pattern, max_length=named.max_length)


ReleaseName = Annotated[str, constrained(HELM_RELEASE_NAME)]
LabelValue = Annotated[str, constrained(LABEL_VALUE)]


@functools.lru_cache(maxsize=1024)
def label_key_problem(key: str) -> str | None:
    """Why `key` is not a valid label key (optional DNS subdomain prefix + '/' + name), or None.
    Cached: a cluster's EPs use a handful of label keys."""
    prefix, slash, name = key.rpartition("/")
    if slash and not DNS1123_SUBDOMAIN.matches(prefix):
        return f"its prefix {prefix!r} must be {DNS1123_SUBDOMAIN.explanation}"
    if not LABEL_NAME.matches(name):
        return f"its name {name!r} must be {LABEL_NAME.explanation}"
    return None


PLACEHOLDER_RE = linear(r"\{\{([^{}]*)\}\}")
r"""A `{{ NAME }}` template placeholder, any spacing inside the braces (`placeholder_name`).
Linear (RE2): it runs on Helm values of any length; the earlier `\{\{\s*(...*?)\s*\}\}`
backtracked (`{{` and 4000 spaces took 49 s)."""


def placeholder_name(match: Any) -> str:
    """The name inside a `PLACEHOLDER_RE` match, without the spacing around it."""
    return str(match.group(1)).strip()
