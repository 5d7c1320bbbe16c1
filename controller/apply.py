"""Acting on one object: create it, update it when it differs, or delete it; each write goes
through to the informer cache at once and is told as an Event."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from controller.desired import DesiredObject, is_owned_by
from controller.diff import merged_for_update, needs_update
from controller.events import EventRecorder
from controller.status import EventSpec
from kube.api import ApiError, Kube, Obj
from kube.informer import Store
from kube.resources import SECRETS, Resource

log = logging.getLogger(__name__)


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
    """What one reconcile did to an EP's objects, in words for Events."""

    ep: Obj
    events: list[EventSpec] = field(default_factory=list)

    def tell(self, reason: str, message: str, type_: str = "Normal") -> None:
        self.events.append(EventSpec(type_, reason, message))


class Applier:
    def __init__(self, kube: Kube, recorder: EventRecorder) -> None:
        self.kube = kube
        self.recorder = recorder

    def emit(self, actions: Actions) -> None:
        for spec in actions.events:
            self.recorder.record(actions.ep, spec)
        actions.events.clear()

    def ensure(
        self,
        actions: Actions,
        desired: DesiredObject,
        store: Store,
        owner: str,
        *,
        sensitive: bool = False,
    ) -> Obj:
        """The object as stored after making it match `desired`. An object of that name which is
        not ours is left alone and fails the step."""
        resource = desired.resource
        actual = store.get(desired.namespace, desired.name)
        try:
            if actual is None:
                try:
                    created = self.kube.create(resource, desired.body)
                except ApiError as err:
                    if not err.already_exists:
                        raise
                    actual = self.reread(resource, desired.name, desired.namespace, store)
                else:
                    store.write_through(created)
                    self._told(actions, "Created", resource, desired.name)
                    return created
            if not is_owned_by(actual, owner):
                raise StepFailed(
                    f"{resource.kind}Conflict",
                    f"{resource.kind} '{desired.name}' already exists in namespace "
                    f"'{desired.namespace}' and is not managed by this EnvironmentProvisioner",
                )
            if not needs_update(desired.body, actual):
                return actual
            if resource == SECRETS and actual.get("type") != desired.body.get("type"):
                self.delete(actions, resource, actual, store, quiet=True)
                created = self.kube.create(resource, desired.body)
                store.write_through(created)
                self._told(actions, "Updated", resource, desired.name)
                return created
            updated = self.kube.replace(resource, merged_for_update(desired.body, actual))
            store.write_through(updated)
            self._told(actions, "Updated", resource, desired.name)
            return updated
        except ApiError as err:
            if err.refused:
                raise rejection(err, sensitive) from None
            raise

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
            store.write_through(lingering)
        else:
            store.mark_deleted(namespace, name)
        if not quiet:
            self._told(actions, "Deleted", resource, name, why)
        return lingering

    def replace(self, resource: Resource, body: Obj, store: Store) -> Obj:
        try:
            updated = self.kube.replace(resource, body)
        except ApiError as err:
            if err.refused:
                raise rejection(err) from None
            raise
        store.write_through(updated)
        return updated

    def reread(self, resource: Resource, name: str, namespace: str | None, store: Store) -> Obj:
        fresh = self.kube.get(resource, name, namespace)
        if fresh is None:
            raise ApiError(
                409, "Conflict", "created by someone else and gone again", resource, name
            )
        store.write_through(fresh)
        return fresh

    @staticmethod
    def _told(actions: Actions, verb: str, resource: Resource, name: str, why: str = "") -> None:
        message = f"{verb} {resource.kind} '{name}'" + (f": {why}" if why else "")
        actions.tell(f"{resource.kind}{verb}", message)


def owned(objs: list[Obj], owner: str) -> list[Obj]:
    return [o for o in objs if is_owned_by(o, owner)]


def annotation(obj: Obj | None, key: str) -> Any:
    return (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(key)
