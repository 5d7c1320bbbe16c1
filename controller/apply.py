"""Acting on one object: server-side apply of what we want of it (field manager `tronador`,
never forced) or its deletion.

Reads come from the informer caches, which only their watches write: after each write the
object's cache records what the write made (`Store.expect`), and a later read of that object
waits for the watch to deliver it, or reads the object itself from the API server when the
watch is late (`Applier.read`). An object our caches cannot see (they hold only objects with our
labels) is read before our first apply to it: one someone else made is never applied to.

A field another manager owns with another value is yielded, not taken: it is left out of what we
apply and told (`Actions.yielded`, and a Warning Event when the server refused an apply for it).
Changes are folded into one Event per reconcile (`Actions.summary`); failures keep their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from controller.desired import DesiredObject, is_owned_by
from controller.events import EventRecorder
from controller.managed_fields import (
    LEGACY_MANAGERS,
    MANAGER,
    Path,
    conflicting_fields,
    foreign_fields,
    our_entry,
    path_text,
    up_to_date,
    without,
)
from controller.status import EventSpec
from kube.api import ApiError, Kube, Obj
from kube.informer import Store
from kube.resources import ROLE_BINDINGS, SECRETS, Resource

log = logging.getLogger(__name__)

APPLY_ATTEMPTS = 3
"""Applies of one object per reconcile: each 409 names fields to yield before the next."""

READ_WAIT = 2.0
"""Seconds a read waits for the watch to deliver our own write before reading the object from
the API server instead."""


class StepFailed(Exception):
    """A provisioning step cannot go on; its condition becomes False with this reason."""

    def __init__(self, reason: str, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry = retry
        """Whether to retry with backoff (the API refused us) rather than wait for a change."""


def rejection(err: ApiError, sensitive: bool = False) -> StepFailed:
    """A 400/403/422 as a step failure. For secret-bearing kinds only the reason is told: the
    server's message may quote the values it rejected."""
    what = f"{err.resource.kind} '{err.name}'" if err.resource and err.name else "a request"
    reason = {403: "Forbidden", 422: "Invalid", 400: "BadRequest"}.get(err.status, "Rejected")
    if sensitive:
        return StepFailed(reason, f"The API server rejected {what} ({err.reason})", retry=True)
    return StepFailed(reason, f"The API server rejected {what}: {err.message}", retry=True)


@dataclass
class Actions:
    """What one reconcile did to an EP's objects, in words for Events and conditions."""

    ep: Obj
    events: list[EventSpec] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    """Objects written, e.g. "created Namespace 'x'": one folded Event says them all."""
    yielded: dict[str, list[str]] = field(default_factory=dict)
    """By kind: fields left to another manager, in words, for the step's condition message."""

    def tell(self, reason: str, message: str, type_: str = "Normal") -> None:
        self.events.append(EventSpec(type_, reason, message))

    def changed(self, verb: str, resource: Resource, name: str, why: str = "") -> None:
        self.changes.append(f"{verb} {resource.kind} '{name}'" + (f" ({why})" if why else ""))

    def summary(self) -> EventSpec | None:
        """One Normal Event for every object this reconcile wrote: "Provisioned" when it
        created any, "Updated" otherwise."""
        if not self.changes:
            return None
        created = any(change.startswith("created ") for change in self.changes)
        text = "; ".join(self.changes)
        return EventSpec(
            "Normal", "Provisioned" if created else "Updated", text[:1].upper() + text[1:]
        )

    def yielded_text(self, kind: str) -> str:
        """The fields of `kind` left to other managers, for a condition message ("" if none)."""
        fields = self.yielded.get(kind) or []
        return f"; left to other managers: {', '.join(fields)}" if fields else ""


def _yield_words(resource: Resource, name: str, fields: dict[Path, str]) -> list[str]:
    return [
        f"{resource.kind} '{name}' {path_text(path)} (owned by '{manager}')"
        for path, manager in sorted(fields.items())
    ]


