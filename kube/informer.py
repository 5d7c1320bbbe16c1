"""Informers: list+watch one resource into a local cache, and tell handlers what changed.

A watch resumes from the last resourceVersion it saw; 410 Gone means relist; an unreachable API
server means retrying with exponential backoff. The reconciler reads only these caches, so an
idle resync costs no API reads; its own writes are written through to the cache at once.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from kube.api import FIELD_MANAGER, ApiError, Kube, Obj, WatchStream
from kube.backoff import Backoff
from kube.resources import Resource

log = logging.getLogger(__name__)

Handler = Callable[[str, Obj, Obj | None], None]
"""handler(event type, object, previous cached object or None)."""

Key = tuple[str, str]
"""(namespace or "", name)."""


def object_key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def resource_version_of(obj: Obj | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


RECENT_DELETIONS = 1024
"""Deletions a Store remembers, so that a write's answer arriving after the DELETED event is not
taken for the object's state: a fixed bound, not a per-object cost."""


def being_deleted(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _older(incoming: Obj, cached: Obj | None) -> bool:
    """Whether `incoming` is older than `cached`. resourceVersions are opaque, but every API
    server in use issues increasing integers; anything else is taken as newer."""
    new, old = resource_version_of(incoming), resource_version_of(cached)
    if not (new.isdigit() and old.isdigit()):
        return False
    return int(new) < int(old)


def metadata_only(obj: Obj) -> Obj:
    """The object's identity and metadata: all a cache of Namespaces needs. Of managedFields only
    our own field manager's entries are kept: deciding whether an apply would change anything
    reads them, and the other managers' entries are most of a namespace's metadata."""
    meta = dict(obj.get("metadata") or {})
    if "managedFields" in meta:
        ours = [e for e in meta["managedFields"] if e.get("manager") == FIELD_MANAGER]
        if ours:
            meta["managedFields"] = ours
        else:
            del meta["managedFields"]
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": meta}


class Store:
    """A thread-safe cache of one resource's objects. Readers must not mutate what they get.

    `transform`, when given, is what is kept of each object (e.g. `metadata_only`)."""

    def __init__(
        self,
        accept: Callable[[Obj], bool] | None = None,
        transform: Callable[[Obj], Obj] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._by_namespace: dict[str, dict[str, Obj]] = {}
        self._tombstones: set[Key] = set()
        self._deleted_at: OrderedDict[Key, int] = OrderedDict()
        """The resourceVersions of the latest deletions the watch reported (RECENT_DELETIONS)."""
        self._stale_up_to: dict[Key, int] = {}
        """Per key, a resourceVersion up to which watch events describe states known to be
        stale (`ignore_up_to`)."""
        self._written: dict[Key, set[str]] = {}
        """Per key, the resourceVersions our own writes produced whose watch events have not
        come yet: those events are echoes; any other event older than the cache is news."""
        self._accept = accept or (lambda _obj: True)
        self._transform = transform

    def get(self, namespace: str | None, name: str) -> Obj | None:
        with self._lock:
            return self._by_namespace.get(namespace or "", {}).get(name)

    def objects(self, namespace: str | None = None) -> list[Obj]:
        with self._lock:
            if namespace is not None:
                return list(self._by_namespace.get(namespace, {}).values())
            return [obj for objs in self._by_namespace.values() for obj in objs.values()]

    def names(self) -> list[str]:
        with self._lock:
            return [name for objs in self._by_namespace.values() for name in objs]

    def __len__(self) -> int:
        with self._lock:
            return sum(len(objs) for objs in self._by_namespace.values())

    def _put(self, obj: Obj) -> Obj | None:
        if self._transform is not None:
            obj = self._transform(obj)
        namespace, name = object_key(obj)
        bucket = self._by_namespace.setdefault(namespace, {})
        old = bucket.get(name)
        bucket[name] = obj
        return old

    def _pop(self, key: Key) -> Obj | None:
        bucket = self._by_namespace.get(key[0], {})
        old = bucket.pop(key[1], None)
        if not bucket:
            self._by_namespace.pop(key[0], None)
        return old

    def replace_all(self, objs: list[Obj]) -> list[tuple[str, Obj, Obj | None]]:
        """Take a fresh list as the truth; return the changes it made as watch-style events."""
        fresh = {object_key(o): o for o in objs if self._accept(o)}
        changes: list[tuple[str, Obj, Obj | None]] = []
        with self._lock:
            self._tombstones.clear()
            self._stale_up_to.clear()
            self._deleted_at.clear()
            pending = set(self._written)
            self._written.clear()
            current = {
                (ns, name): obj
                for ns, objs_ in self._by_namespace.items()
                for name, obj in objs_.items()
            }
            for key, old in current.items():
                if key not in fresh:
                    self._pop(key)
                    changes.append(("DELETED", old, old))
            for key, obj in fresh.items():
                before = current.get(key)
                self._put(obj)
                if before is None:
                    changes.append(("ADDED", obj, None))
                elif resource_version_of(before) != resource_version_of(obj) or key in pending:
                    # Pending echoes: a change our write's answer carried may not have been
                    # reacted to yet, and its event is gone with the old watch.
                    changes.append(("MODIFIED", obj, before))
        return changes

    def apply(self, event_type: str, obj: Obj) -> tuple[Obj | None, Obj | None]:
        """Apply a watch event; (what the handlers must be told, or None; the previous object).

        An event older than the cache is news when it is not the echo of our own write: our
        write's answer already carried that change, so the cache has it, but nobody has
        reacted to it yet (a spec changed between a reconcile's read and its status write).
        The handlers are then told the cached, newer object."""
        key = object_key(obj)
        with self._lock:
            if event_type == "DELETED":
                self._tombstones.discard(key)
                self._stale_up_to.pop(key, None)
                self._written.pop(key, None)
                self._remember_deletion(key, obj)
                old = self._pop(key)
                return (obj if old is not None else None), old
            if key in self._tombstones or self._known_stale(key, obj):
                return None, None
            old = self._by_namespace.get(key[0], {}).get(key[1])
            if not self._accept(obj):
                self._pop(key)
                self._written.pop(key, None)
                return (obj if old is not None else None), old
            if old is not None and (
                _older(obj, old) or resource_version_of(old) == resource_version_of(obj)
            ):
                return (old if self._unseen_change(key, obj) else None), old
            self._forget_written_up_to(key, obj)
            self._put(obj)
            return obj, old

    def _remember_deletion(self, key: Key, obj: Obj) -> None:
        version = resource_version_of(obj)
        if not version.isdigit():
            return
        self._deleted_at.pop(key, None)
        self._deleted_at[key] = int(version)
        if len(self._deleted_at) > RECENT_DELETIONS:
            self._deleted_at.popitem(last=False)

    def _deleted_since(self, key: Key, obj: Obj) -> bool:
        """Whether the watch reported the object's deletion after this state of it."""
        deleted = self._deleted_at.get(key)
        version = resource_version_of(obj)
        return deleted is not None and version.isdigit() and int(version) < deleted

    def _known_stale(self, key: Key, obj: Obj) -> bool:
        bound = self._stale_up_to.get(key)
        if bound is None:
            return False
        version = resource_version_of(obj)
        if version.isdigit() and int(version) <= bound:
            return True
        del self._stale_up_to[key]
        return False

    def _unseen_change(self, key: Key, obj: Obj) -> bool:
        """Whether an event the cache is already as new as reports a change made by another
        client; our own writes' echoes are consumed here."""
        version = resource_version_of(obj)
        written = self._written.get(key)
        if written is not None and version in written:
            self._forget_written_up_to(key, obj)
            return False
        self._forget_written_up_to(key, obj)
        return written is not None and version.isdigit() and _older(obj, self._get(key))

    def _forget_written_up_to(self, key: Key, obj: Obj) -> None:
        """Events come in resourceVersion order: our writes up to this one will not echo."""
        written = self._written.get(key)
        if written is None:
            return
        version = resource_version_of(obj)
        if version.isdigit():
            written.difference_update(
                {v for v in written if not v.isdigit() or int(v) <= int(version)}
            )
        else:
            written.discard(version)
        if not written:
            del self._written[key]

    def _get(self, key: Key) -> Obj | None:
        return self._by_namespace.get(key[0], {}).get(key[1])

    def write_through(self, obj: Obj | None) -> None:
        """Record the server's answer to our own write, unless the cache already has newer.

        An object being deleted is only updated, never added: when the cache lacks it, the
        watch has already reported its deletion (the answer to the write that removed the last
        finalizer, or to a Namespace's delete, can arrive after the DELETED event), and adding
        it back would keep a deleted object, and everything keyed by it, for good. Nor is an
        answer older than a deletion the watch reported (someone deleted the object while our
        write's answer was on its way)."""
        if obj is None:
            return
        key = object_key(obj)
        with self._lock:
            if not self._accept(obj):
                return
            self._tombstones.discard(key)
            self._stale_up_to.pop(key, None)
            old = self._by_namespace.get(key[0], {}).get(key[1])
            if old is None and (being_deleted(obj) or self._deleted_since(key, obj)):
                return
            if old is None or not _older(obj, old):
                self._put(copy.deepcopy(obj))
                if resource_version_of(obj) != resource_version_of(old):
                    self._written.setdefault(key, set()).add(resource_version_of(obj))

    def ignore_up_to(self, namespace: str | None, name: str, resource_version: str) -> None:
        """Drop the object and ignore its watch events up to `resource_version`: they describe
        states known to be stale (our apply to an object found to be someone else's, whose
        event carries our labels, may come after we took them back). A later event, a deletion,
        a relist or our next write ends it."""
        key = (namespace or "", name)
        with self._lock:
            self._pop(key)
            self._written.pop(key, None)
            if resource_version.isdigit():
                self._stale_up_to[key] = int(resource_version)

    def mark_deleted(self, namespace: str | None, name: str) -> None:
        """We deleted it: drop it, and ignore stale updates until the watch reports the delete."""
        key = (namespace or "", name)
        with self._lock:
            self._written.pop(key, None)
            if self._pop(key) is not None:
                self._tombstones.add(key)


class Informer:
    """Keeps a `Store` of one resource in step with the API server from a background thread."""

    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        accept: Callable[[Obj], bool] | None = None,
        transform: Callable[[Obj], Obj] | None = None,
        backoff: Backoff | None = None,
        watch_timeout: float = 300.0,
        on_relist: Callable[[], None] | None = None,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.store = Store(accept, transform)
        self.backoff = backoff or Backoff(0.5, 30.0)
        self.watch_timeout = max(1, int(watch_timeout))
        self._on_relist = on_relist
        self._on_progress = on_progress
        """Called after every watch event (bookmarks too) and when a watch ends its full time:
        the server answered, so the cache is current."""
        self.last_error: ApiError | None = None
        self._handlers: list[Handler] = []
        self._synced = threading.Event()
        self._answered = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: WatchStream | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Informer({self.resource}, selector={self.label_selector!r})"

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    def wait_answered(self, timeout: float | None = None) -> bool:
        """Until the first list has succeeded or failed (`synced`, or `last_error`)."""
        return self._answered.wait(timeout)

    def start(self) -> Informer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"informer-{self.resource.plural}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _dispatch(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        if self._stopped.is_set():
            return
        for handler in self._handlers:
            try:
                handler(event_type, obj, old)
            except Exception:
                log.exception(
                    "informer handler failed", extra={"fields": {"resource": self.resource.plural}}
                )

    def relist(self) -> str:
        """Replace the cache with a fresh list, tell the handlers what changed, then
        `on_relist`; returns the list's resourceVersion to watch from."""
        items, resource_version = self.kube.list(
            self.resource, self.namespace, self.label_selector, self.field_selector
        )
        changes = self.store.replace_all(items)
        self._synced.set()
        self._answered.set()
        for event_type, obj, old in changes:
            self._dispatch(event_type, obj, old)
        if self._on_relist is not None:
            self._on_relist()
        return resource_version

    def _watch(self, resource_version: str) -> str | None:
        """Follow one watch request; the resourceVersion to resume from, None to relist."""
        stream = self.kube.watch(
            self.resource,
            resource_version,
            self.namespace,
            self.label_selector,
            self.field_selector,
            self.watch_timeout,
        )
        with self._lock:
            self._stream = stream
        if self._stopped.is_set():
            stream.close()
            return resource_version
        try:
            for event_type, obj in stream:
                if self._stopped.is_set():
                    break
                if event_type == "ERROR":
                    if obj.get("code") == 410:
                        return None
                    raise ApiError(int(obj.get("code") or 500), str(obj.get("reason")), str(obj))
                resource_version = resource_version_of(obj) or resource_version
                if event_type != "BOOKMARK":
                    obj.setdefault("apiVersion", self.resource.api_version)
                    obj.setdefault("kind", self.resource.kind)
                    news, old = self.store.apply(event_type, obj)
                    if news is not None:
                        self._dispatch(event_type, news, old)
                self._progressed()
            else:
                self._progressed()
        finally:
            with self._lock:
                self._stream = None
            stream.close()
        return resource_version

    def _progressed(self) -> None:
        if self._on_progress is not None and not self._stopped.is_set():
            self._on_progress()

    def _run(self) -> None:
        resource_version: str | None = None
        failures = 0
        while not self._stopped.is_set():
            try:
                if resource_version is None:
                    resource_version = self.relist()
                resource_version = self._watch(resource_version)
                failures = 0
                self.last_error = None
            except ApiError as err:
                if self._stopped.is_set():
                    break
                if err.gone:
                    resource_version = None
                    continue
                failures += 1
                same = self.last_error is not None and self.last_error.status == err.status
                self.last_error = err
                self._answered.set()
                delay = err.retry_after or self.backoff.delay(failures)
                # said once per change of state, then only at debug level
                (log.debug if same else log.warning)(
                    "list/watch failed; retrying",
                    extra={
                        "fields": {
                            "resource": self.resource.plural,
                            "status": err.status,
                            "error": err.message[:300],
                            "retry_in": round(delay, 2),
                        }
                    },
                )
                self._stopped.wait(delay)
            except Exception as exc:  # a broken stream or an unparsable line: start over
                if self._stopped.is_set():
                    break
                failures += 1
                self.last_error = ApiError(0, "WatchFailed", str(exc), self.resource)
                self._answered.set()
                log.warning(
                    "watch stream broke; retrying",
                    extra={"fields": {"resource": self.resource.plural, "error": str(exc)[:300]}},
                )
                self._stopped.wait(self.backoff.delay(failures))
