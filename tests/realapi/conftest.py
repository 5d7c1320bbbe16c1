"""The `realapi` lane: one real control plane per session (see controlplane.py), the CRDs
installed once, and the lane's test count and time in pytest's terminal summary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from controller.runtime import Replica
from controller.settings import ReleaseFlavour
from tests.controller.harness import settings
from tests.controller.helpers import seed_config_dict
from tests.realapi.controller import CONTROLLER, ELECTION, RESYNC
from tests.realapi.controlplane import ControlPlane, find_binaries
from tests.realapi.kube import (
    CRD_FILES,
    INSTALLED_KINDS,
    Rest,
    install_crds,
    rendered_manifests,
    wait_for,
)
from tests.tools import missing
from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    binaries = find_binaries()
    if isinstance(binaries, str):
        missing(binaries)
    assert not isinstance(binaries, str)
    plane = ControlPlane(binaries)
    try:
        plane.start()
        _lane.control_plane_start = plane.started_in
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def admin(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.admin_client() as api:
        yield api


@pytest.fixture(scope="session")
def crds(admin: client.ApiClient) -> list[str]:
    """Our CRDs and the vendored Flux CRDs, installed and Established; their names."""
    return install_crds(admin, CRD_FILES)


@pytest.fixture(scope="session")
def installed(admin: client.ApiClient, crds: list[str]) -> Rest:
    """Tronador as `kubectl apply -k manifests/` installs it, minus the Deployments: the
    system namespace, the ServiceAccounts and RBAC; plus the seed TronadorConfig (created
    before any webhook is registered). An admin `Rest` to the server."""
    rest = Rest(admin)
    for doc in rendered_manifests():
        if doc["kind"] in INSTALLED_KINDS:
            rest.ensure(doc)
    rest.ensure(seed_config_dict())
    return rest


@pytest.fixture(scope="session")
def controller_manager(control_plane: ControlPlane) -> ControlPlane:
    """The control plane with kube-controller-manager running (namespace deletion, GC,
    the `default` ServiceAccount)."""
    control_plane.ensure_controller_manager()
    return control_plane


@pytest.fixture
def as_controller(controller_manager: ControlPlane, installed: Rest) -> Iterator[client.ApiClient]:
    """A client for the controller's ServiceAccount, once the aggregated ClusterRole has rules."""
    rbac = client.RbacAuthorizationV1Api(installed.api)
    wait_for(lambda: rbac.read_cluster_role(CONTROLLER).rules, what="the aggregated ClusterRole")
    with controller_manager.service_account_client(
        DEFAULT_SYSTEM_NAMESPACE, CONTROLLER, create=False
    ) as api:
        yield api


@pytest.fixture
def replica(as_controller: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[Replica]:
    flavour: ReleaseFlavour = request.param
    replica = Replica(
        as_controller, settings(flavour, resync_period=RESYNC), election=ELECTION
    ).start(30)
    try:
        wait_for(replica.is_leader, what="the controller leading")
        yield replica
    finally:
        replica.stop()


class _Lane:
    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.seconds = 0.0
        self.control_plane_start: float | None = None


_lane = _Lane()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "realapi" not in report.keywords:
        return
    _lane.seconds += report.duration
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _lane.outcomes[report.outcome] = _lane.outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _lane.outcomes:
        return
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_lane.outcomes.items()))
    started = (
        f"; control plane ready in {_lane.control_plane_start:.1f}s"
        if _lane.control_plane_start is not None
        else ""
    )
    terminalreporter.write_line(
        f"realapi lane: {counts} in {_lane.seconds:.1f}s (target < 120s){started}"
    )
