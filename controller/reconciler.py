"""One EP's (or Environment's) reconcile: observe (caches), compare (pure desired state), act
(only differences), report (status once at the end, only when it changed; events per
transition).

It can stop at any line and run again: every step reads what exists before it writes.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from controller.apply import Actions, Applier, StepFailed, annotation, owned, rejection
from controller.caches import Caches, KindUnavailable
from controller.desired import (
    COPIED_FROM_ANNOTATION,
    DesiredObject,
    DesiredProvisioning,
    Subject,
    ValuesSourceRef,
    namespace_owned_by,
    service_account_pull_secret,
    values_source_refs,
)
from controller.environment_desired import desired_objects
from controller.events import EventRecorder
from controller.kind_access import (
    KIND_NOT_SYNCED,
    secrets_message,
    unavailable_reason,
    what_to_do,
)
from controller.kinds import EP, KINDS, ProvisionedKind, parse_key
from controller.managed_fields import MANAGER
from controller.settings import Settings
from controller.status import (
    NAMESPACE_READY,
    PHASE_COPYING_SECRETS,
    PHASE_CREATING_NAMESPACE,
    PHASE_CREATING_RELEASE,
    PHASE_DELETING,
    PHASE_INVALID,
    PHASE_WAITING,
    READY,
    RELEASE_READY,
    SECRETS_READY,
    ApplicationState,
    StatusReport,
    StepOutcome,
    became_ready,
    build_status,
    flux_application_state,
    legacy_application_state,
    policy_condition,
    transition_events,
)
from kube.api import ApiError, Kube, Obj
from kube.informer import Store, object_key, resource_version_of
from kube.resources import (
    CONFIG_MAPS,
    GIT_REPOSITORIES,
    HELM_RELEASES,
    NAMESPACES,
    ROLE_BINDINGS,
    SECRETS,
    Resource,
)
from tronador.api import (
    Environment,
    EnvironmentProvisionerStatus,
    NamespaceLabelPolicy,
    Policy,
    TronadorConfig,
)
from tronador.api.constants import FINALIZER
from tronador.rules.expiry import decide, last_update
from tronador.rules.exposure import urls_of
from tronador.rules.findings import violations_from_pydantic
from tronador.rules.tenancy import cap_of, tenant_of

log = logging.getLogger(__name__)


def unusable_reason(err: KindUnavailable) -> str:
    return unavailable_reason(err.status) or KIND_NOT_SYNCED


def _age_key(obj: Obj) -> tuple[str, str]:
    """Orders objects by creation (RFC 3339 UTC timestamps sort as text), then uid."""
    meta = obj.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("uid") or "")


EXPIRY_SLACK = 0.05
"""Seconds added to an EP's time to expiry when requeueing it, so the clock has passed it."""


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None
    failed: bool = False
    """Requeue with backoff: a step failed in a way a retry may mend (403, 422, conflicts)."""


