"""Kubernetes Events about EPs (core v1), so `kubectl describe ep` tells the story.

Events are best effort: a failure to record one is logged and never fails a reconcile.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from controller.status import EventSpec, timestamp
from kube.api import ApiError, Kube, NotLeader, Obj
from kube.resources import EVENTS
from tronador.api.constants import API_VERSION, EP_KIND

log = logging.getLogger(__name__)

MAX_MESSAGE = 1024


def event_body(
    ep: Obj, spec: EventSpec, namespace: str, component: str, instance: str, now: datetime
) -> Obj:
    meta = ep.get("metadata") or {}
    name = str(meta.get("name"))
    when = timestamp(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": EP_KIND,
            "name": name,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": spec.reason,
        "message": spec.message[:MAX_MESSAGE],
        "type": spec.type,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": instance,
        "firstTimestamp": when,
        "lastTimestamp": when,
        "count": 1,
    }


class EventRecorder:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        component: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.component = component
        self.instance = socket.gethostname()
        self.clock = clock

    def record(self, ep: Obj, spec: EventSpec) -> None:
        body = event_body(ep, spec, self.namespace, self.component, self.instance, self.clock())
        log.info(
            spec.message,
            extra={
                "fields": {
                    "ep": body["involvedObject"]["name"],
                    "event": spec.reason,
                    "type": spec.type,
                }
            },
        )
        try:
            self.kube.create(EVENTS, body)
        except (ApiError, NotLeader) as err:
            log.warning(
                "could not record event",
                extra={"fields": {"reason": spec.reason, "error": str(err)[:300]}},
            )
