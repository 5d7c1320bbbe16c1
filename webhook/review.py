"""The admission.k8s.io/v1 AdmissionReview wire contract, checked once at the edge.

The body is parsed by `json.loads` exactly once; `parse_admission_review` checks the shapes the
webhook relies on and returns a typed `AdmissionRequest` that holds references into the parsed
JSON (the objects are never copied or re-validated here; the rules do that).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict

from tronador.rules.tenancy import Requester

ADMISSION_API_VERSION = "admission.k8s.io/v1"
ADMISSION_REVIEW_KIND = "AdmissionReview"


class StatusWire(TypedDict):
    status: Literal["Failure"]
    code: int
    reason: str
    message: str


class AdmissionResponseWire(TypedDict):
    uid: str
    allowed: bool
    status: NotRequired[StatusWire]
    patchType: NotRequired[Literal["JSONPatch"]]
    patch: NotRequired[str]
    warnings: NotRequired[list[str]]


class AdmissionReviewResponseWire(TypedDict):
    apiVersion: str
    kind: str
    response: AdmissionResponseWire


class Operation(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONNECT = "CONNECT"


_OPERATIONS: dict[str, Operation] = {o.value: o for o in Operation}


@dataclass(frozen=True, slots=True)
class GroupVersionResource:
    group: str
    version: str
    resource: str

    def __str__(self) -> str:
        return f"{self.group or 'core'}/{self.version} {self.resource}"


@dataclass(frozen=True, slots=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str

    def __str__(self) -> str:
        return f"{self.group or 'core'}/{self.version} {self.kind}"


ANONYMOUS = Requester("")


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    uid: str
    operation: Operation
    resource: GroupVersionResource
    kind: GroupVersionKind
    sub_resource: str
    """"" for the main resource, e.g. "status" for the status subresource."""
    name: str
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    dry_run: bool
    user: Requester = ANONYMOUS
    """Who sent it (`userInfo`): the tenant owner check reads it."""


class ReviewError(ValueError):
    """The body is not a usable AdmissionReview. `uid` is set when the request's uid could be
    read, so the answer can be an AdmissionReview denial the API server can match."""

    def __init__(self, message: str, uid: str | None = None) -> None:
        super().__init__(message)
        self.uid = uid


def peek_uid(body: Any) -> str | None:
    """The request uid, if the body has a well-formed one (whatever else is wrong with it)."""
    request = body.get("request") if isinstance(body, dict) else None
    uid = request.get("uid") if isinstance(request, dict) else None
    return uid if isinstance(uid, str) and uid else None


def parse_admission_review(body: Any) -> AdmissionRequest:
    """The typed request of an admission.k8s.io/v1 AdmissionReview, or `ReviewError`."""
    if not isinstance(body, dict):
        raise ReviewError(f"expected an AdmissionReview object, got a JSON {_json_type(body)}")
    uid = peek_uid(body)
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if kind != ADMISSION_REVIEW_KIND:
        raise ReviewError(f"kind is {kind!r}, expected {ADMISSION_REVIEW_KIND!r}", uid)
    if api_version != ADMISSION_API_VERSION:
        raise ReviewError(
            f"apiVersion is {api_version!r}; this webhook speaks only {ADMISSION_API_VERSION}", uid
        )
    request = body.get("request")
    if not isinstance(request, dict):
        raise ReviewError("request is missing or not an object")
    if uid is None:
        raise ReviewError("request.uid is missing or not a non-empty string")
    return _parse_request(request, uid)


def _parse_request(request: dict[str, Any], uid: str) -> AdmissionRequest:
    named = request.get("operation")
    operation = _OPERATIONS.get(named) if isinstance(named, str) else None
    if operation is None:
        raise ReviewError(
            f"request.operation is {named!r}, expected one of " + ", ".join(_OPERATIONS),
            uid,
        )
    resource = request.get("resource")
    kind = request.get("kind")
    object_ = request.get("object")
    old_object = request.get("oldObject")
    sub_resource = request.get("subResource") or ""
    name = request.get("name") or ""
    dry_run = request.get("dryRun", False)
    if object_ is not None and not isinstance(object_, dict):
        raise ReviewError("request.object is not an object", uid)
    if old_object is not None and not isinstance(old_object, dict):
        raise ReviewError("request.oldObject is not an object", uid)
    if not isinstance(sub_resource, str) or not isinstance(name, str):
        raise ReviewError("request.subResource and request.name must be strings", uid)
    if dry_run is not None and not isinstance(dry_run, bool):
        raise ReviewError("request.dryRun is not a boolean", uid)
    return AdmissionRequest(
        uid=uid,
        operation=operation,
        resource=_resource(*_strings(resource, "resource", "resource", uid)),
        kind=_kind(*_strings(kind, "kind", "kind", uid)),
        sub_resource=sub_resource,
        name=name,
        object=object_,
        old_object=old_object,
        dry_run=bool(dry_run),
        user=_requester(request.get("userInfo"), uid),
    )


MAX_GROUPS = 256


def _requester(node: Any, uid: str) -> Requester:
    if node is None:
        return ANONYMOUS
    username = node.get("username", "") if isinstance(node, dict) else None
    groups = node.get("groups") or [] if isinstance(node, dict) else None
    if (
        not isinstance(username, str)
        or not isinstance(groups, list)
        or len(groups) > MAX_GROUPS
        or not all(isinstance(g, str) for g in groups)
    ):
        raise ReviewError("request.userInfo must have a string username and string groups", uid)
    return Requester(username, tuple(groups))


@functools.lru_cache(maxsize=64)
def _resource(group: str, version: str, resource: str) -> GroupVersionResource:
    """Shared instances: a webhook sees a handful of resources, one per request is waste."""
    return GroupVersionResource(group, version, resource)


@functools.lru_cache(maxsize=64)
def _kind(group: str, version: str, kind: str) -> GroupVersionKind:
    return GroupVersionKind(group, version, kind)


def _strings(node: Any, field: str, last: str, uid: str) -> tuple[str, str, str]:
    """(group, version, last) of a GroupVersionKind/Resource; the core group is ""."""
    if isinstance(node, dict):
        group, version, name = node.get("group", ""), node.get("version"), node.get(last)
        if isinstance(group, str) and isinstance(version, str) and isinstance(name, str):
            return group, version, name
    raise ReviewError(f"request.{field} must be an object with group, version and {last}", uid)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__
