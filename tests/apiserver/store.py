"""The API server's state: objects, resourceVersions and the event log. No HTTP in here.

Stored objects are never mutated once committed (every write stores a fresh dict), so the
server may serialize them after releasing the lock. Callers outside this package get copies.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import random
import threading
import uuid
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.apiserver import apply, errors, patches, validation
from tests.apiserver.defaults import apply_defaults
from tests.apiserver.resources import Resource, ResourceTable
from tests.apiserver.selectors import field_matcher, label_matcher

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]
"""(namespace, name); the namespace is "" for cluster-scoped objects."""

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NAMESPACE_FINALIZER = "kubernetes"
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_SYSTEM_FIELDS = (
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "managedFields",
)


@dataclass(frozen=True)
class WatchEvent:
    rv: int
    type: str
    """ADDED, MODIFIED or DELETED."""
    resource: Resource
    object: Obj
    previous: Obj | None = None
    """The state before a MODIFIED, so watchers with selectors can see objects leave them."""


Listener = Callable[[WatchEvent], None]


def _is_namespace(resource: Resource) -> bool:
    return resource.api_version == "v1" and resource.plural == "namespaces"


def _key(resource: Resource, obj: Obj) -> Key:
    meta = obj["metadata"]
    return (meta.get("namespace", "") if resource.namespaced else "", meta["name"])


def _clean(value: Any, drop_empty: bool, top: bool = True) -> Any:
    """Drop nulls; for built-in kinds also empty maps/lists, as Go's `omitempty` does."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _clean(v, drop_empty, top=False)
            if v is None or (drop_empty and v in ({}, []) and not (top and k == "metadata")):
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_clean(v, drop_empty, top=False) for v in value if v is not None]
    return value


def _generation_content(resource: Resource, obj: Obj) -> Obj:
    skip = {"apiVersion", "kind", "metadata"}
    if resource.status_subresource:
        skip.add("status")
    return {k: v for k, v in obj.items() if k not in skip}


def _ordered(resource: Resource, body: Obj) -> Obj:
    rest = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata")}
    return {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": body["metadata"],
        **rest,
    }


