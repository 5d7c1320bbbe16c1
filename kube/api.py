"""A thin REST layer over the `kubernetes` ApiClient: plain dicts in and out, one typed error.

Going through `param_serialize`/`call_api` keeps the client's authentication (tokens, client
certificates, TLS) while skipping model deserialisation, so every kind, built-in or custom, is
handled alike and unknown fields survive a read-modify-write.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from kube.resources import Resource

log = logging.getLogger(__name__)

Obj = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
"""Server-side apply; a JSON body is valid YAML."""

FIELD_MANAGER = "tronador"
"""The field manager of every server-side apply Tronador sends."""


class NotLeader(Exception):
    """A write was attempted while this replica may not write (see `Controller(is_leader=...)`)."""


@dataclass
class ApiError(Exception):
    status: int
    """HTTP status; 0 when the server could not be reached."""
    reason: str
    message: str
    resource: Resource | None = None
    name: str | None = None
    namespace: str | None = None
    retry_after: float | None = None
    causes: tuple[tuple[str, str], ...] = ()
    """(field, message) of each cause the server gave: for an apply conflict, the field another
    manager owns and `conflict with "<manager>"...`."""

    def __str__(self) -> str:
        where = f" {self.resource.kind} {self.name}" if self.resource and self.name else ""
        return f"{self.status} {self.reason}{where}: {self.message}"

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def conflict(self) -> bool:
        return self.status == 409 and not self.already_exists

    @property
    def gone(self) -> bool:
        return self.status == 410

    @property
    def refused(self) -> bool:
        """400/403/422: the server refused this request as such (its content, or our rights).
        Sending it again at once will not help; after RBAC, an admission webhook or a CRD
        changes it may, so callers retry it with backoff."""
        return self.status in (400, 403, 422)


def _error(
    exc: ApiException, resource: Resource | None, name: str | None, namespace: str | None
) -> ApiError:
    reason, message = str(exc.reason or ""), ""
    retry_after: float | None = None
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    causes: tuple[tuple[str, str], ...] = ()
    if isinstance(body, dict):
        reason = str(body.get("reason") or reason)
        message = str(body.get("message") or "")
        details = body.get("details") or {}
        seconds = details.get("retryAfterSeconds")
        retry_after = float(seconds) if isinstance(seconds, int | float) else None
        causes = tuple(
            (str(c.get("field") or ""), str(c.get("message") or ""))
            for c in details.get("causes") or []
            if isinstance(c, dict)
        )
    if retry_after is None:
        retry_after = _seconds((exc.headers or {}).get("Retry-After"))
    status = int(exc.status or 0)
    return ApiError(
        status, reason, message or reason, resource, name, namespace, retry_after, causes
    )


def _seconds(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class WatchStream:
    """One watch request's events as (type, object) pairs; `close()` interrupts a blocked read."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def __iter__(self) -> Iterator[tuple[str, Obj]]:
        buffer = b""
        for chunk in self._response.stream(amt=None, decode_content=False):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    event = json.loads(line)
                    yield str(event.get("type")), event.get("object") or {}
        if buffer.strip():
            event = json.loads(buffer)
            yield str(event.get("type")), event.get("object") or {}

    def close(self) -> None:
        response = self._response
        for method in ("shutdown", "release_conn", "close"):
            with contextlib.suppress(Exception):  # best effort: the connection may be gone
                getattr(response, method)()


