"""Which kinds the API server serves, from discovery, cached briefly per group version."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kube.api import ApiError, Kube

DISCOVERY_TTL = 30.0
DISCOVERY_TIMEOUT = 2.0


class ServedKinds:
    """`served(api_version, kind)`: True, False, or None when discovery could not answer. One
    request per group version every `ttl` seconds at most."""

    def __init__(
        self,
        kube: Kube,
        ttl: float = DISCOVERY_TTL,
        timeout: float = DISCOVERY_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.ttl = ttl
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._kinds: dict[str, tuple[float, frozenset[str]]] = {}

    def served(self, api_version: str, kind: str) -> bool | None:
        now = self.clock()
        with self._lock:
            cached = self._kinds.get(api_version)
        if cached is None or now - cached[0] >= self.ttl:
            try:
                resources = self.kube.api_resources(api_version, timeout=self.timeout)
            except ApiError:
                return None
            kinds = frozenset(
                str(r.get("kind"))
                for r in resources or []
                if "/" not in str(r.get("name", ""))  # not a subresource
            )
            cached = (now, kinds)
            with self._lock:
                self._kinds[api_version] = cached
        return kind in cached[1]
