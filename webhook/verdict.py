"""A webhook's decision on one request, before it is put on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from tronador.rules.findings import Findings, Severity
from tronador.rules.jsonpatch_ops import Operation

MAX_WARNINGS = 5
MAX_WARNING_LENGTH = 120
"""The API server shortens long warnings itself; a few short ones stay readable in kubectl."""

REVIEW_RULE = "admission-review"
"""The rule named for denials about the AdmissionReview itself rather than the object."""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    patch: list[Operation] | None = None
    """JSON Patch operations; None (never an empty list) when nothing changes."""
    warnings: tuple[str, ...] = ()
    code: int = HTTPStatus.OK
    message: str = ""
    denied_rules: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """The metav1.Status reason for `code` (Forbidden, BadRequest, ...)."""
        return _REASONS.get(self.code, "Unknown")

    @property
    def outcome(self) -> str:
        """The metrics label: allowed, patched or denied."""
        if not self.allowed:
            return "denied"
        return "patched" if self.patch else "allowed"


_REASONS: dict[int, str] = {
    HTTPStatus.BAD_REQUEST: "BadRequest",
    HTTPStatus.FORBIDDEN: "Forbidden",
    HTTPStatus.INTERNAL_SERVER_ERROR: "InternalError",
    HTTPStatus.SERVICE_UNAVAILABLE: "ServiceUnavailable",
}

ALLOWED = Verdict(allowed=True)


def allow(patch: list[Operation] | None = None, warnings: list[str] | None = None) -> Verdict:
    if not patch and not warnings:
        return ALLOWED
    return Verdict(allowed=True, patch=patch or None, warnings=shorten_warnings(warnings or []))


def from_findings(findings: Findings) -> Verdict:
    """Allowed with warnings, or denied naming every failing field (403 for policy, 400 for a
    malformed object)."""
    warnings = shorten_warnings(findings.warnings)
    if findings.allowed:
        return Verdict(allowed=True, warnings=warnings) if warnings else ALLOWED
    code = HTTPStatus.BAD_REQUEST
    if findings.severity is Severity.POLICY:
        code = HTTPStatus.FORBIDDEN
    return Verdict(
        allowed=False,
        warnings=warnings,
        code=code,
        message=findings.message(),
        denied_rules=tuple(v.rule for v in findings.violations),
    )


def bad_request(message: str, rule: str = REVIEW_RULE) -> Verdict:
    return Verdict(
        allowed=False, code=HTTPStatus.BAD_REQUEST, message=message, denied_rules=(rule,)
    )


def unavailable(message: str) -> Verdict:
    return Verdict(
        allowed=False,
        code=HTTPStatus.SERVICE_UNAVAILABLE,
        message=message,
        denied_rules=("unavailable",),
    )


def internal_error(message: str) -> Verdict:
    return Verdict(
        allowed=False,
        code=HTTPStatus.INTERNAL_SERVER_ERROR,
        message=message,
        denied_rules=("internal-error",),
    )


def shorten_warnings(warnings: list[str]) -> tuple[str, ...]:
    if not warnings:
        return ()
    shown = warnings if len(warnings) <= MAX_WARNINGS else warnings[: MAX_WARNINGS - 1]
    out = [_shorten(w) for w in shown]
    if len(shown) < len(warnings):
        out.append(f"... and {len(warnings) - len(shown)} more warnings")
    return tuple(out)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_WARNING_LENGTH else text[: MAX_WARNING_LENGTH - 3] + "..."
