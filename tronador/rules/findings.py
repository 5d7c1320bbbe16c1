"""Findings of a rule check; pydantic errors turned into findings naming field and rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tronador.api.formats import format_for_pattern


class Severity(StrEnum):
    MALFORMED = "malformed"
    """The object is not a well-formed EP (HTTP 400 in the webhook)."""
    POLICY = "policy"
    """The object is well formed but the cluster's policy forbids it (HTTP 403)."""


@dataclass(frozen=True)
class Violation:
    path: str
    rule: str
    message: str
    severity: Severity = Severity.MALFORMED

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}{self.message} (rule {self.rule})"


MAX_VIOLATIONS = 50
"""Violations kept per check; more are counted, not listed. A hostile object can hold a problem in
each of 100,000 leaves: the answer (and the time to build it) stays bounded, and 50 problems are
more than anyone fixes before trying again."""


@dataclass
class Findings:
    violations: list[Violation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    """Violations were found past MAX_VIOLATIONS; checks may stop looking once `full`."""

    @property
    def allowed(self) -> bool:
        return not self.violations

    @property
    def severity(self) -> Severity | None:
        if not self.violations:
            return None
        if any(v.severity is Severity.MALFORMED for v in self.violations):
            return Severity.MALFORMED
        return Severity.POLICY

    def deny(
        self, path: str, rule: str, message: str, severity: Severity = Severity.MALFORMED
    ) -> None:
        self.add(Violation(path, rule, message, severity))

    def add(self, violation: Violation) -> None:
        if len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(violation)
        else:
            self.truncated = True

    @property
    def full(self) -> bool:
        """True once further violations are only counted: a check may stop looking."""
        return len(self.violations) >= MAX_VIOLATIONS

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}" if path else message)

    def extend(self, other: Findings) -> None:
        self.add_all(other.violations)
        self.truncated = self.truncated or other.truncated
        self.warnings.extend(other.warnings)

    def add_all(self, violations: Iterable[Violation]) -> None:
        for violation in violations:
            self.add(violation)

    def message(self) -> str:
        listed = "; ".join(str(v) for v in self.violations)
        if self.truncated:
            return f"{listed}; (only the first {MAX_VIOLATIONS} problems are listed)"
        return listed


def field_path(parts: Iterable[str | int], root: str = "") -> str:
    """`spec.namespaceLabels["stakater.com/tenant"]`, `spec.items[0].name`."""
    out = root
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum() and not part[:1].isdigit():
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def _describe(error: dict) -> tuple[str, str]:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        return "unknown-field", "unknown field"
    if kind == "missing":
        return "required", "required field is missing"
    if kind == "literal_error":
        return "schema", f"{value!r} is not allowed, expected {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        named = format_for_pattern(ctx.get("pattern", ""))
        if named:
            return named.rule, f"{value!r} is not {named.explanation}"
        return "pattern", f"{value!r} does not match {ctx.get('pattern')}"
    if kind == "string_too_long":
        return "max-length", f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return "required", "must not be empty"
    if kind == "too_short":
        return "required", "must have at least one item"
    if kind == "value_error":
        return "schema", str(ctx.get("error", error["msg"]))
    return "schema", error["msg"][0].lower() + error["msg"][1:]


def violations_from_pydantic(exc: ValidationError, root: str = "") -> list[Violation]:
    out: list[Violation] = []
    for error in exc.errors(include_url=False):
        rule, message = _describe(error)
        out.append(Violation(field_path(error["loc"], root), rule, message, Severity.MALFORMED))
    return out


Model = TypeVar("Model", bound=BaseModel)


def parse_model(model: type[Model], obj: Any, findings: Findings) -> Model | None:
    """The typed object, or None with its schema problems added to `findings`."""
    if not isinstance(obj, dict):
        findings.deny("", "schema", f"a {model.__name__} must be a mapping")
        return None
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        findings.add_all(violations_from_pydantic(exc))
        return None
