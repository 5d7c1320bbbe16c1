"""The informers the controller runs, and the caches the reconciler reads.

Besides EPs, Environments and the TronadorConfig: all namespaces, their metadata only (to see a
namespace someone else owns), the `default` ServiceAccounts, and the objects we create (selected
by our managed-by label). Startup waits for these caches only.

Kinds of Secret-generating TronadorConfig items (ExternalSecret, ...) get an informer when first
needed, and nobody ever waits for one longer than its first list's answer: a kind the cluster
does not serve (404, or a 403 for a kind discovery does not list: RBAC answers before routing)
or does not let us list (403) raises `KindUnavailable` at once, while its informer keeps
retrying with backoff; when it syncs after all, `on_kind_available` callbacks run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from controller.settings import ReleaseFlavour, Settings
from kube.api import ApiError, Kube, Obj
from kube.backoff import Backoff
from kube.discovery import ServedKinds
from kube.informer import Handler, Informer, Store, metadata_only
from kube.resources import (
    CONFIG_MAPS,
    ENVIRONMENT_PROVISIONERS,
    ENVIRONMENTS,
    GIT_REPOSITORIES,
    HELM_RELEASES,
    HTTP_ROUTES,
    INGRESSES,
    LEGACY_HELM_RELEASES,
    NAMESPACES,
    OPENSHIFT_ROUTES,
    ROLE_BINDINGS,
    SECRETS,
    SERVICE_ACCOUNTS,
    TRONADOR_CONFIGS,
    Resource,
)
from tronador.api.constants import CONFIG_NAME, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from tronador.rules.exposure import exposure_only

MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"
EXPOSURE_KINDS = (INGRESSES, HTTP_ROUTES, OPENSHIFT_ROUTES)
"""What exposes an environment's application; their URLs become `status.urls`."""
RELEASE_KINDS = frozenset({HELM_RELEASES, GIT_REPOSITORIES, LEGACY_HELM_RELEASES})
"""Release objects of either flavour: never copies of TronadorConfig secrets items, whatever
flavour EPs use (an Environment is always Flux v2, so a legacy controller watches both)."""
DEFAULT_SERVICE_ACCOUNT = "default"


FIRST_ANSWER_WAIT = 2.0
"""Seconds a reconcile waits for the first list of a kind it has just started to cache."""
DISCOVERY_TTL = 10.0
"""How long discovery's answer on whether a kind is served is trusted."""

REFUSED_BACKOFF_MAX = 300.0
"""Seconds between lists of a kind the server refuses (not served, not permitted), at most,
while nothing needs it: an admin must act before a retry can work."""
NUDGE_INTERVAL = 30.0
"""While a reconcile needs a refused kind, its list is retried at least this often, so an
installed CRD or a granted rule is noticed within about this long."""


class KindUnavailable(ApiError):
    """The cache of a kind cannot be used: not served, not permitted, or not synced yet."""


def _named(name: str) -> Callable[[Obj], bool]:
    return lambda obj: (obj.get("metadata") or {}).get("name") == name