class Applier:
    def __init__(self, kube: Kube, recorder: EventRecorder, read_wait: float = READ_WAIT) -> None:
        self.kube = kube
        self.recorder = recorder
        self.read_wait = read_wait

    def read(
        self, resource: Resource, store: Store, namespace: str | None, name: str
    ) -> Obj | None:
        """The object as our own writes left it at least: from the cache once its watch has
        delivered them, else (the watch is late) from the API server."""
        cached, caught_up = store.current(namespace, name, self.read_wait)
        if caught_up:
            return cached
        log.info(
            "the cache is behind our own write; reading the object",
            extra={"fields": {"object": f"{resource.kind}/{name}", "namespace": namespace}},
        )
        return self.kube.get(resource, name, namespace)

    def emit(self, actions: Actions) -> None:
        summary = actions.summary()
        actions.changes.clear()
        for spec in [*([summary] if summary else []), *actions.events]:
            self.recorder.record(actions.ep, spec)
        actions.events.clear()

    def ensure(
        self,
        actions: Actions,
        desired: DesiredObject,
        store: Store,
        owner: str | None,
        *,
        sensitive: bool = False,
        current: Obj | None = None,
        unseen_absent: bool = False,
    ) -> Obj:
        """The object as stored after applying `desired`. An object of that name which is not
        ours (`owner`'s labels; None: any object) is left alone and fails the step. `current`:
        the object as just read, when the cache cannot have it yet. An object the cache does
        not hold may be someone else's (the cache holds only ours): it is read first, unless
        `unseen_absent` (its namespace was created in this reconcile, so nothing is in it)."""
        resource = desired.resource
        actual = current or self.read(resource, store, desired.namespace, desired.name)
        if actual is None and owner is not None and not unseen_absent:
            actual = self._read_unseen(resource, desired, sensitive)
        if actual is not None and owner is not None and not is_owned_by(actual, owner):
            raise self._foreign(resource, desired)
        config = desired.body
        adopt = actual is not None and owner is not None  # ours: checked above
        yielded = foreign_fields(actual, config, adopt_legacy=adopt)
        config = without(config, yielded)
        try:
            if up_to_date(actual, config) or (
                not _sets_anything(config) and our_entry(actual) is None
            ):
                self._yielded(actions, resource, desired.name, yielded)
                return actual or {}
            if actual is not None and _immutable_changed(resource, actual, desired.body):
                self.delete(actions, resource, actual, store, quiet=True)
                actual = None
            applied = self._apply(actions, resource, config, yielded, adopt)
        except ApiError as err:
            if err.refused:
                raise rejection(err, sensitive) from None
            raise
        store.expect(applied)
        self._yielded(actions, resource, desired.name, yielded)
        actions.changed("created" if actual is None else "updated", resource, desired.name)
        return applied

    def _read_unseen(
        self, resource: Resource, desired: DesiredObject, sensitive: bool
    ) -> Obj | None:
        """Read an object our cache does not hold before the first apply to it: when it
        exists it is someone else's, and an apply would write our fields into it."""
        try:
            return self.kube.get(resource, desired.name, desired.namespace)
        except ApiError as err:
            if err.refused:
                raise rejection(err, sensitive) from None
            raise

    def _apply(
        self,
        actions: Actions,
        resource: Resource,
        config: Obj,
        yielded: dict[Path, str],
        adopt: bool = False,
    ) -> Obj:
        """Apply `config`; fields a 409 names are yielded (a Warning Event each time) and the
        rest applied again. With `adopt` (an object of ours), a conflict only with what our
        earlier versions wrote (`LEGACY_MANAGERS`) is resolved by taking those fields over."""
        name = str(config["metadata"]["name"])
        force = False
        for attempt in range(APPLY_ATTEMPTS):
            try:
                return self.kube.apply(resource, config, field_manager=MANAGER, force=force)
            except ApiError as err:
                refused = conflicting_fields(config, err.causes) if err.conflict else {}
                if not refused or attempt == APPLY_ATTEMPTS - 1:
                    raise
                if adopt and not force and set(refused.values()) <= LEGACY_MANAGERS:
                    log.info(
                        "taking over fields an earlier Tronador wrote before server-side apply",
                        extra={"fields": {"object": f"{resource.kind}/{name}"}},
                    )
                    force = True
                    continue
                words = _yield_words(resource, name, refused)
                actions.tell(
                    "FieldConflict",
                    f"Left to other managers (not taken): {', '.join(words)}",
                    "Warning",
                )
                yielded.update(refused)
                config = without(config, refused)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _foreign(resource: Resource, desired: DesiredObject) -> StepFailed:
        where = f" in namespace '{desired.namespace}'" if desired.namespace else ""
        return StepFailed(
            f"{resource.kind}Conflict",
            f"{resource.kind} '{desired.name}' already exists{where} and is not managed by this "
            "EnvironmentProvisioner; it will not be taken over",
        )

    @staticmethod
    def _yielded(actions: Actions, resource: Resource, name: str, fields: dict[Path, str]) -> None:
        if fields:
            words = _yield_words(resource, name, fields)
            actions.yielded.setdefault(resource.kind, []).extend(words)
            log.info(
                "fields left to other managers",
                extra={"fields": {"object": f"{resource.kind}/{name}", "yielded": words}},
            )

    def delete(
        self,
        actions: Actions,
        resource: Resource,
        obj: Obj,
        store: Store,
        *,
        quiet: bool = False,
        why: str = "",
    ) -> Obj | None:
        meta = obj.get("metadata") or {}
        name, namespace = str(meta.get("name")), meta.get("namespace")
        if meta.get("deletionTimestamp"):
            return obj
        try:
            lingering = self.kube.delete(resource, name, namespace)
        except ApiError as err:
            if err.refused:
                raise rejection(err, resource == SECRETS) from None
            raise
        if lingering is not None:
            store.expect(lingering)
        else:
            store.expect_deletion(namespace, name)
        if not quiet:
            actions.changed("deleted", resource, name, why)
        return lingering

    def apply(self, resource: Resource, config: Obj, store: Store, subresource: str = "") -> Obj:
        """Apply `config` to an object of ours that exists (an EP's finalizer or status). A
        conflict only with what our earlier versions wrote (`LEGACY_MANAGERS`) is resolved by
        taking those fields over: nobody else writes an EP's status."""
        force = False
        while True:
            try:
                applied = self.kube.apply(
                    resource,
                    config,
                    field_manager=MANAGER,
                    force=force,
                    subresource=subresource or None,
                )
                break
            except ApiError as err:
                if err.refused:
                    raise rejection(err) from None
                refused = conflicting_fields(config, err.causes) if err.conflict else {}
                if force or not refused or not set(refused.values()) <= LEGACY_MANAGERS:
                    raise
                force = True
        store.expect(applied)
        return applied

    def patch(self, resource: Resource, name: str, operations: list[Obj], store: Store) -> Obj:
        try:
            patched = self.kube.patch(resource, name, operations)
        except ApiError as err:
            if err.refused:
                raise rejection(err) from None
            raise
        store.expect(patched)
        return patched


IMMUTABLE_FIELDS = {SECRETS: "type", ROLE_BINDINGS: "roleRef"}
"""Fields the API server never lets change: the object is deleted and created again."""


def _immutable_changed(resource: Resource, actual: Obj, desired: Obj) -> bool:
    name = IMMUTABLE_FIELDS.get(resource)
    return name is not None and actual.get(name) != desired.get(name)


def _sets_anything(config: Obj) -> bool:
    meta = config.get("metadata") or {}
    return any(k not in ("apiVersion", "kind", "metadata") for k in config) or any(
        k not in ("name", "namespace") for k in meta
    )


def owned(objs: list[Obj], owner: str) -> list[Obj]:
    return [o for o in objs if is_owned_by(o, owner)]


def annotation(obj: Obj | None, key: str) -> Any:
    return (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(key)
