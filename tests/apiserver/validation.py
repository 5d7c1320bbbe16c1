"""The bits of apimachinery validation our code can trip over: names and finalizers."""

from __future__ import annotations

import re
from typing import Any

from tests.apiserver import errors
from tests.apiserver.resources import Resource

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(rf"^{_LABEL}$")
_SUBDOMAIN_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")

_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def name_errors(resource: Resource, name: str | None) -> list[dict[str, str]]:
    if not name:
        return [errors.field_error("Required", "metadata.name", "name or generateName is required")]
    if resource.dns_label_names:
        limit, pattern, message = 63, _LABEL_RE, _LABEL_MSG
    else:
        limit, pattern, message = 253, _SUBDOMAIN_RE, _SUBDOMAIN_MSG
    causes = []
    if len(name) > limit:
        causes.append(
            errors.field_error(
                "Invalid", "metadata.name", f"must be no more than {limit} characters", name
            )
        )
    if not pattern.match(name):
        causes.append(errors.field_error("Invalid", "metadata.name", message, name))
    return causes


def validate_create(resource: Resource, obj: dict[str, Any]) -> None:
    name = obj["metadata"].get("name")
    causes = name_errors(resource, name)
    if causes:
        raise errors.invalid(resource, name or "", causes)


def validate_update(resource: Resource, current: dict[str, Any], new: dict[str, Any]) -> None:
    name = current["metadata"]["name"]
    secret = resource.api_version == "v1" and resource.kind == "Secret"
    if secret and new.get("type") != current.get("type"):
        cause = errors.field_error("Invalid", "type", "field is immutable", new.get("type"))
        raise errors.invalid(resource, name, [cause])
    _validate_finalizers(resource, current, new)


def _validate_finalizers(resource: Resource, current: dict[str, Any], new: dict[str, Any]) -> None:
    """No finalizer may be added once deletion started (ValidateObjectMetaUpdate)."""
    if not current["metadata"].get("deletionTimestamp"):
        return
    old = set(current["metadata"].get("finalizers") or [])
    extra = sorted(set(new["metadata"].get("finalizers") or []) - old)
    if not extra:
        return
    listed = ", ".join(f'"{f}"' for f in extra)
    cause = errors.field_error(
        "Forbidden",
        "metadata.finalizers",
        "no new finalizers can be added if the object is being deleted, "
        f"found new finalizers []string{{{listed}}}",
    )
    raise errors.invalid(resource, current["metadata"]["name"], [cause])
