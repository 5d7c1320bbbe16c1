"""Putting verdicts on the wire: one `json.dumps` per response, the patch encoded straight from the
rule's operations."""

from __future__ import annotations

import base64
import json
from http import HTTPStatus

from webhook.review import (
    ADMISSION_API_VERSION,
    ADMISSION_REVIEW_KIND,
    AdmissionResponseWire,
    AdmissionReviewResponseWire,
)
from webhook.verdict import Verdict

_COMPACT = (",", ":")


def admission_review(uid: str, verdict: Verdict) -> bytes:
    """The AdmissionReview answering request `uid`."""
    response: AdmissionResponseWire = {"uid": uid, "allowed": verdict.allowed}
    if not verdict.allowed:
        response["status"] = {
            "status": "Failure",
            "code": int(verdict.code),
            "reason": verdict.reason,
            "message": verdict.message,
        }
    if verdict.patch:
        patch = json.dumps(verdict.patch, separators=_COMPACT).encode()
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(patch).decode("ascii")
    if verdict.warnings:
        response["warnings"] = list(verdict.warnings)
    review: AdmissionReviewResponseWire = {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": ADMISSION_REVIEW_KIND,
        "response": response,
    }
    return json.dumps(review, separators=_COMPACT).encode()


def error_status(code: HTTPStatus, message: str) -> bytes:
    """A metav1.Status body for requests that cannot be answered with an AdmissionReview."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Status",
            "status": "Failure",
            "code": int(code),
            "reason": code.phrase.replace(" ", ""),
            "message": message,
        },
        separators=_COMPACT,
    ).encode()