def _encode_continue(rv: int, key: Key) -> str:
    raw = json.dumps({"rv": rv, "start": list(key)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, Key]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc


class Store:
    def __init__(
        self,
        table: ResourceTable,
        *,
        event_window: int = 1000,
        namespaces: tuple[str, ...] | list[str] = DEFAULT_NAMESPACES,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.table = table
        self.lock = threading.RLock()
        self.event_window = event_window
        self._clock = clock or (lambda: datetime.now(UTC))
        self._objects: dict[Resource, dict[Key, Obj]] = {}
        self._rv = 0
        self._events: list[WatchEvent] = []
        self._compacted = 0
        self._uids: dict[str, tuple[Resource, Key]] = {}
        self._dependents: dict[str, set[tuple[Resource, Key]]] = {}
        self._namespace_content: Counter[str] = Counter()
        self._wakers: list[Callable[[], None]] = []
        self._listeners: list[Listener] = []
        self._pending: deque[WatchEvent] = deque()
        self.listener_errors: list[Exception] = []
        """Exceptions raised by listeners: logged and kept, never turned into HTTP errors."""
        self._local = threading.local()
        ns_resource = table.lookup("v1", "namespaces")
        for name in namespaces:
            if ns_resource is not None:
                self.seed(ns_resource, {"metadata": {"name": name}})

    # -- bookkeeping -----------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def compacted_resource_version(self) -> int:
        return self._compacted

    def add_waker(self, waker: Callable[[], None]) -> None:
        """`waker` is called (under the lock, so it must be quick) after every new event."""
        self._wakers.append(waker)

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """`listener` gets every event after the write that caused it, outside the lock; it may
        write to the store itself. Returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @contextmanager
    def _write(self) -> Iterator[None]:
        local = self._local
        with self.lock:
            local.depth = getattr(local, "depth", 0) + 1
            try:
                yield
            finally:
                local.depth -= 1
        if local.depth == 0:
            self._dispatch()

    def _dispatch(self) -> None:
        local = self._local
        if getattr(local, "dispatching", False):
            return
        local.dispatching = True
        try:
            while True:
                with self.lock:
                    if not self._pending:
                        return
                    event = self._pending.popleft()
                    listeners = list(self._listeners)
                for listener in listeners:
                    try:
                        listener(event)
                    except Exception as exc:
                        log.exception("an event hook failed on %s %s", event.type, event.rv)
                        self.listener_errors.append(exc)
        finally:
            local.dispatching = False

    def _now(self) -> str:
        return self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _bucket(self, resource: Resource) -> dict[Key, Obj]:
        return self._objects.setdefault(resource, {})

    def _emit(self, type_: str, resource: Resource, obj: Obj, previous: Obj | None = None) -> None:
        event = WatchEvent(self._rv, type_, resource, obj, previous)
        self._events.append(event)
        overflow = len(self._events) - self.event_window
        if overflow > 0:
            self._compacted = self._events[overflow - 1].rv
            del self._events[:overflow]
        if self._listeners:
            self._pending.append(event)
        for waker in self._wakers:
            waker()

    def _index(self, resource: Resource, key: Key, old: Obj | None, new: Obj | None) -> None:
        entry = (resource, key)
        if old is not None:
            for ref in old["metadata"].get("ownerReferences") or []:
                dependents = self._dependents.get(ref.get("uid", ""))
                if dependents is not None:
                    dependents.discard(entry)
            if new is None:
                self._uids.pop(old["metadata"]["uid"], None)
                if resource.namespaced:
                    self._namespace_content[key[0]] -= 1
        if new is not None:
            self._uids[new["metadata"]["uid"]] = entry
            for ref in new["metadata"].get("ownerReferences") or []:
                self._dependents.setdefault(ref.get("uid", ""), set()).add(entry)
            if old is None and resource.namespaced:
                self._namespace_content[key[0]] += 1

    def compact(self) -> None:
        """Forget the event log, as an etcd compaction would: older watches get 410 Expired."""
        with self.lock:
            self._compacted = self._rv
            self._events.clear()

    def events_since(self, rv: int) -> list[WatchEvent]:
        with self.lock:
            if rv < self._compacted:
                raise errors.expired(f"too old resource version: {rv} ({self._compacted})")
            start = bisect_right(self._events, rv, key=lambda e: e.rv)
            return self._events[start:]

    # -- reads -----------------------------------------------------------------------------

    def find(self, resource: Resource, namespace: str | None, name: str) -> Obj | None:
        with self.lock:
            return self._bucket(resource).get((namespace or "", name))

    def get(self, resource: Resource, namespace: str | None, name: str) -> Obj:
        obj = self.find(resource, namespace, name)
        if obj is None:
            raise errors.not_found(resource, name)
        return obj

    def select(
        self,
        resource: Resource,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[tuple[Key, Obj]], int]:
        """Matching objects sorted by (namespace, name), and the resourceVersion they are at."""
        labels = label_matcher(label_selector)
        fields = field_matcher(field_selector, resource)
        with self.lock:
            found = [
                (key, obj)
                for key, obj in self._bucket(resource).items()
                if (namespace is None or key[0] == namespace) and labels(obj) and fields(obj)
            ]
            rv = self._rv
        found.sort(key=lambda item: item[0])
        return found, rv

    def list(
        self,
        resource: Resource,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> Obj:
        found, rv = self.select(resource, namespace, label_selector, field_selector)
        meta: Obj = {"resourceVersion": str(rv)}
        if continue_token:
            rv, start = _decode_continue(continue_token)
            if rv < self._compacted:
                raise errors.expired(errors.CONTINUE_EXPIRED)
            meta["resourceVersion"] = str(rv)
            found = [item for item in found if item[0] > start]
        if limit and len(found) > limit:
            meta["continue"] = _encode_continue(rv, found[limit - 1][0])
            meta["remainingItemCount"] = len(found) - limit
            found = found[:limit]
        if resource.custom:
            items = [obj for _, obj in found]
        else:
            items = [
                {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
                for _, obj in found
            ]
        return {
            "apiVersion": resource.api_version,
            "kind": f"{resource.kind}List",
            "metadata": meta,
            "items": items,
        }

    # -- create ----------------------------------------------------------------------------

    def _admit_namespace(self, resource: Resource, namespace: str, name: str) -> None:
        """The NamespaceLifecycle admission plugin."""
        ns_resource = self.table.lookup("v1", "namespaces")
        if ns_resource is None:
            return
        ns = self._bucket(ns_resource).get(("", namespace))
        if ns is None:
            raise errors.namespace_not_found(namespace)
        if ns["metadata"].get("deletionTimestamp"):
            cause = {
                "reason": "NamespaceTerminating",
                "message": f"namespace {namespace} is being terminated",
                "field": "metadata.namespace",
            }
            raise errors.forbidden(
                resource,
                name,
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
                [cause],
            )

    def _new_object(
        self, resource: Resource, namespace: str | None, body: Any, *, seeding: bool
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request is not a JSON object")
        obj = _clean(copy.deepcopy(body), drop_empty=not resource.custom)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version and api_version != resource.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({resource.api_version})"
            )
        if kind and kind != resource.kind:
            raise errors.bad_request(
                f'{kind} in version "{resource.version}" cannot be handled as a {resource.kind}'
            )
        if resource.namespaced:
            body_ns = meta.get("namespace")
            namespace = namespace or body_ns
            if not namespace:
                raise errors.bad_request("the namespace of the object is not set")
            if not seeding:
                self._admit_namespace(resource, namespace, meta.get("name", ""))
            if body_ns and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._generate_name(resource, namespace, str(meta["generateName"]))
        apply_defaults(resource, obj)
        validation.validate_create(resource, obj)
        if (meta.get("namespace", ""), meta["name"]) in self._bucket(resource):
            raise errors.already_exists(resource, meta["name"])
        if meta.get("resourceVersion") and not seeding:
            raise errors.APIError(
                errors.status(500, "", "resourceVersion should not be set on objects to be created")
            )
        if not (seeding and meta.get("uid")):
            meta["uid"] = str(uuid.uuid4())
        if not (seeding and meta.get("creationTimestamp")):
            meta["creationTimestamp"] = self._now()
        meta.pop("deletionTimestamp", None)
        meta.pop("deletionGracePeriodSeconds", None)
        meta.pop("resourceVersion", None)
        if not seeding:
            meta.pop("managedFields", None)
        if resource.tracks_generation:
            meta["generation"] = meta.get("generation", 1) if seeding else 1
        else:
            meta.pop("generation", None)
        if resource.custom and resource.status_subresource and not seeding:
            obj.pop("status", None)
        if _is_namespace(resource):
            obj.setdefault("spec", {}).setdefault("finalizers", [NAMESPACE_FINALIZER])
            obj["status"] = {"phase": "Active"} if not seeding else obj.get("status", {})
            obj["status"].setdefault("phase", "Active")
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        return _ordered(resource, obj)

    def _generate_name(self, resource: Resource, namespace: str | None, prefix: str) -> str:
        bucket = self._bucket(resource)
        while True:
            name = prefix + "".join(random.choices(_SUFFIX_CHARS, k=5))
            if ((namespace or "") if resource.namespaced else "", name) not in bucket:
                return name

    def _insert(self, resource: Resource, obj: Obj) -> Obj:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        key = _key(resource, obj)
        self._bucket(resource)[key] = obj
        self._index(resource, key, None, obj)
        self._emit("ADDED", resource, obj)
        return obj

    def create(
        self, resource: Resource, namespace: str | None, body: Any, *, dry_run: bool = False
    ) -> Obj:
        with self._write():
            obj = self._new_object(resource, namespace, body, seeding=False)
            return obj if dry_run else self._insert(resource, obj)

    def seed(self, resource: Resource, body: Obj) -> Obj:
        """Store as if created, but keep a given status, uid, creationTimestamp and generation,
        and skip the namespace admission checks."""
        with self._write():
            return self._insert(resource, self._new_object(resource, None, body, seeding=True))

    # -- update / patch --------------------------------------------------------------------

    def _updated_object(
        self,
        resource: Resource,
        current: Obj,
        body: Any,
        subresource: str | None,
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request is not a JSON object")
        new = _clean(body, drop_empty=not resource.custom)
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        cur_meta = current["metadata"]
        if meta.get("name") != cur_meta["name"]:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name', '')}) does not match the name on "
                f"the URL ({cur_meta['name']})"
            )
        if (
            resource.namespaced
            and meta.get("namespace", cur_meta["namespace"]) != cur_meta["namespace"]
        ):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        rv = meta.get("resourceVersion")
        if rv and str(rv) != cur_meta["resourceVersion"]:
            raise errors.conflict(resource, cur_meta["name"])
        if subresource == "status":
            result = copy.deepcopy(current)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
            return result
        result = _ordered(resource, new)
        meta = result["metadata"]
        for field in _SYSTEM_FIELDS:
            if field in cur_meta:
                meta[field] = cur_meta[field]
            else:
                meta.pop(field, None)
        meta["resourceVersion"] = cur_meta["resourceVersion"]
        if resource.status_subresource:
            if "status" in current:
                result["status"] = current["status"]
            else:
                result.pop("status", None)
        if _is_namespace(resource):
            result["spec"] = current.get("spec", {})
        apply_defaults(resource, result)
        validation.validate_update(resource, current, result)
        if resource.tracks_generation and _generation_content(
            resource, result
        ) != _generation_content(resource, current):
            meta["generation"] = int(cur_meta.get("generation", 0)) + 1
        return result

    def _replace(self, resource: Resource, current: Obj, new: Obj) -> Obj:
        self._rv += 1
        new["metadata"]["resourceVersion"] = str(self._rv)
        key = _key(resource, current)
        self._bucket(resource)[key] = new
        self._index(resource, key, current, new)
        self._emit("MODIFIED", resource, new, current)
        return new

    def _commit_update(self, resource: Resource, current: Obj, new: Obj, dry_run: bool) -> Obj:
        if new == current or dry_run:
            return new
        meta = new["metadata"]
        spec_finalizers = (
            (new.get("spec") or {}).get("finalizers") if _is_namespace(resource) else None
        )
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not spec_finalizers:
            return self._remove(resource, current, new)
        return self._replace(resource, current, new)

    def update(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        with self._write():
            current = self.get(resource, namespace, name)
            new = self._updated_object(resource, current, copy.deepcopy(body), subresource)
            return self._commit_update(resource, current, new, dry_run)

    def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        content_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        with self._write():
            current = self.get(resource, namespace, name)
            patched = patches.apply_patch(resource, current, content_type, body)
            new = self._updated_object(resource, current, patched, subresource)
            return self._commit_update(resource, current, new, dry_run)

    def apply(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        manager: str | None,
        force: bool = False,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Server-side apply (`apply.py`): creates the object when it is absent."""
        with self._write():
            current = self.find(resource, namespace, name)
            if isinstance(body, dict) and resource.namespaced:
                body_ns = (body.get("metadata") or {}).get("namespace")
                if body_ns and body_ns != namespace:
                    raise errors.bad_request(
                        "the namespace of the provided object does not match the namespace sent "
                        "on the request"
                    )
            if current is None and subresource:
                raise errors.not_found(resource, name)
            merged, managed = apply.apply(resource, current, body, manager, force, subresource)
            if current is None:
                new = self._new_object(resource, namespace, merged, seeding=False)
                new["metadata"]["managedFields"] = managed
                return new if dry_run else self._insert(resource, new)
            meta = merged.setdefault("metadata", {})
            meta.pop("resourceVersion", None)
            new = self._updated_object(resource, current, merged, subresource)
            new["metadata"]["managedFields"] = managed
            return self._commit_update(resource, current, new, dry_run)

    # -- delete ----------------------------------------------------------------------------

    def _remove(self, resource: Resource, current: Obj, final: Obj) -> Obj:
        self._rv += 1
        final = {**final, "metadata": {**final["metadata"], "resourceVersion": str(self._rv)}}
        key = _key(resource, current)
        del self._bucket(resource)[key]
        self._index(resource, key, current, None)
        self._emit("DELETED", resource, final)
        self._collect_garbage(current["metadata"]["uid"])
        if resource.namespaced:
            self._finish_namespace(key[0])
        return final

    def _mark_deleting(self, resource: Resource, current: Obj) -> Obj:
        new = copy.deepcopy(current)
        meta = new["metadata"]
        meta["deletionTimestamp"] = self._now()
        meta["deletionGracePeriodSeconds"] = 0
        if meta.get("generation"):
            meta["generation"] = int(meta["generation"]) + 1
        if _is_namespace(resource):
            new.setdefault("status", {})["phase"] = "Terminating"
        return self._replace(resource, current, new)

    def _orphan(self, owner_uid: str) -> None:
        for resource, key in sorted(
            self._dependents.pop(owner_uid, set()),
            key=lambda e: (e[0].api_version, e[0].plural, e[1]),
        ):
            obj = self._bucket(resource).get(key)
            if obj is None:
                continue
            new = copy.deepcopy(obj)
            refs = [r for r in obj["metadata"]["ownerReferences"] if r.get("uid") != owner_uid]
            if refs:
                new["metadata"]["ownerReferences"] = refs
            else:
                new["metadata"].pop("ownerReferences")
            self._replace(resource, obj, new)

    def _collect_garbage(self, owner_uid: str) -> None:
        """Background cascading deletion, as the garbage collector controller does it:
        dependents left with no existing owner are deleted; the others lose the dangling
        reference. Runs synchronously, right after the owner disappears."""
        for resource, key in sorted(
            self._dependents.pop(owner_uid, set()),
            key=lambda e: (e[0].api_version, e[0].plural, e[1]),
        ):
            obj = self._bucket(resource).get(key)
            if obj is None:
                continue
            refs = obj["metadata"].get("ownerReferences") or []
            remaining = [r for r in refs if r.get("uid") != owner_uid]
            if any(r.get("uid") in self._uids for r in remaining):
                new = copy.deepcopy(obj)
                new["metadata"]["ownerReferences"] = remaining
                self._replace(resource, obj, new)
            else:
                self._delete(resource, obj, "Background")

    def _finish_namespace(self, namespace: str) -> None:
        """The namespace controller: once a terminating namespace is empty, drop its
        `kubernetes` finalizer, which removes it unless other finalizers remain."""
        ns_resource = self.table.lookup("v1", "namespaces")
        if ns_resource is None or self._namespace_content[namespace] > 0:
            return
        ns = self._bucket(ns_resource).get(("", namespace))
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        finalizers = (ns.get("spec") or {}).get("finalizers") or []
        if NAMESPACE_FINALIZER not in finalizers:
            return
        new = copy.deepcopy(ns)
        new["spec"]["finalizers"] = [f for f in finalizers if f != NAMESPACE_FINALIZER]
        self._commit_update(ns_resource, ns, new, dry_run=False)

    def _delete_namespace(self, resource: Resource, current: Obj) -> Obj:
        marked = self._mark_deleting(resource, current)
        name = current["metadata"]["name"]
        for content in self.table.namespaced():
            bucket = self._bucket(content)
            for key in sorted(k for k in bucket if k[0] == name):
                obj = bucket.get(key)
                if obj is not None:
                    self._delete(content, obj, "Background")
        self._finish_namespace(name)
        return marked

    def _delete(self, resource: Resource, current: Obj, policy: str | None) -> Obj:
        meta = current["metadata"]
        if meta.get("deletionTimestamp"):
            return current
        if policy == "Orphan":
            self._orphan(meta["uid"])
        if _is_namespace(resource):
            return self._delete_namespace(resource, current)
        if meta.get("finalizers"):
            return self._mark_deleting(resource, current)
        final = self._remove(resource, current, current)
        if resource.returns_deleted_object:
            return final
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                k: v
                for k, v in {
                    "name": meta["name"],
                    "group": resource.group,
                    "kind": resource.plural,
                    "uid": meta["uid"],
                }.items()
                if v
            },
        }

    def delete(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        options: Obj | None = None,
        *,
        dry_run: bool = False,
    ) -> Obj:
        """Objects with finalizers (and namespaces, which carry the `kubernetes` one) only get
        a deletionTimestamp; the rest go at once. Foreground propagation is treated as
        background."""
        options = options or {}
        with self._write():
            current = self.get(resource, namespace, name)
            preconditions = options.get("preconditions") or {}
            for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                wanted, actual = preconditions.get(field), current["metadata"].get(field)
                if wanted and wanted != actual:
                    raise errors.conflict(
                        resource,
                        name,
                        f"Precondition failed: {label} in precondition: {wanted}, {label} in "
                        f"object meta: {actual}",
                    )
            policy = options.get("propagationPolicy")
            if options.get("orphanDependents") is True:
                policy = "Orphan"
            if policy not in (None, "Orphan", "Background", "Foreground"):
                raise errors.bad_request(f"propagationPolicy {policy!r} is not supported")
            if dry_run:
                return current
            return self._delete(resource, current, policy)

    def delete_collection(
        self,
        resource: Resource,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        options: Obj | None = None,
        dry_run: bool = False,
    ) -> Obj:
        with self._write():
            found, _ = self.select(resource, namespace, label_selector, field_selector)
            deleted = []
            for key, obj in found:
                if self._bucket(resource).get(key) is obj:
                    result = self.delete(resource, key[0] or None, key[1], options, dry_run=dry_run)
                    deleted.append(obj if result.get("kind") == "Status" else result)
            return {
                "apiVersion": resource.api_version,
                "kind": f"{resource.kind}List",
                "metadata": {"resourceVersion": str(self._rv)},
                "items": deleted,
            }