@dataclass
class Run:
    """One reconcile's state: the latest EP object and what the steps found."""

    obj: Obj
    actions: Actions
    steps: dict[str, StepOutcome] = field(default_factory=dict)
    phase: str = PHASE_WAITING
    namespace_labels: dict[str, str] | None = None
    application: ApplicationState | None = None
    requeue_after: float | None = None
    failed: bool = False
    policy: Policy | None = None
    """The cluster's policy, to audit the EP against (None: no valid TronadorConfig)."""
    kind: ProvisionedKind = EP
    confinement: StepOutcome | None = None
    """The `ReleaseConfined` condition, once the release step knows it."""
    fresh_namespace: bool = False
    """The namespace was created in this reconcile: nothing in it is someone else's, so what
    our caches do not hold need not be read before it is applied."""

    @property
    def uid(self) -> str:
        return str((self.obj.get("metadata") or {}).get("uid") or "")

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    def fail(
        self, condition: str, phase: str, reason: str, message: str, retry: bool = False
    ) -> None:
        self.steps[condition] = StepOutcome.failed(reason, message)
        self.phase = phase
        self.failed = self.failed or retry

    def requeue_within(self, seconds: float) -> None:
        """Be reconciled again at the latest in `seconds`."""
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = seconds


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        caches: Caches,
        recorder: EventRecorder,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = kube
        self.caches = caches
        self.recorder = recorder
        self.settings = settings
        self.clock = clock
        self.applier = Applier(kube, recorder)
        self.on_ready: Callable[[str, float], None] = lambda _kind, _seconds: None
        """Told (kind, seconds since creation or the last spec change) when one turns Ready."""

    # -- entry -------------------------------------------------------------------------------

    def reconcile(self, key: str) -> Result:
        """Reconcile the EP or Environment `key` names (`controller.kinds`); a 409 Conflict
        re-reads the object and starts over (bounded)."""
        kind, name = parse_key(key)
        for attempt in range(self.settings.conflict_retries + 1):
            try:
                return self._reconcile_once(kind, name)
            except ApiError as err:
                if not err.conflict or attempt == self.settings.conflict_retries:
                    raise
                log.info(
                    "conflict; re-reading and retrying",
                    extra={"fields": {"ep": name, "object": str(err), "attempt": attempt + 1}},
                )
                self._refresh(err)
        return Result(failed=True)

    def _refresh(self, err: ApiError) -> None:
        if err.resource is None or err.name is None:
            return
        store = self.caches.store(err.resource)
        if store is None:
            return
        fresh = self.kube.get(err.resource, err.name, err.namespace)
        if fresh is None:  # the next attempt's read waits for the cache to know at least this
            store.expect_deletion(err.namespace, err.name)
        else:
            store.expect(fresh)

    def _store(self, run: Run) -> Store:
        return run.kind.store(self.caches)

    def _reconcile_once(self, kind: ProvisionedKind, name: str) -> Result:
        obj = self.applier.read(kind.resource, kind.store(self.caches), None, name)
        if obj is None:
            return Result()
        run = Run(copy.deepcopy(obj), Actions(copy.deepcopy(obj)), kind=kind)
        try:
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                return self._finalize(run)
            config, config_problem = self._config()
            run.policy = config.spec.policy if config is not None else None
            if self._expire(run):
                return Result(requeue_after=0.0)  # the finalizer's cleanup follows
            ep = self._parse(run)
            taken = self._name_taken(run) if ep is not None else None
            over = self._over_cap(run) if ep is not None and not taken else None
            if taken:
                run.fail(NAMESPACE_READY, PHASE_CREATING_NAMESPACE, "NameConflict", taken)
            elif over:
                run.fail(READY, PHASE_WAITING, "QuotaExceeded", over)
                run.requeue_within(self.settings.deletion_poll)  # until one of them goes
            elif ep is not None:
                self._ensure_finalizer(run)
                self._provision(run, ep, config, config_problem)
        except StepFailed as failure:  # outside the provisioning steps: the finalizer, cleanup
            run.fail(READY, run.phase, failure.reason, failure.message, failure.retry)
        finally:
            self.applier.emit(run.actions)
        try:
            return self._report(run)
        finally:
            self.applier.emit(run.actions)

    # -- observe -----------------------------------------------------------------------------

    def _parse(self, run: Run) -> Subject | None:
        # Format rules only (policy is audited, not enforced, on existing EPs), except the
        # namespaces open to valuesFrom: the controller must never copy a Secret it was not
        # allowed to.
        opened = (run.policy or Policy()).values_from_namespaces
        unchecked_labels = NamespaceLabelPolicy(denied_keys=[])  # filtered when provisioned
        format_only = Policy(values_from_namespaces=opened, namespace_labels=unchecked_labels)
        findings = run.kind.validate(run.obj, format_only)
        if findings.allowed:
            try:
                return run.kind.model.model_validate(run.obj)
            except ValidationError as exc:
                findings.add_all(violations_from_pydantic(exc))
        message = findings.message()
        run.fail(READY, PHASE_INVALID, "InvalidSpec", f"The {run.kind.kind} is invalid: {message}")
        return None

    def _config(self) -> tuple[TronadorConfig | None, str | None]:
        obj = self.caches.config()
        if obj is None:
            return None, None
        try:
            return TronadorConfig.model_validate(obj), None
        except ValidationError as exc:
            problems = "; ".join(str(v) for v in violations_from_pydantic(exc))
            return None, f"TronadorConfig is invalid: {problems}"

    def _values_sources(self, ep: Subject) -> dict[ValuesSourceRef, dict[str, Any] | None]:
        if self.caches.source_resource is None and not isinstance(ep, Environment):
            return {}
        fetched: dict[ValuesSourceRef, dict[str, Any] | None] = {}
        for ref in values_source_refs(ep, ep.name):
            try:
                fetched[ref] = self.kube.get(ref.resource, ref.name, ref.namespace)
            except ApiError as err:
                if not err.refused:
                    raise
                fetched[ref] = None
        return fetched

    # -- expire ------------------------------------------------------------------------------

    def _expire(self, run: Run) -> bool:
        """Delete the EP when its TTL has elapsed (its finalizer then cleans up as usual) and
        say so first; otherwise be requeued at its expiry when that comes before the resync."""
        now = self.clock()
        decision = decide(run.obj, run.policy, now)
        if not decision.expired:
            left = decision.recheck_after(now)
            if left is not None and left.total_seconds() < self.settings.resync_period:
                run.requeue_within(max(left.total_seconds(), 0.0) + EXPIRY_SLACK)
            return False
        log.warning(
            "environment expired; deleting it",
            extra={
                "fields": {
                    "ep": run.name,
                    "reason": str(decision.reason),
                    "detail": decision.message,
                    "ttl": decision.ttl.text,
                    "ttl_source": str(decision.ttl.source),
                }
            },
        )
        run.actions.tell("Expired", f"Deleting the environment: {decision.message}")
        self.applier.emit(run.actions)  # while the EP still exists
        lingering = self.kube.delete(run.kind.resource, run.name)
        if lingering is None:
            self._store(run).expect_deletion(None, run.name)
        else:
            self._store(run).expect(lingering)
        return True

    # -- act ---------------------------------------------------------------------------------

    def _ensure_finalizer(self, run: Run) -> None:
        if FINALIZER in (run.obj["metadata"].get("finalizers") or []):
            return
        config = {"metadata": {"name": run.name, "finalizers": [FINALIZER]}}
        run.obj = self.applier.apply(run.kind.resource, config, self._store(run))

    def _provision(
        self,
        run: Run,
        ep: Subject,
        config: TronadorConfig | None,
        config_problem: str | None,
    ) -> None:
        desired = desired_objects(ep, config, self.settings.release, self._values_sources(ep))
        steps: tuple[tuple[str, str, Callable[[Run, DesiredProvisioning], bool]], ...] = (
            (NAMESPACE_READY, PHASE_CREATING_NAMESPACE, self._ensure_namespace),
            (SECRETS_READY, PHASE_COPYING_SECRETS, self._secrets_step(config_problem)),
            (RELEASE_READY, PHASE_CREATING_RELEASE, self._ensure_release),
        )
        for condition, phase, step in steps:
            try:
                if not step(run, desired):
                    if run.phase == PHASE_WAITING:
                        run.phase = phase
                    return
            except StepFailed as failure:
                run.fail(condition, phase, failure.reason, failure.message, failure.retry)
                return

    def _ensure_namespace(self, run: Run, desired: DesiredProvisioning) -> bool:
        """The namespace is ours only when it records this object's UID: one that exists
        without it (whatever its labels) is never adopted, relabelled, filled or deleted. A
        namespace we have not seen is claimed by a create, never by an apply, so one created
        meanwhile by someone else is only read."""
        wanted = desired.namespace
        store = self.caches.namespace_store
        ns = self.applier.read(NAMESPACES, store, None, wanted.name)
        if ns is not None and (ns.get("metadata") or {}).get("deletionTimestamp"):
            run.steps[NAMESPACE_READY] = StepOutcome.waiting(
                "NamespaceTerminating",
                f"Namespace '{wanted.name}' is being deleted; waiting to create it again",
            )
            run.requeue_after = self.settings.deletion_poll
            return False
        if ns is None:
            ns = self._claim_namespace(run, desired)
        if ns is None or not namespace_owned_by(ns, wanted.owner_uid):
            message = (
                f"Namespace '{wanted.name}' already exists and was not created for this "
                f"{run.kind.kind}; it will not be taken over"
            )
            run.fail(NAMESPACE_READY, PHASE_CREATING_NAMESPACE, "NamespaceConflict", message)
            return False
        ns = self.applier.ensure(
            run.actions, DesiredObject(NAMESPACES, wanted.body()), store, run.name, current=ns
        )
        labels = (ns.get("metadata") or {}).get("labels") or {}
        run.namespace_labels = {k: v for k, v in wanted.spec_labels.items() if labels.get(k) == v}
        run.steps[NAMESPACE_READY] = StepOutcome.ok(
            "Provisioned",
            f"Namespace '{wanted.name}' is provisioned" + run.actions.yielded_text("Namespace"),
        )
        return True

    def _claim_namespace(self, run: Run, desired: DesiredProvisioning) -> Obj | None:
        """Create the namespace with only our claim on it; when it exists already (created by
        someone else, or by us and not yet in the cache), read it instead: None when it is
        not ours to use."""
        wanted = desired.namespace
        try:
            created = self.kube.create(NAMESPACES, wanted.claim(), field_manager=MANAGER)
        except ApiError as err:
            if err.already_exists:
                current = self.kube.get(NAMESPACES, wanted.name)
                return current if namespace_owned_by(current, wanted.owner_uid) else None
            if err.refused:
                raise rejection(err) from None
            raise
        self.caches.namespace_store.expect(created)
        run.fresh_namespace = True
        run.actions.changed("created", NAMESPACES, wanted.name)
        return created

    def _secrets_step(
        self, config_problem: str | None
    ) -> Callable[[Run, DesiredProvisioning], bool]:
        def step(run: Run, desired: DesiredProvisioning) -> bool:
            if config_problem:
                raise StepFailed("InvalidConfig", config_problem)
            return self._ensure_secrets(run, desired)

        return step

    def _ensure_secrets(self, run: Run, desired: DesiredProvisioning) -> bool:
        namespace = desired.namespace.name
        unusable: list[tuple[Resource, str, str]] = []
        for obj in desired.secrets:
            try:
                store = self.caches.synced_store(obj.resource)
            except KindUnavailable as err:  # reported below; the other items go on
                unusable.append((obj.resource, obj.name, unusable_reason(err)))
                continue
            self.applier.ensure(
                run.actions,
                obj,
                store,
                run.name,
                sensitive=True,
                unseen_absent=run.fresh_namespace,
            )
        self._ensure_pull_secret(run, namespace, desired.image_pull_secret)
        if unusable:  # reported; the release goes on without them
            missing = {(resource, name) for resource, name, _ in unusable}
            copied = [o.name for o in desired.secrets if (o.resource, o.name) not in missing]
            message = "; ".join(
                [
                    secrets_message(unusable),
                    *desired.secret_problems,
                    *([f"copied {', '.join(copied)}"] if copied else []),
                ]
            )
            run.steps[SECRETS_READY] = StepOutcome.failed(unusable[0][2], message)
            run.failed = run.failed or any(r == KIND_NOT_SYNCED for _, _, r in unusable)
            run.requeue_within(self.settings.backoff_max)  # the reason may change meanwhile
            return True
        if desired.secret_problems:  # reported; the release goes on without the secret
            run.steps[SECRETS_READY] = StepOutcome.failed(
                "SecretNotProvided", "; ".join(desired.secret_problems)
            )
            return True
        names = [obj.name for obj in desired.secrets]
        choice = desired.secret_choice
        message = (
            (
                f"Copied {', '.join(names)} from the TronadorConfig ({choice.source})"
                if names
                else f"The TronadorConfig gives no secrets for repository '{choice.repo}'"
                + "".join(f"; {note}" for note in choice.notes)
            )
            + run.actions.yielded_text("Secret")
            + run.actions.yielded_text("ServiceAccount")
        )
        run.steps[SECRETS_READY] = StepOutcome.ok("Copied" if names else "NoSecrets", message)
        return True

    def _ensure_pull_secret(self, run: Run, namespace: str, wanted: str | None) -> None:
        try:
            self.applier.ensure(
                run.actions,
                service_account_pull_secret(namespace, wanted),
                self.caches.service_account_store,
                None,
            )
        except StepFailed as failure:
            raise StepFailed(
                "ServiceAccountRejected",
                f"Could not attach the image pull secret to ServiceAccount "
                f"'{namespace}/default': {failure.message}",
                retry=failure.retry,
            ) from None

    def _ensure_release(self, run: Run, desired: DesiredProvisioning) -> bool:
        namespace = desired.namespace.name
        if desired.release_refused:
            raise StepFailed("UnconfinedNotAllowed", desired.release_refused)
        if desired.release_problems:
            raise StepFailed("ReleaseNotRendered", "; ".join(desired.release_problems))
        self._ensure_confinement(run, desired)
        for obj in desired.values_copies:
            self.applier.ensure(
                run.actions,
                obj,
                self._cache_of(obj),
                run.name,
                sensitive=obj.resource == SECRETS,
                unseen_absent=run.fresh_namespace,
            )
        stored: dict[str, Obj] = {}
        for obj in desired.release:
            store = self._cache_of(obj)
            before = resource_version_of(store.get(namespace, obj.name))
            stored[obj.resource.kind] = self.applier.ensure(
                run.actions, obj, store, run.name, unseen_absent=run.fresh_namespace
            )
            written = resource_version_of(stored[obj.resource.kind]) != before
            if obj is desired.helm_release and written:
                for warning in desired.warnings:
                    run.actions.tell("ValuesSkipped", warning, "Warning")
        self._remove_stale_release_objects(run, desired)
        self._remove_stale_copies(run, desired)
        self._remove_stale_secrets(run, desired)
        run.application = self._application(run, desired, stored)
        outcome = run.application.outcome
        yielded = "".join(run.actions.yielded_text(o.resource.kind) for o in desired.release)
        run.steps[RELEASE_READY] = replace(outcome, message=outcome.message + yielded)
        return True

    def _ensure_confinement(self, run: Run, desired: DesiredProvisioning) -> None:
        """The release's own ServiceAccount and RoleBinding, before the HelmRelease names it."""
        if desired.unconfined:
            run.confinement = StepOutcome.failed("Unconfined", desired.unconfined)
            return
        for obj in desired.confinement:
            try:
                self.applier.ensure(
                    run.actions,
                    obj,
                    self.caches.confinement_store(obj.resource),
                    run.name,
                    unseen_absent=run.fresh_namespace,
                )
            except StepFailed as failure:
                if obj.resource == ROLE_BINDINGS and failure.reason == "Forbidden":
                    failure.message += (
                        f"; the controller needs the verb 'bind' on ClusterRole "
                        f"'{obj.body['roleRef']['name']}' (docs/security.md)"
                    )
                raise
        account, binding = desired.confinement
        run.confinement = StepOutcome.ok(
            "Confined",
            f"The release runs as ServiceAccount '{account.namespace}/{account.name}', bound "
            f"only in its namespace to ClusterRole '{binding.body['roleRef']['name']}'",
        )

    def _cache_of(self, obj: DesiredObject) -> Store:
        """The cache of `obj`'s kind; a kind the cluster does not serve, or does not let us
        list, fails the step (at once: nothing waits for a cache that cannot sync)."""
        try:
            return self.caches.synced_store(obj.resource)
        except KindUnavailable as err:
            reason = unusable_reason(err)
            raise StepFailed(
                reason,
                f"cannot create {obj.resource.kind} '{obj.name}': "
                f"{what_to_do(obj.resource, reason)}",
                retry=reason == KIND_NOT_SYNCED,
            ) from None

    def _remove_stale_copies(self, run: Run, desired: DesiredProvisioning) -> None:
        """Copies of values sources the release no longer names, deleted once it has been
        rewritten without them: Flux never meets a valuesFrom whose object is gone."""
        copies = {(o.resource.kind, o.name) for o in desired.values_copies}
        stores = [(r, self.caches.synced_store(r)) for r in (SECRETS, CONFIG_MAPS)]
        self._delete_owned(
            run,
            desired.namespace.name,
            stores,
            lambda resource, obj: (
                bool(annotation(obj, COPIED_FROM_ANNOTATION))
                and (resource.kind, obj["metadata"]["name"]) not in copies
            ),
            why="no longer used",
        )

    def _remove_stale_secrets(self, run: Run, desired: DesiredProvisioning) -> None:
        """Secrets the TronadorConfig no longer gives, deleted once the release objects have been
        written: a GitRepository's secretRef moves to the new secret before the old one goes."""
        wanted = {obj.name for obj in desired.secrets}  # by name: a generator's Secret is wanted
        stores = [(SECRETS, self.caches.store(SECRETS)), *self.caches.generated_kinds()]
        self._delete_owned(
            run,
            desired.namespace.name,
            [(resource, store) for resource, store in stores if store is not None],
            lambda _resource, obj: (
                obj["metadata"]["name"] not in wanted
                and not annotation(obj, COPIED_FROM_ANNOTATION)
            ),
            why="no longer given by the TronadorConfig",
        )

    def _delete_owned(
        self,
        run: Run,
        namespace: str,
        stores: list[tuple[Resource, Store]],
        stale: Callable[[Resource, Obj], bool],
        why: str,
    ) -> None:
        """Delete the objects of `run`'s environment in `namespace` that `stale` picks."""
        doomed = [
            (resource, store, obj)
            for resource, store in stores
            for obj in owned(store.objects(namespace), run.name)
            if stale(resource, obj) and not store.expectations.deleting(object_key(obj))
        ]
        for resource, store, obj in doomed:
            self.applier.delete(run.actions, resource, obj, store, why=why)

    def _remove_stale_release_objects(self, run: Run, desired: DesiredProvisioning) -> None:
        names = {(o.resource.kind, o.name) for o in desired.release}
        self._delete_owned(
            run,
            desired.namespace.name,
            [(o.resource, self._cache_of(o)) for o in desired.release],
            lambda resource, obj: (resource.kind, obj["metadata"]["name"]) not in names,
            why="release renamed",
        )

    def _application(
        self, run: Run, desired: DesiredProvisioning, stored: dict[str, Obj]
    ) -> ApplicationState:
        release = stored.get("HelmRelease")
        if self.caches.source_resource is None and run.kind is EP:
            return legacy_application_state(release, desired.release_name)
        return flux_application_state(release, desired.release_name, stored.get("GitRepository"))

    def _name_taken(self, run: Run) -> str | None:
        """Why `run`'s object must leave its namespace alone: an object of the other kind with
        the same name, created before it, provisions that namespace (both would claim it)."""
        mine = _age_key(run.obj)
        for other in KINDS:
            obj = other.store(self.caches).get(None, run.name) if other is not run.kind else None
            if obj is not None and _age_key(obj) < mine:
                return (
                    f"{other.kind} '{run.name}' already provisions namespace '{run.name}'; "
                    f"this {run.kind.kind} needs another name"
                )
        return None

    def _over_cap(self, run: Run) -> str | None:
        """Why `run`'s environment waits for its tenant's cap (policy.tenant.maxEnvironments),
        or None. Environments whose namespace exists hold their place; the others, EPs and
        Environments together, get the places left oldest first, so however many are created
        at once exactly the cap is provisioned."""
        policy = run.policy
        tenant = tenant_of(run.obj, policy) if policy is not None else None
        cap = cap_of(tenant, policy) if policy is not None else None
        if cap is None or policy is None:
            return None
        if self._holds_namespace(run.obj):
            return None
        admitted, waiting = 0, []
        for kind in KINDS:
            for obj in kind.store(self.caches).objects():
                meta = obj.get("metadata") or {}
                if meta.get("deletionTimestamp") or tenant_of(obj, policy) != tenant:
                    continue
                if self._holds_namespace(obj):
                    admitted += 1
                else:
                    waiting.append(obj)
        mine = (_age_key(run.obj), run.kind.kind, run.name)
        ahead = sum(
            1 for obj in waiting if (_age_key(obj), obj.get("kind"), obj["metadata"]["name"]) < mine
        )
        if admitted + ahead < cap:
            return None
        held = max(admitted, min(admitted + ahead, cap))
        return (
            f"tenant {tenant!r} has {held} of {cap} environments "
            "(policy.tenant.maxEnvironments); this one is provisioned when one of them goes"
        )

    def _holds_namespace(self, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        ns = self.caches.namespace_store.get(None, str(meta.get("name")))
        return ns is not None and namespace_owned_by(ns, str(meta.get("uid") or ""))

    # -- delete ------------------------------------------------------------------------------

    def _finalize(self, run: Run) -> Result:
        meta = run.obj["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return Result()
        namespace = run.name
        remaining: list[Obj] = []
        if self._name_taken(run):
            return self._remove_finalizer(run)
        ns = self.applier.read(NAMESPACES, self.caches.namespace_store, None, namespace)
        if ns is not None and not namespace_owned_by(ns, run.uid):
            run.actions.tell(
                "CleanedUp", f"Namespace '{namespace}' was not created for it; left untouched"
            )
            return self._remove_finalizer(run)
        for resource, store in self._release_stores(run):
            for obj in owned(store.objects(namespace), run.name):
                lingering = self.applier.delete(
                    run.actions, resource, obj, store, why=f"the {run.kind.kind} is deleted"
                )
                if lingering is not None and resource.kind == "HelmRelease":
                    remaining.append(lingering)
        waited = self._seconds_since(meta.get("deletionTimestamp"))
        if remaining and waited < self.settings.deletion_timeout:
            names = ", ".join(str(o["metadata"]["name"]) for o in remaining)
            run.phase = PHASE_DELETING
            run.steps[RELEASE_READY] = StepOutcome.waiting(
                "Uninstalling", f"Waiting for Flux to uninstall HelmRelease {names}"
            )
            self._report(run)
            return Result(requeue_after=self.settings.deletion_poll)
        if remaining:
            run.actions.tell(
                "UninstallTimedOut",
                f"HelmRelease {remaining[0]['metadata']['name']} was not removed within "
                f"{self.settings.deletion_timeout:g}s; deleting the namespace anyway",
                "Warning",
            )
        if ns is not None:
            self.applier.delete(
                run.actions,
                NAMESPACES,
                ns,
                self.caches.namespace_store,
                why="environment cleaned up",
            )
        run.actions.tell("CleanedUp", f"Environment '{namespace}' was cleaned up")
        return self._remove_finalizer(run)

    def _remove_finalizer(self, run: Run) -> Result:
        """A JSON patch that removes our finalizer where the cached object has it (a `test`
        makes it conditional), however it was added."""
        finalizers = run.obj["metadata"].get("finalizers") or []
        index = finalizers.index(FINALIZER)
        where = f"/metadata/finalizers/{index}"
        operations = [
            {"op": "test", "path": where, "value": FINALIZER},
            {"op": "remove", "path": where},
        ]
        self.applier.emit(run.actions)  # while the EP still exists
        try:
            self.applier.patch(run.kind.resource, run.name, operations, self._store(run))
        except ApiError as err:
            if not err.not_found:
                raise
        return Result()

    def _release_stores(self, run: Run) -> list[tuple[Resource, Store]]:
        """The Flux objects' caches, the HelmRelease first; an Environment's are Flux v2's
        whatever flavour EPs use."""
        if run.kind is EP or self.caches.source_resource is not None:
            return self.caches.release_stores()
        return [(r, self.caches.synced_store(r)) for r in (HELM_RELEASES, GIT_REPOSITORIES)]

    def _seconds_since(self, stamp: Any) -> float:
        try:
            when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            return 0.0
        return (self.clock() - when).total_seconds()

    # -- report ------------------------------------------------------------------------------

    def _urls(self, run: Run) -> list[str] | None:
        """The URLs of the environment's own namespace (none while it has no namespace)."""
        if run.phase == PHASE_DELETING:
            return None
        ns = self.caches.namespace_store.get(None, run.name)
        if ns is None or not namespace_owned_by(ns, run.uid):
            return []
        return urls_of(self.caches.exposure_objects(run.name))

    def _report(self, run: Run) -> Result:
        current = run.obj  # the EP as reconciled: if it changed since, the write conflicts
        raw = current.get("status") or {}
        try:
            previous = EnvironmentProvisionerStatus.model_validate(raw) if raw else None
        except ValidationError:
            previous = None
        generation = (current.get("metadata") or {}).get("generation")
        now = self.clock()
        audit = None
        if run.policy is not None and run.phase != PHASE_DELETING:
            audit = policy_condition(current, run.policy, now)
        report = StatusReport(
            phase=run.phase,
            steps=run.steps,
            namespace_labels=run.namespace_labels,
            application=run.application,
            policy_compliant=audit,
            confinement=run.confinement,
            urls=self._urls(run),
        )
        status = build_status(previous, report, generation, now)
        wire = status.to_wire()
        if wire != raw:
            config = {"metadata": {"name": run.name}, "status": wire}
            try:
                updated = self.applier.apply(
                    run.kind.resource, config, self._store(run), subresource="status"
                )
            except ApiError as err:
                if err.not_found:  # deleted meanwhile: nothing to report on
                    return Result()
                raise
            run.obj = run.actions.ep = updated
            if became_ready(previous, status):
                changed, _ = last_update(current)
                if changed is not None:
                    self.on_ready(run.kind.kind, max(0.0, (now - changed).total_seconds()))
            for spec in transition_events(previous, status):
                run.actions.events.append(spec)
        return Result(requeue_after=run.requeue_after, failed=run.failed)
