"""Putting verdicts on the wire: one encoding per response, the patch encoded straight from the
rule's operations."""

from __future__ import annotations

import base64
from http import HTTPStatus

from webhook import json_codec
from webhook.review import (
    ADMISSION_API_VERSION,
    ADMISSION_REVIEW_KIND,
    AdmissionResponseWire,
    AdmissionReviewResponseWire,
)
from webhook.verdict import Verdict


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
        patch = json_codec.dumps(verdict.patch)
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(patch).decode("ascii")
    if verdict.warnings:
        response["warnings"] = list(verdict.warnings)
    review: AdmissionReviewResponseWire = {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": ADMISSION_REVIEW_KIND,
        "response": response,
    }
    return json_codec.dumps(review)


def error_status(code: HTTPStatus, message: str) -> bytes:
    """A metav1.Status body for requests that cannot be answered with an AdmissionReview."""
    return json_codec.dumps(
        {
            "apiVersion": "v1",
            "kind": "Status",
            "status": "Failure",
            "code": int(code),
            "reason": code.phrase.replace(" ", ""),
            "message": message,
        }
    )
