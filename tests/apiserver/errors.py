"""`Status` bodies worded like the real API server's (k8s.io/apimachinery/pkg/api/errors)."""

from __future__ import annotations

from typing import Any

from tests.apiserver.resources import Resource

CONFLICT_DETAIL = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)


class APIError(Exception):
    """A failure the server answers with a `Status` body."""

    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__(status.get("message", ""))
        self.status = status

    @property
    def code(self) -> int:
        return int(self.status["code"])

    @property
    def reason(self) -> str:
        return str(self.status.get("reason", ""))


def status(
    code: int,
    reason: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
    }
    if reason:
        body["reason"] = reason
    clean = {k: v for k, v in (details or {}).items() if v not in (None, "", [])}
    if clean or details is not None:
        body["details"] = clean
    body["code"] = code
    return body


def _details(resource: Resource | None, name: str | None, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if resource is not None:
        details["group"] = resource.group
        details["kind"] = resource.plural
    details.update(extra)
    return details


def not_found(resource: Resource, name: str) -> APIError:
    return APIError(
        status(
            404,
            "NotFound",
            f'{resource.group_resource} "{name}" not found',
            _details(resource, name),
        )
    )


def namespace_not_found(namespace: str) -> APIError:
    return APIError(
        status(
            404,
            "NotFound",
            f'namespaces "{namespace}" not found',
            {"name": namespace, "kind": "namespaces"},
        )
    )


def route_not_found() -> APIError:
    return APIError(status(404, "NotFound", "the server could not find the requested resource", {}))


def already_exists(resource: Resource, name: str) -> APIError:
    return APIError(
        status(
            409,
            "AlreadyExists",
            f'{resource.group_resource} "{name}" already exists',
            _details(resource, name),
        )
    )


def conflict(resource: Resource, name: str, detail: str = CONFLICT_DETAIL) -> APIError:
    return APIError(
        status(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {resource.group_resource} "{name}": {detail}',
            _details(resource, name),
        )
    )


def field_error(kind: str, field: str, detail: str, value: Any = None) -> dict[str, str]:
    """One entry of `details.causes`; `kind` is Invalid, Required or Forbidden."""
    if kind == "Invalid":
        body = f"Invalid value: {_go_quote(value)}: {detail}"
    elif kind == "Required":
        body = f"Required value: {detail}"
    else:
        body = f"{kind}: {detail}"
    return {"reason": f"FieldValue{kind}", "message": body, "field": field}


def invalid(resource: Resource, name: str, causes: list[dict[str, str]]) -> APIError:
    rendered = [f"{c['field']}: {c['message']}" for c in causes]
    aggregate = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    details = {"name": name, "group": resource.group, "kind": resource.kind, "causes": causes}
    return APIError(
        status(422, "Invalid", f'{resource.group_kind} "{name}" is invalid: {aggregate}', details)
    )


def forbidden(
    resource: Resource, name: str, reason: str, causes: list[dict[str, str]] | None = None
) -> APIError:
    target = f'{resource.group_resource} "{name}"' if name else resource.group_resource
    return APIError(
        status(
            403,
            "Forbidden",
            f"{target} is forbidden: {reason}",
            _details(resource, name, causes=causes),
        )
    )


def bad_request(message: str) -> APIError:
    return APIError(status(400, "BadRequest", message))


def method_not_allowed() -> APIError:
    return APIError(
        status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            {},
        )
    )


def unsupported_media_type(content_type: str) -> APIError:
    return APIError(
        status(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: "
            f"application/json-patch+json, application/merge-patch+json (got {content_type})",
        )
    )


def expired(message: str) -> APIError:
    return APIError(status(410, "Expired", message))


def internal(message: str) -> dict[str, Any]:
    return status(500, "InternalError", f"Internal error occurred: {message}", {"causes": []})


def patch_rejected() -> APIError:
    """What a JSON patch that fails to apply (e.g. a failed `test` op) gets: a generic 422."""
    return APIError(
        status(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
            {},
        )
    )


def for_code(
    code: int,
    *,
    method: str = "GET",
    resource: Resource | None = None,
    name: str | None = None,
    message: str = "injected fault",
    retry_after: int | None = None,
) -> dict[str, Any]:
    """A realistic Status body for an arbitrary code (what an injected fault answers)."""
    extra = {"retryAfterSeconds": retry_after} if retry_after else {}
    if resource is not None and name:
        if code == 404:
            return not_found(resource, name).status
        if code == 409 and method == "POST":
            return already_exists(resource, name).status
        if code == 409:
            return conflict(resource, name).status
        if code == 403:
            return forbidden(resource, name, message).status
    reasons: dict[int, tuple[str, str]] = {
        400: ("BadRequest", message),
        401: ("Unauthorized", "Unauthorized"),
        403: ("Forbidden", f"forbidden: {message}"),
        404: ("NotFound", "the server could not find the requested resource"),
        405: (
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ),
        409: ("Conflict", f"Operation cannot be fulfilled: {CONFLICT_DETAIL}"),
        410: ("Expired", message),
        422: ("Invalid", "the server rejected our request due to an error in our request"),
        429: ("TooManyRequests", f"Too many requests: {message}"),
        500: ("InternalError", f"Internal error occurred: {message}"),
        503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
        504: ("Timeout", f"Timeout: {message}"),
    }
    reason, text = reasons.get(
        code,
        (
            "InternalError" if code >= 500 else "",
            f"the server responded with the status code {code} but did not return more information",
        ),
    )
    details = _details(resource, name, **extra) if resource is not None else extra
    return status(code, reason, text, details)


def _go_quote(value: Any) -> str:
    """Render a value the way Go's %q / field.Invalid does for strings."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "null"
    return str(value)