class Caches:
    def __init__(self, kube: Kube, settings: Settings) -> None:
        self.kube = kube
        self.settings = settings
        self._lock = threading.Lock()
        self._handlers: list[Handler] = []
        self._started = False
        legacy = settings.flavour is ReleaseFlavour.LEGACY
        self.release_resource = LEGACY_HELM_RELEASES if legacy else HELM_RELEASES
        self.source_resource = None if legacy else GIT_REPOSITORIES

        self.eps = self._informer(ENVIRONMENT_PROVISIONERS)
        self.environments = self._informer(ENVIRONMENTS)
        self.configs = self._informer(TRONADOR_CONFIGS, namespace=settings.namespace)
        self.namespaces = self._informer(NAMESPACES, transform=metadata_only)
        self.service_accounts = self._informer(
            SERVICE_ACCOUNTS,
            label_selector=None,
            field_selector=f"metadata.name={DEFAULT_SERVICE_ACCOUNT}",
            accept=_named(DEFAULT_SERVICE_ACCOUNT),
        )
        self.release_accounts = self._informer(SERVICE_ACCOUNTS, label_selector=MANAGED_SELECTOR)
        """The confined releases' ServiceAccounts (ours by label; `service_accounts` holds only
        each namespace's `default`)."""
        self.role_bindings = self._informer(ROLE_BINDINGS, label_selector=MANAGED_SELECTOR)
        managed: list[Resource] = [SECRETS, CONFIG_MAPS, self.release_resource]
        if self.source_resource is not None:
            managed.append(self.source_resource)
        self._managed: dict[Resource, Informer] = {
            r: self._informer(r, label_selector=MANAGED_SELECTOR) for r in managed
        }
        self._required: list[Informer] = [
            self.eps,
            self.environments,
            self.configs,
            self.namespaces,
            self.service_accounts,
            self.release_accounts,
            self.role_bindings,
            *self._managed.values(),
        ]
        """The caches startup waits for; kinds added later are never among them."""
        self._on_kind_available: list[Callable[[Resource], None]] = []
        self._exposure: list[Informer] = []
        self._served = ServedKinds(kube, ttl=DISCOVERY_TTL)

    def _informer(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        accept: Callable[[Obj], bool] | None = None,
        transform: Callable[[Obj], Obj] | None = None,
        on_relist: Callable[[], None] | None = None,
    ) -> Informer:
        base = self.settings.backoff_base
        return Informer(
            self.kube,
            resource,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            accept=accept,
            transform=transform,
            on_relist=on_relist,
            backoff=Backoff(base, min(self.settings.backoff_max, 30.0)),
            refused_backoff=Backoff(base, REFUSED_BACKOFF_MAX),
            watch_timeout=self.settings.watch_timeout,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def informers(self) -> list[Informer]:
        with self._lock:
            added = [i for i in self._managed.values() if i not in self._required]
            return [*self._required, *added, *self._exposure]

    def add_handler(self, handler: Handler) -> None:
        """`handler` hears every informer's changes (each object carries apiVersion and kind)."""
        self._handlers.append(handler)
        for informer in self.informers:
            informer.add_handler(handler)

    def start(self) -> None:
        self._started = True
        self._watch_exposure()
        for informer in self.informers:
            informer.start()

    def _watch_exposure(self) -> None:
        """Informers of what exposes an environment (`status.urls`): Ingresses always, HTTPRoutes
        and Routes where the cluster serves them. Only the fields `exposure_only` keeps; never
        waited for (a cluster that refuses them still provisions)."""
        for resource in EXPOSURE_KINDS:
            optional = resource != INGRESSES
            if optional and not self._served.served(resource.api_version, resource.kind):
                continue
            informer = self._informer(resource, transform=exposure_only)
            for handler in self._handlers:
                informer.add_handler(handler)
            with self._lock:
                self._exposure.append(informer)

    def exposure_objects(self, namespace: str) -> list[Obj]:
        """The Ingresses, HTTPRoutes and Routes in `namespace`, as cached."""
        with self._lock:
            informers = list(self._exposure)
        return [obj for informer in informers for obj in informer.store.objects(namespace)]

    def on_kind_available(self, callback: Callable[[Resource], None]) -> None:
        """`callback(resource)` runs when a kind added at run time syncs after its list had
        failed (its CRD installed, or RBAC granted, meanwhile)."""
        self._on_kind_available.append(callback)

    def wait_synced(self, timeout: float) -> bool:
        """Wait for the caches the controller always needs (not those of kinds added later)."""
        deadline = time.monotonic() + timeout
        return all(i.wait_synced(max(0.0, deadline - time.monotonic())) for i in self._required)

    def stop(self) -> None:
        for informer in self.informers:
            informer.stop()

    def join(self, timeout: float) -> None:
        for informer in self.informers:
            informer.join(timeout)

    # -- stores ------------------------------------------------------------------------------

    @property
    def ep_store(self) -> Store:
        return self.eps.store

    @property
    def environment_store(self) -> Store:
        return self.environments.store

    @property
    def namespace_store(self) -> Store:
        return self.namespaces.store

    @property
    def service_account_store(self) -> Store:
        return self.service_accounts.store

    def confinement_store(self, resource: Resource) -> Store:
        """The cache of a confined release's ServiceAccount or RoleBinding."""
        return (self.role_bindings if resource == ROLE_BINDINGS else self.release_accounts).store

    @property
    def releases(self) -> Store:
        return self._managed[self.release_resource].store

    @property
    def sources(self) -> Store | None:
        if self.source_resource is None:
            return None
        return self._managed[self.source_resource].store

    def config(self) -> Obj | None:
        return self.configs.store.get(self.settings.namespace, CONFIG_NAME)

    def watch_kind(self, resource: Resource) -> Informer:
        """The informer of a managed kind, created and started if it is new."""
        with self._lock:
            informer = self._managed.get(resource)
            created = informer is None
            if informer is None:
                informer = self._informer(
                    resource,
                    label_selector=MANAGED_SELECTOR,
                    on_relist=lambda: self._relisted(resource),
                )
                for handler in self._handlers:
                    informer.add_handler(handler)
                self._managed[resource] = informer
        if created and self._started:
            informer.start()
        return informer

    def _relisted(self, resource: Resource) -> None:
        with self._lock:
            informer = self._managed.get(resource)
        if informer is None or informer.last_error is None:
            return  # a first list that worked, or a relist after a 410: nothing new
        for callback in self._on_kind_available:
            callback(resource)

    def synced_store(self, resource: Resource, timeout: float = FIRST_ANSWER_WAIT) -> Store:
        """The cache of a managed kind, starting an informer for a new kind (e.g. ExternalSecret)
        and waiting at most `timeout` for its first list's answer, never for a sync that cannot
        come: raises `KindUnavailable` (404: not served, 403: not permitted, else not synced
        yet) while the informer keeps retrying."""
        informer = self.watch_kind(resource)
        if informer.synced or (informer.wait_answered(timeout) and informer.synced):
            return informer.store
        informer.nudge(NUDGE_INTERVAL)
        error = informer.last_error
        if error is not None and error.status in (403, 404):
            status = self._refusal(resource, error.status)
            raise KindUnavailable(status, error.reason, error.message, resource)
        raise KindUnavailable(
            0, "NotSynced", f"the cache of {resource} has not synced yet", resource
        )

    def store(self, resource: Resource) -> Store | None:
        """The cache holding `resource`'s objects, if one runs."""
        fixed = {
            ENVIRONMENT_PROVISIONERS: self.eps,
            ENVIRONMENTS: self.environments,
            TRONADOR_CONFIGS: self.configs,
            NAMESPACES: self.namespaces,
            SERVICE_ACCOUNTS: self.service_accounts,
        }
        with self._lock:
            informer = fixed.get(resource) or self._managed.get(resource)
        return informer.store if informer is not None else None

    def refused_kinds(self) -> dict[Resource, int]:
        """Managed kinds whose list the server refuses now: by HTTP status (403, 404)."""
        with self._lock:
            informers = list(self._managed.items())
        return {
            resource: self._refusal(resource, informer.last_error.status)
            for resource, informer in informers
            if informer.last_error is not None and informer.last_error.status in (403, 404)
        }

    def _refusal(self, resource: Resource, status: int) -> int:
        """404 for a kind nobody serves, though RBAC (which answers before routing) said 403."""
        if status == 403 and self._served.served(resource.api_version, resource.kind) is False:
            return 404
        return status

    def release_stores(self) -> list[tuple[Resource, Store]]:
        """The Flux objects' caches: the HelmRelease first, then its source."""
        out = [(self.release_resource, self.releases)]
        if self.source_resource is not None and self.sources is not None:
            out.append((self.source_resource, self.sources))
        return out

    def generated_kinds(self) -> Iterable[tuple[Resource, Store]]:
        """Every managed kind besides Secrets that may hold copies of TronadorConfig secrets items
        (generator kinds such as ExternalSecret)."""
        core = {SECRETS, CONFIG_MAPS, *RELEASE_KINDS}
        with self._lock:
            return [(r, i.store) for r, i in self._managed.items() if r not in core and i.synced]
