"""What the webhook's and the controller's /metrics share: a registry with the standard
collectors, and the content type of the text format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The Prometheus text format 0.0.4, which every Prometheus version scrapes."""


def standard_registry() -> CollectorRegistry:
    """A fresh registry (one per server, so servers in one process count apart) with the
    process (RSS, CPU, open fds), platform and garbage-collector collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