class Kube:
    """The controller's API calls. Writes go through `write_allowed` (leadership)."""

    def __init__(
        self,
        api_client: ApiClient,
        request_timeout: float = 30.0,
        write_allowed: Callable[[], bool] | None = None,
        on_error: Callable[[ApiError], None] | None = None,
    ) -> None:
        self.api_client = api_client
        self.request_timeout = request_timeout
        self._write_allowed = write_allowed or (lambda: True)
        self._on_error = on_error

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request (see `_request`); failures are counted through `on_error`."""
        try:
            return self._request(method, path, **kwargs)
        except ApiError as err:
            if self._on_error is not None:
                self._on_error(err)
            raise

    # -- plumbing ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = None,
        stream: bool = False,
        target: tuple[Resource | None, str | None, str | None] = (None, None, None),
    ) -> Any:
        if method != "GET" and not self._write_allowed():
            raise NotLeader(f"{method} {path} refused: not the leader")
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        _, url, headers, body, _ = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api_client.call_api(
                method,
                url,
                header_params=headers,
                body=body,
                _request_timeout=timeout or self.request_timeout,
            )
        except ApiException as exc:
            raise _error(exc, *target) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiError(0, "Unreachable", str(exc), *target) from None
        if not 200 <= response.status <= 299:
            try:
                data = response.read()
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise ApiError(0, "Unreachable", str(exc), *target) from None
            failure = ApiException(status=response.status, reason=response.reason)
            failure.body, failure.headers = data.decode(), response.getheaders()
            raise _error(failure, *target)
        if stream:
            return WatchStream(response.response)
        try:
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiError(0, "Unreachable", str(exc), *target) from None
        return json.loads(data) if data else None

    @staticmethod
    def _selectors(label_selector: str | None, field_selector: str | None) -> list[tuple[str, str]]:
        query = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        return query

    # -- reads -------------------------------------------------------------------------------

    def get(
        self,
        resource: Resource,
        name: str,
        namespace: str | None = None,
        timeout: float | None = None,
    ) -> Obj | None:
        target = (resource, name, namespace)
        path = resource.object_path(name, namespace)
        try:
            obj = self._call("GET", path, target=target, timeout=timeout)
        except ApiError as err:
            if err.not_found:
                return None
            raise
        return _complete(obj, resource)

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int | None = None,
    ) -> tuple[list[Obj], str]:
        """Every matching object (fetched `page_size` at a time when given), and the list's
        resourceVersion to watch from."""
        items: list[Obj] = []
        token = ""
        while True:
            query = self._selectors(label_selector, field_selector)
            if page_size:
                query.append(("limit", str(page_size)))
            if token:
                query.append(("continue", token))
            result = self._call(
                "GET",
                resource.collection_path(namespace),
                query=query,
                target=(resource, None, namespace),
            )
            items += [_complete(item, resource) for item in result.get("items") or []]
            metadata = result.get("metadata") or {}
            token = str(metadata.get("continue") or "")
            if not token:
                return items, str(metadata.get("resourceVersion") or "")

    def watch(
        self,
        resource: Resource,
        resource_version: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> WatchStream:
        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
            *self._selectors(label_selector, field_selector),
        ]
        return self._call(  # type: ignore[no-any-return]
            "GET",
            resource.collection_path(namespace),
            query=query,
            timeout=(self.request_timeout, timeout_seconds + self.request_timeout),
            stream=True,
            target=(resource, None, namespace),
        )

    def api_resources(self, api_version: str, timeout: float | None = None) -> list[Obj] | None:
        """The resources the API server serves in `api_version` (discovery), None when it does
        not serve that group version at all."""
        base = "/api" if "/" not in api_version else "/apis"
        try:
            found = self._call("GET", f"{base}/{api_version}", timeout=timeout)
        except ApiError as err:
            if err.not_found:
                return None
            raise
        return list((found or {}).get("resources") or [])

    # -- writes ------------------------------------------------------------------------------

    def create(
        self,
        resource: Resource,
        body: Obj,
        timeout: float | None = None,
        field_manager: str | None = None,
    ) -> Obj:
        """POST `body`; an object of that name answers 409 AlreadyExists, never an update."""
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        created = self._call(
            "POST",
            resource.collection_path(namespace),
            query=[("fieldManager", field_manager)] if field_manager else None,
            body=body,
            timeout=timeout,
            target=(resource, name, namespace),
        )
        return _complete(created, resource)

    def replace(
        self,
        resource: Resource,
        body: Obj,
        subresource: str | None = None,
        timeout: float | None = None,
    ) -> Obj:
        """PUT `body` (with its resourceVersion: a stale one answers 409 Conflict)."""
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace"), str(meta.get("name"))
        path = resource.object_path(name, namespace)
        if subresource:
            path += f"/{subresource}"
        target = (resource, name, namespace)
        updated = self._call("PUT", path, body=body, timeout=timeout, target=target)
        return _complete(updated, resource)

    def patch(
        self,
        resource: Resource,
        name: str,
        body: Any,
        namespace: str | None = None,
        content_type: str = JSON_PATCH,
    ) -> Obj:
        """PATCH the object with `body` of `content_type` (a JSON patch by default, whose
        `test` operations make the write conditional)."""
        target = (resource, name, namespace)
        path = resource.object_path(name, namespace)
        patched = self._call("PATCH", path, body=body, content_type=content_type, target=target)
        return _complete(patched, resource)

    def apply(
        self,
        resource: Resource,
        obj: Obj,
        field_manager: str = FIELD_MANAGER,
        force: bool = False,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Server-side apply `obj` (our whole intent for the fields we manage) as
        `field_manager`: creates the object when absent; fields we applied before and leave out
        now are removed. Without `force`, a field another manager owns with another value
        answers 409 Conflict (its `causes` name the fields and managers)."""
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace"), str(meta.get("name"))
        path = resource.object_path(name, namespace)
        if subresource:
            path += f"/{subresource}"
        query = [("fieldManager", field_manager)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        body = {"apiVersion": resource.api_version, "kind": resource.kind, **obj}
        applied = self._call(
            "PATCH",
            path,
            query=query,
            body=json.dumps(body),
            content_type=APPLY_PATCH,
            target=(resource, name, namespace),
        )
        return _complete(applied, resource)

    def delete(self, resource: Resource, name: str, namespace: str | None = None) -> Obj | None:
        """Delete in the background. The object when it lingers (finalizers), None when it is
        gone, including when it was gone already."""
        try:
            result = self._call(
                "DELETE",
                resource.object_path(name, namespace),
                body={"propagationPolicy": "Background"},
                target=(resource, name, namespace),
            )
        except ApiError as err:
            if err.not_found:
                return None
            raise
        if isinstance(result, dict) and result.get("kind") != "Status":
            obj = _complete(result, resource)
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                return obj
        return None


def _complete(obj: Obj, resource: Resource) -> Obj:
    """List items of built-in kinds come without apiVersion/kind; PUT needs them."""
    obj.setdefault("apiVersion", resource.api_version)
    obj.setdefault("kind", resource.kind)
    return obj
