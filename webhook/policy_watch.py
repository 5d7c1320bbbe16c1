"""The policy from the cluster's TronadorConfig, kept current by a `kube.Informer` in a thread.

The informer resumes its watch from the last resourceVersion it saw and relists when the API
server says that version is gone (410). While the API server is unreachable, the last good policy
stays in force and the informer retries with backoff.
"""

from __future__ import annotations

import logging
from typing import Any

from kube.api import Kube, Obj
from kube.backoff import Backoff
from kube.informer import Informer
from kube.resources import TRONADOR_CONFIGS
from tronador.api import Policy
from tronador.api.constants import CONFIG_NAME
from webhook.policy_source import PolicyHolder

log = logging.getLogger(__name__)


class KubernetesPolicySource:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str = CONFIG_NAME,
        *,
        watch_timeout_seconds: int = 300,
        backoff: Backoff | None = None,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self._holder = PolicyHolder(namespace, origin=f"TronadorConfig {namespace}/{name}")
        self.informer = Informer(
            kube,
            TRONADOR_CONFIGS,
            namespace=namespace,
            field_selector=f"metadata.name={name}",
            accept=self._is_ours,
            backoff=backoff,
            watch_timeout=watch_timeout_seconds,
            on_relist=self._relisted,
            on_progress=self._holder.confirm,
        )
        self.informer.add_handler(lambda event_type, obj, _old: self.handle_event(event_type, obj))

    @property
    def policy(self) -> Policy | None:
        return self._holder.policy

    @property
    def synced(self) -> bool:
        return self._holder.synced

    @property
    def last_sync(self) -> float | None:
        return self._holder.last_sync

    def start(self) -> None:
        self.informer.start()

    def stop(self) -> None:
        """Ask the thread to stop; it is a daemon, so a watch blocked on the network does not
        hold up shutdown."""
        self.informer.stop()
        self.informer.join(timeout=1.0)

    def _relisted(self) -> None:
        """A list is an answer even when it changes nothing in the cache: without a
        TronadorConfig the default policy applies, and the policy in force is current."""
        if not self._holder.synced and not self.informer.store.objects():
            self._holder.apply(None)
        self._holder.confirm()

    def handle_event(self, event_type: str, obj: Obj) -> None:
        if not self._is_ours(obj):
            return
        if event_type in ("ADDED", "MODIFIED"):
            self._holder.apply(obj, _resource_version(obj))
        elif event_type == "DELETED":
            self._holder.apply(None, _resource_version(obj))

    def _is_ours(self, obj: Any) -> bool:
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        return isinstance(metadata, dict) and metadata.get("name") == self.name


def _resource_version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
