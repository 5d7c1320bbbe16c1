"""One controller replica: the Controller, its leader elector and its health/metrics server.

    replica = Replica(api_client, settings, election=LeaderElectionConfig(...),
                      metrics_address=":8080").start()
    ...
    replica.stop()               # step down, release the Lease, stop the workers and caches

Every replica keeps its informer caches warm; only the leader's workers write (the Controller's
`is_leader` gate is the elector's). Gaining leadership re-reconciles every EP; losing it stops
writes at once (the gate is checked before each request).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from controller.health import HealthServer
from controller.leaderelection import LeaderElectionConfig, LeaderElector
from controller.manager import Controller
from controller.settings import Settings

log = logging.getLogger(__name__)


class Replica:
    def __init__(
        self,
        api_client: Any,
        settings: Settings,
        *,
        election: LeaderElectionConfig | None = None,
        metrics_address: str | None = None,
    ) -> None:
        self.elector: LeaderElector | None = None
        if election is not None:
            self.elector = LeaderElector.for_kubernetes(
                api_client,
                election,
                on_started_leading=self._started_leading,
                on_stopped_leading=self._stopped_leading,
                on_new_leader=self._new_leader,
            )
        gate = self.elector.is_leader if self.elector is not None else None
        self.controller = Controller(api_client, settings, is_leader=gate)
        self.health: HealthServer | None = None
        if metrics_address is not None:
            self.health = HealthServer(
                metrics_address, ready=self.ready, metrics=self.controller.render_metrics
            )

    # -- election callbacks (on the elector's thread: quick) ---------------------------------

    def _started_leading(self) -> None:
        log.info("became the leader; reconciling every EP", extra={"fields": self._who()})
        self.controller.enqueue_all()

    def _stopped_leading(self) -> None:
        log.info("stopped leading; no more writes", extra={"fields": self._who()})

    def _new_leader(self, identity: str) -> None:
        log.info("new leader observed", extra={"fields": {**self._who(), "leader": identity}})

    def _who(self) -> dict[str, str]:
        return {"identity": self.elector.identity if self.elector is not None else ""}

    # -- state -------------------------------------------------------------------------------

    def is_leader(self) -> bool:
        return self.controller.is_leader()

    def leadership_known(self) -> bool:
        """Leader, or a standby that has seen who leads."""
        elector = self.elector
        return elector is None or elector.is_leader() or bool(elector.leader())

    def ready(self) -> bool:
        return self.controller.ready and self.leadership_known()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, sync_timeout: float = 60.0) -> Replica:
        """Serve the probes, sync the caches and start the workers, then join the election
        (so a new leader's `enqueue_all` sees a full cache). TimeoutError as Controller.start."""
        if self.health is not None and not self.health.started:
            self.health.start()
        self.controller.start(sync_timeout)
        if self.elector is not None:
            self.elector.start()
        return self

    def stop(self, *, release: bool = True, timeout: float = 10.0) -> None:
        """Step down (releasing the Lease unless `release` is False, as a crash would not),
        then stop the workers and caches and the probe server."""
        if self.elector is not None:
            if not release:
                self.elector.config = dataclasses.replace(
                    self.elector.config, release_on_cancel=False
                )
            self.elector.stop(timeout)
        self.controller.stop(timeout)
        if self.health is not None:
            self.health.stop()
