"""Informers: list+watch one resource into a local cache, and tell handlers what changed.

A watch resumes from the last resourceVersion it saw; 410 Gone means relist; an unreachable API
server means retrying with exponential backoff. The reconciler reads only these caches, so an
idle resync costs no API reads. The watch is the only writer of a cache: a writer's own writes
are expectations it waits on (`kube.expectations`), never written into the cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kube.api import FIELD_MANAGER, ApiError, Kube, Obj, WatchStream
from kube.backoff import Backoff
from kube.expectations import Expectations
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


def selector_matches(selector: str | None, obj: Obj) -> bool:
    """Whether `obj`'s labels match an equality selector (`k=v,k2=v2`, what we watch with);
    a selector of another form is taken as matching."""
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        key, sep, value = term.partition("=")
        if not sep or key.endswith("!") or value.startswith("="):
            return True
        if labels.get(key.strip()) != value.strip():
            return False
    return True


class Store:
    """A thread-safe cache of one resource's objects, written by its watch alone. Readers must
    not mutate what they get.

    `transform`, when given, is what is kept of each object (e.g. `metadata_only`); `holds`
    tells whether an object is one this cache receives (the informer's namespace and selector),
    so that only writes the watch will echo are waited for (`expectations`)."""

    def __init__(
        self,
        accept: Callable[[Obj], bool] | None = None,
        transform: Callable[[Obj], Obj] | None = None,
        holds: Callable[[Obj], bool] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._by_namespace: dict[str, dict[str, Obj]] = {}
        self._accept = accept or (lambda _obj: True)
        self._transform = transform
        self._holds = holds or (lambda _obj: True)
        self.expectations = Expectations()

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

    # -- the watch's side ---------------------------------------------------------------------

    def replace_all(self, objs: list[Obj]) -> list[tuple[str, Obj, Obj | None]]:
        """Take a fresh list as the truth; return the changes it made as watch-style events."""
        fresh = {object_key(o): o for o in objs if self._accept(o)}
        changes: list[tuple[str, Obj, Obj | None]] = []
        with self._lock:
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
                elif resource_version_of(before) != resource_version_of(obj):
                    changes.append(("MODIFIED", obj, before))
        listed = {object_key(o): resource_version_of(o) for o in objs}
        self.expectations.observe_list(listed)
        return changes

    def apply(self, event_type: str, obj: Obj) -> tuple[Obj | None, Obj | None]:
        """Apply a watch event; (what the handlers must be told, or None; the previous object).
        Every event that changes the cache is told, the echo of our own write too: from its
        resourceVersion alone an echo cannot be told from another writer's change that our
        write (a no-op) merely returned, and a reconcile with nothing to do costs no call."""
        key = object_key(obj)
        with self._lock:  # with the expectations, so that `expect` sees both or neither
            old = self._by_namespace.get(key[0], {}).get(key[1])
            if event_type == "DELETED" or not self._accept(obj):
                self._pop(key)
                news = obj if old is not None else None
            elif old is not None and _older(obj, old):
                return None, old  # a replay of a state the cache has passed (after a relist)
            else:
                self._put(obj)
                news = obj
            self.expectations.observe(event_type, key, resource_version_of(obj))
        return news, old

    # -- the writers' side: expectations, never the cache itself -------------------------------

    def expect(self, written: Obj | None) -> None:
        """Our write's answer: reads of this object wait until the watch has delivered it (or
        a newer state). Nothing is recorded when the watch already has, or never will: the
        object is outside this cache's filter, or it is being deleted and the cache no longer
        has it (the answer came after the watch reported the deletion)."""
        if written is None:
            return
        key = object_key(written)
        with self._lock:
            if not (self._holds(written) and self._accept(written)):
                self.expectations.forget(key)
                return
            cached = self._by_namespace.get(key[0], {}).get(key[1])
            if cached is not None and not _older(cached, written):
                return
            if cached is None and (written.get("metadata") or {}).get("deletionTimestamp"):
                return
            self.expectations.wrote(key, resource_version_of(written))

    def expect_deletion(self, namespace: str | None, name: str) -> None:
        """We deleted it: reads wait until the watch has reported the deletion."""
        key = (namespace or "", name)
        with self._lock:
            if self._by_namespace.get(key[0], {}).get(key[1]) is not None:
                self.expectations.deleted(key)

    def current(self, namespace: str | None, name: str, timeout: float) -> tuple[Obj | None, bool]:
        """(the cached object, whether the cache has caught up with our writes to it), after
        waiting up to `timeout` seconds for the watch to deliver them."""
        key = (namespace or "", name)
        caught_up = self.expectations.wait(key, timeout)
        return self.get(namespace, name), caught_up


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
        refused_backoff: Backoff | None = None,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.store = Store(accept, transform, holds=self._holds)
        self.backoff = backoff or Backoff(0.5, 30.0)
        self.refused_backoff = refused_backoff or self.backoff
        """Retries of a list the server refuses (403: not permitted, 404: not served): an admin
        must act first, so these back off further (`nudge` brings one forward)."""
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
        self._wake = threading.Event()
        self._failed_at = 0.0
        self._thread: threading.Thread | None = None
        self._stream: WatchStream | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Informer({self.resource}, selector={self.label_selector!r})"

    def _holds(self, obj: Obj) -> bool:
        """Whether the watch delivers `obj`: in the namespace and matching the label selector."""
        if self.namespace is not None and object_key(obj)[0] != self.namespace:
            return False
        return selector_matches(self.label_selector, obj)

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

    def nudge(self, at_most_every: float) -> None:
        """Retry a failing list now rather than at the end of its backoff, if the last attempt
        was at least `at_most_every` seconds ago (someone needs this cache)."""
        if self.last_error is not None and time.monotonic() - self._failed_at >= at_most_every:
            self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
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
                self._failed_at = time.monotonic()
                self._answered.set()
                backoff = self.refused_backoff if err.status in (403, 404) else self.backoff
                delay = err.retry_after or backoff.delay(failures)
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
                self._sleep(delay)
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
                self._failed_at = time.monotonic()
                self._sleep(self.backoff.delay(failures))

    def _sleep(self, seconds: float) -> None:
        """Until the retry is due, the informer is stopped, or `nudge` brings it forward."""
        self._wake.wait(seconds)
        self._wake.clear()
