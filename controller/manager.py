"""The running controller: informers feed a work queue, workers reconcile EPs, a timer resyncs.

    controller = Controller(api_client, Settings(...))
    controller.start()          # informers synced, workers running
    ...
    controller.stop()

`is_leader` gates every write (and every reconcile): later leader election plugs in there and
calls `enqueue_all()` when it gains leadership.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from kubernetes.client import ApiClient

from controller.caches import EXPOSURE_KINDS, Caches
from controller.events import EventRecorder
from controller.kind_access import unavailable_reason
from controller.kinds import KINDS, kind_of
from controller.metrics import (
    RESULT_ERROR,
    RESULT_REQUEUE,
    RESULT_SUCCESS,
    ControllerMetrics,
)
from controller.queue import WorkQueue
from controller.reconciler import Reconciler, Result
from controller.settings import Settings
from kube.api import ApiError, Kube, NotLeader, Obj
from kube.backoff import Backoff
from kube.client import pooled
from kube.resources import (
    NAMESPACES,
    SERVICE_ACCOUNTS,
    TRONADOR_CONFIGS,
    Resource,
    resource_for,
)
from tronador.api.constants import CONFIG_NAME, ENVIRONMENT_LABEL

log = logging.getLogger(__name__)

POOL_HEADROOM = 16
"""Connections beyond one per worker: a long-lived one per watch, plus events and spares."""


class Controller:
    def __init__(
        self,
        api_client: ApiClient,
        settings: Settings | None = None,
        *,
        is_leader: Callable[[], bool] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings or Settings()
        self.is_leader = is_leader or (lambda: True)
        self.metrics = ControllerMetrics()
        self._own_client = pooled(api_client, self.settings.workers + POOL_HEADROOM)
        self.kube = Kube(
            self._own_client or api_client,
            self.settings.request_timeout,
            write_allowed=self.is_leader,
            on_error=lambda err: self.metrics.api_error(err.status),
        )
        self.caches = Caches(self.kube, self.settings)
        self.queue = WorkQueue(Backoff(self.settings.backoff_base, self.settings.backoff_max))
        self.recorder = EventRecorder(
            self.kube, self.settings.event_namespace, self.settings.component, clock
        )
        self.reconciler = Reconciler(self.kube, self.caches, self.recorder, self.settings, clock)
        self.reconciler.on_ready = self.metrics.became_ready
        self.caches.add_handler(self._on_change)
        self.caches.on_kind_available(self._kind_available)
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = threading.Event()
        self._count_lock = threading.Lock()
        self._reconciles = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, sync_timeout: float = 60.0) -> Controller:
        """Start informers, wait for their first list, then start workers and the resync timer.
        Raises TimeoutError when the caches do not sync (the informers keep retrying)."""
        self.caches.start()
        if not self.caches.wait_synced(sync_timeout):
            raise TimeoutError("the informer caches did not sync")
        self._ensure_generator_informers(self.caches.config())
        self.enqueue_all()
        for index in range(self.settings.workers):
            self._spawn(self._work, f"worker-{index}")
        self._spawn(self._resync, "resync")
        self._started.set()
        log.info(
            "controller started",
            extra={
                "fields": {
                    "namespace": self.settings.namespace,
                    "flavour": str(self.settings.flavour),
                    "workers": self.settings.workers,
                    "eps": len(self.caches.ep_store),
                }
            },
        )
        return self

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=f"tronador-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work; a reconcile in progress finishes its current API call at most."""
        self._stopped.set()
        self.queue.shutdown()
        self.caches.stop()
        for thread in self._threads:
            thread.join(timeout)
        if self._own_client is not None:
            self._own_client.close()
        log.info("controller stopped")

    @property
    def reconciles(self) -> int:
        """Reconciles run so far (for tests and benchmarks)."""
        with self._count_lock:
            return self._reconciles

    @property
    def ready(self) -> bool:
        """Started (caches synced, workers running) and not stopped."""
        return self._started.is_set() and not self._stopped.is_set()

    def _refused_kinds(self) -> dict[str, str]:
        """Kinds the TronadorConfig's `secrets` items name whose list the server refuses, by
        reason (a kind no item names any more is not reported, though its informer retries)."""
        config = self.caches.config() or {}
        items = (config.get("spec") or {}).get("secrets") or []
        named = {
            (str(item.get("apiVersion")), str(item.get("kind")))
            for item in items
            if isinstance(item, dict)
        }
        return {
            ".".join(filter(None, (resource.plural, resource.group))): (
                unavailable_reason(status) or str(status)
            )
            for resource, status in self.caches.refused_kinds().items()
            if (resource.api_version, resource.kind) in named
        }

    def render_metrics(self) -> str:
        """The Prometheus text of `/metrics`."""
        return self.metrics.render(
            queue_depth=len(self.queue),
            environments=[
                *self.caches.ep_store.objects(),
                *self.caches.environment_store.objects(),
            ],
            leader=self.is_leader(),
            refused_kinds=self._refused_kinds(),
        )

    # -- queueing ----------------------------------------------------------------------------

    def enqueue(self, name: str) -> None:
        self.queue.add(name)

    def enqueue_all(self) -> None:
        for kind in KINDS:
            for name in kind.store(self.caches).names():
                self.queue.add(kind.key(name))

    def _on_change(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        provisioned = kind_of(obj)
        if provisioned is not None:
            if event_type == "DELETED":
                self.queue.drop(provisioned.key(name))
            self.enqueue(provisioned.key(name))
        elif (api_version, kind) == (TRONADOR_CONFIGS.api_version, "TronadorConfig"):
            if name == CONFIG_NAME:
                self._ensure_generator_informers(obj if event_type != "DELETED" else None)
                self.enqueue_all()
        elif kind == NAMESPACES.kind and api_version == "v1":
            self._enqueue_environment(obj, fallback=name)
        elif (kind == SERVICE_ACCOUNTS.kind and api_version == "v1") or any(
            (api_version, kind) == (r.api_version, r.kind) for r in EXPOSURE_KINDS
        ):
            self._enqueue_environment(None, fallback=str(meta.get("namespace") or ""))
        else:
            self._enqueue_environment(obj)

    def _enqueue_environment(self, obj: Obj | None, fallback: str = "") -> None:
        labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
        name = labels.get(ENVIRONMENT_LABEL) or fallback
        if not name:
            return
        for kind in KINDS:
            if kind.store(self.caches).get(None, name) is not None:
                self.enqueue(kind.key(name))

    def _ensure_generator_informers(self, config: Obj | None) -> None:
        """Start informers for the kinds of the config's Secret-generating items, without
        waiting for them (one the cluster lacks, or forbids, keeps retrying with backoff)."""
        for item in ((config or {}).get("spec") or {}).get("secrets") or []:
            if isinstance(item, dict) and item.get("kind") not in (None, "Secret"):
                self.caches.watch_kind(
                    resource_for(str(item.get("apiVersion")), str(item.get("kind")))
                )

    def _kind_available(self, resource: Resource) -> None:
        log.info(
            "a kind of the TronadorConfig's secrets can be listed now; reconciling everything",
            extra={"fields": {"kind": resource.kind, "apiVersion": resource.api_version}},
        )
        self.enqueue_all()

    # -- workers -----------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            key = self.queue.get()
            if key is None:
                return
            try:
                self._process(key)
            finally:
                self.queue.done(key)

    def _process(self, key: str) -> None:
        if not self.is_leader():
            self.queue.forget(key)
            return
        started = time.monotonic()
        outcome = RESULT_ERROR
        try:
            result = self.reconciler.reconcile(key)
        except NotLeader:
            self.queue.forget(key)
            outcome = ""
            return
        except ApiError as err:
            delay = self._retry(key, err.retry_after)
            log.warning(
                "reconcile failed; retrying",
                extra={
                    "fields": {
                        "ep": key,
                        "status": err.status,
                        "error": str(err)[:500],
                        "retry_in": round(delay, 2),
                    }
                },
            )
            return
        except Exception:
            delay = self._retry(key)
            log.exception("reconcile crashed", extra={"fields": {"ep": key, "retry_in": delay}})
            return
        else:
            outcome = (
                RESULT_ERROR
                if result.failed
                else RESULT_REQUEUE
                if result.requeue_after is not None
                else RESULT_SUCCESS
            )
        finally:
            if outcome:
                self.metrics.reconciled(outcome, time.monotonic() - started)
            with self._count_lock:
                self._reconciles += 1
        self._requeue(key, result)

    def _retry(self, key: str, retry_after: float | None = None) -> float:
        self.metrics.retried()
        return self.queue.add_rate_limited(key, retry_after)

    def _requeue(self, key: str, result: Result) -> None:
        if result.failed:
            self._retry(key)
            return
        self.queue.forget(key)
        if result.requeue_after is not None:
            self.queue.add_after(key, result.requeue_after)

    def _resync(self) -> None:
        while not self._stopped.wait(self.settings.resync_period):
            self.enqueue_all()
