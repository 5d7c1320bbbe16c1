"""The policy from the cluster's TronadorConfig, kept current by a list + watch in a thread.

The watch resumes from the last resourceVersion it saw and relists when the API server says that
version is gone (410). While the API server is unreachable, the last good policy stays in force
and the thread retries with exponential backoff.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tronador.api import Policy
from tronador.api.constants import CONFIG_NAME, CONFIG_PLURAL, GROUP, VERSION
from webhook.policy_source import PolicyHolder

log = logging.getLogger(__name__)

HTTP_GONE = 410


class Backoff:
    def __init__(self, initial: float = 0.5, maximum: float = 30.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.delay = initial

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.delay * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self.delay = self.initial


class KubernetesPolicySource:
    def __init__(
        self,
        api: client.CustomObjectsApi,
        namespace: str,
        name: str = CONFIG_NAME,
        *,
        watch_timeout_seconds: int = 300,
        backoff: Backoff | None = None,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.watch_timeout_seconds = watch_timeout_seconds
        self.backoff = backoff or Backoff()
        self._holder = PolicyHolder(namespace, origin=f"TronadorConfig {namespace}/{name}")
        self._stopping = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread: threading.Thread | None = None

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
        self._thread = threading.Thread(target=self._run, name="policy-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop; it is a daemon, so a watch blocked on the network does not
        hold up shutdown."""
        self._stopping.set()
        if self._watch is not None:
            self._watch.stop()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        resource_version: str | None = None
        while not self._stopping.is_set():
            try:
                if resource_version is None:
                    resource_version = self.relist()
                resource_version = self.watch_from(resource_version)
                self.backoff.reset()
                continue
            except ApiException as exc:
                if exc.status == HTTP_GONE:
                    log.info("policy watch expired; relisting", extra={"fields": self._where()})
                    resource_version = None
                    continue
                problem = f"API error {exc.status}: {exc.reason}"
            except Exception as exc:  # the network, a proxy, a broken response
                problem = type(exc).__name__
            if self._stopping.is_set():
                break
            delay = self.backoff.next()
            log.warning(
                "cannot read the TronadorConfig; keeping the current policy",
                extra={"fields": {**self._where(), "error": problem, "retryIn": delay}},
            )
            self._stopping.wait(delay)

    def _where(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name}

    def _selector(self) -> str:
        return f"metadata.name={self.name}"

    def relist(self) -> str:
        """Apply the TronadorConfig as it is now; returns the list's resourceVersion."""
        result: Any = self.api.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, CONFIG_PLURAL, field_selector=self._selector()
        )
        ours = [item for item in result.get("items", []) if self._is_ours(item)]
        config = ours[0] if ours else None
        self._holder.apply(config, _resource_version(config) or "")
        return str(result.get("metadata", {}).get("resourceVersion", ""))

    def watch_from(self, resource_version: str) -> str:
        """Apply changes until the watch ends; returns the last resourceVersion seen."""
        self._watch = watch.Watch()
        stream = self._watch.stream(
            self.api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            CONFIG_PLURAL,
            field_selector=self._selector(),
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=self.watch_timeout_seconds,
            _request_timeout=self.watch_timeout_seconds + 30,
        )
        for event in stream:
            if self._stopping.is_set():
                self._watch.stop()
                break
            obj = event.get("raw_object")
            resource_version = _resource_version(obj) or resource_version
            self.handle_event(event.get("type", ""), obj)
            self._holder.confirm()
        if not self._stopping.is_set():
            self._holder.confirm()  # the watch ran its full time: the policy is current
        return resource_version

    def handle_event(self, event_type: str, obj: Any) -> None:
        if not self._is_ours(obj):
            return
        if event_type in ("ADDED", "MODIFIED"):
            self._holder.apply(obj, _resource_version(obj) or "")
        elif event_type == "DELETED":
            self._holder.apply(None, _resource_version(obj) or "")

    def _is_ours(self, obj: Any) -> bool:
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        return isinstance(metadata, dict) and metadata.get("name") == self.name


def _resource_version(obj: Any) -> str | None:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    version = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    return version if isinstance(version, str) and version else None
