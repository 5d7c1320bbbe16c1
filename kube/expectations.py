"""What a writer waits to see in a cache after its own writes.

Only the watch writes a `Store`. After a write, the writer records here what the write made:
the resourceVersion of the server's answer, or the object's deletion. Until the watch has
delivered that much, the cache is behind for that object: a reader that must act on its own
writes waits for the watch (bounded) or reads the one object from the API server, and never
patches the cache with a reply. A watch event that is exactly the echo of one of our writes is
not news to the handlers. controller-runtime and kopf follow the same rule: the cache is filled
by the watch alone, and read-your-writes is a wait, not a write-back.

An expectation lives from the write to its echo (or a relist that settles it): memory is bounded
by the writes in flight, never by the objects we ever touched.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

Key = tuple[str, str]
"""(namespace or "", name)."""


def _version(resource_version: str) -> int | None:
    return int(resource_version) if resource_version.isdigit() else None


class Expectations:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._versions: dict[Key, int] = {}
        """Per object, the resourceVersion our latest write produced, not yet seen."""
        self._deletions: set[Key] = set()
        """Objects we deleted whose deletion the watch has not reported yet."""

    def wrote(self, key: Key, resource_version: str) -> None:
        """Our write to `key` produced `resource_version`."""
        version = _version(resource_version)
        if version is None:
            return
        with self._changed:
            self._deletions.discard(key)
            self._versions[key] = max(version, self._versions.get(key, 0))

    def deleted(self, key: Key) -> None:
        """We deleted `key` (it is gone, not lingering behind a finalizer)."""
        with self._changed:
            self._versions.pop(key, None)
            self._deletions.add(key)

    def observe(self, event_type: str, key: Key, resource_version: str) -> bool:
        """A watch event the cache has just applied: the expectations it settles go. True when
        it is exactly the version (or the deletion) we were waiting for."""
        version = _version(resource_version)
        with self._changed:
            if event_type == "DELETED":
                echo = key in self._deletions
                self._deletions.discard(key)
                wanted = self._versions.get(key)
                if wanted is not None and version is not None and version >= wanted:
                    del self._versions[key]  # a later write of ours was deleted by someone
                self._changed.notify_all()
                return echo
            wanted = self._versions.get(key)
            if wanted is None or version is None or version < wanted:
                return False
            del self._versions[key]
            self._changed.notify_all()
            return version == wanted

    def observe_list(self, versions: Mapping[Key, str]) -> None:
        """A relist (`versions`: what it returned): every expectation it settles goes. An
        object our write produced that the list lacks was deleted since; a deletion of ours
        the list still shows has not happened yet."""
        with self._changed:
            for key in [k for k in self._deletions if k not in versions]:
                self._deletions.discard(key)
            for key, wanted in list(self._versions.items()):
                listed = _version(versions[key]) if key in versions else None
                if key not in versions or (listed is not None and listed >= wanted):
                    del self._versions[key]
            self._changed.notify_all()

    def deleting(self, key: Key) -> bool:
        """Whether we deleted `key` and the watch has not said so yet."""
        with self._changed:
            return key in self._deletions

    def wait(self, key: Key, timeout: float) -> bool:
        """Until the cache has caught up with our writes to `key`; False on the timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: key not in self._versions and key not in self._deletions, timeout
            )

    def forget(self, key: Key) -> None:
        with self._changed:
            self._versions.pop(key, None)
            self._deletions.discard(key)
            self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._versions) + len(self._deletions)
