"""The time-to-ready histogram: one observation when an environment turns Ready, none while it
stays Ready, and one again after a spec change makes it ready anew."""

from __future__ import annotations

from controller.settings import ReleaseFlavour
from tests.controller.harness import EP_API, EP_NAME, Cluster, settings

FLUX = ReleaseFlavour.FLUX_V2
COUNT = "tronador_controller_time_to_ready_seconds_count"


def test_an_environment_turning_ready_is_observed_once_per_change(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.create_ep()
    controller = cluster.start(settings(FLUX, resync_period=0.2))

    def observed() -> float:
        return controller.metrics.sample(COUNT, kind="EnvironmentProvisioner")

    cluster.wait(lambda: cluster.release(FLUX))
    assert observed() == 0
    cluster.play_flux(FLUX)
    cluster.wait(lambda: cluster.condition("Ready").get("status") == "True")
    cluster.wait(lambda: observed() == 1)
    before = controller.reconciles
    cluster.wait(lambda: controller.reconciles >= before + 5)  # resyncs while Ready
    assert observed() == 1
    assert controller.metrics.sample(COUNT, kind="Environment") == 0

    change = {"spec": {"application": {"release": {"values": {"replicas": 3}}}}}
    cluster.server.patch(EP_API, "environmentprovisioners", EP_NAME, None, change)
    cluster.wait(lambda: cluster.condition("Ready").get("status") != "True")
    cluster.play_flux(FLUX)
    cluster.wait(lambda: observed() == 2)
