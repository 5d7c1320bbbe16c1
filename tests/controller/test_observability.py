"""/healthz, /readyz and /metrics of a running controller."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from controller.health import HealthServer, parse_address
from controller.metrics import ControllerMetrics, phase_counts, readiness
from controller.runtime import Replica
from tests.apiserver import Fault
from tests.controller.harness import EP_NAME, Cluster, settings
from tests.metrics_text import parse_exposition


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _sample(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name}{labels} not in metrics"
    return float(match.group(1))


def test_parse_address() -> None:
    assert parse_address(":8080") == ("", 8080)
    assert parse_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_address("[::1]:9090") == ("::1", 9090)
    for bad in ("8080", "host:", "host:http", ":70000"):
        with pytest.raises(ValueError):
            parse_address(bad)


def test_phase_counts() -> None:
    eps = [
        {"status": {"currentPhase": "Creating Namespace"}},
        {"status": {"currentPhase": "Creating Namespace"}},
        {},
    ]
    assert phase_counts(eps) == {"Creating Namespace": 2, "Pending": 1}


def test_readiness() -> None:
    def ep(name: str, *conditions: tuple[str, str]) -> dict[str, object]:
        listed = [{"type": t, "status": s} for t, s in conditions]
        return {"metadata": {"name": name}, "status": {"conditions": listed}}

    eps = [
        ep("up", ("NamespaceReady", "True"), ("Ready", "True")),
        ep("down", ("NamespaceReady", "True"), ("Ready", "False")),
        ep("unknown", ("Ready", "Unknown")),
        ep("new"),
        {"metadata": {"name": "bare"}},
    ]
    environment = {**ep("env", ("Ready", "True")), "kind": "Environment"}
    by_name = {name: ready for (_, name), ready in readiness([*eps, environment]).items()}
    kinds = {kind for kind, _ in readiness([*eps, environment])}
    assert kinds == {"EnvironmentProvisioner", "Environment"}
    assert by_name == {
        "up": True,
        "down": False,
        "unknown": False,
        "new": False,
        "bare": False,
        "env": True,
    }


def test_a_phase_nobody_is_in_any_more_reads_zero_and_a_deleted_ep_goes() -> None:
    metrics = ControllerMetrics()
    invalid = {"metadata": {"name": "broken"}, "status": {"currentPhase": "Invalid Spec"}}
    first = metrics.render(queue_depth=0, environments=[invalid], leader=True)
    kind = '{kind="EnvironmentProvisioner",name="broken"}'
    assert _sample(first, "tronador_controller_environment_ready", kind) == 0
    text = metrics.render(queue_depth=3, environments=[], leader=False)
    assert _sample(text, "tronador_controller_environments", '{phase="Invalid Spec"}') == 0
    assert _sample(text, "tronador_controller_queue_depth") == 3
    assert _sample(text, "tronador_controller_leader") == 0
    assert "tronador_controller_environment_ready{" not in text


def test_probes_and_metrics_of_a_running_controller(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.create_ep()
    cluster.server.faults.add(Fault(method="PATCH", path_regex=r"/status$", status=503, times=1))
    client = cluster.server.api_client()
    cluster.clients.append(client)
    replica = Replica(client, settings(), metrics_address="127.0.0.1:0")
    replica.health.start()  # type: ignore[union-attr]
    port = replica.health.port  # type: ignore[union-attr]
    try:
        assert _get(port, "/healthz") == (200, "ok\n")
        assert _get(port, "/readyz")[0] == 503  # caches not synced yet
        replica.start(sync_timeout=10)
        assert _get(port, "/readyz") == (200, "ok\n")
        cluster.wait(lambda: cluster.condition("Ready").get("status") is not None)
        cluster.wait_settled(replica.controller)
        status, text = _get(port, "/metrics")
        assert status == 200
        assert _sample(text, "tronador_controller_reconciles_total", '{result="error"}') >= 1
        assert _sample(text, "tronador_controller_reconciles_total", '{result="success"}') >= 1
        assert _sample(text, "tronador_controller_retries_total") >= 1
        assert _sample(text, "tronador_controller_api_errors_total", '{code="503"}') == 1
        assert _sample(text, "tronador_controller_reconcile_duration_seconds_count") >= 2
        assert _sample(text, "tronador_controller_queue_depth") == 0
        assert _sample(text, "tronador_controller_leader") == 1
        phase = '{phase="Waiting For Next Reconciliation Loop"}'
        assert _sample(text, "tronador_controller_environments", phase) == 1
        assert cluster.condition("Ready")["status"] != "True"  # no Flux to deploy the release
        ready = f'{{kind="EnvironmentProvisioner",name="{EP_NAME}"}}'
        assert _sample(text, "tronador_controller_environment_ready", ready) == 0
        families = parse_exposition(text)
        assert families["process_resident_memory_bytes"].type == "gauge"
        assert families["python_gc_collections_total"].samples
        assert _get(port, "/nothing")[0] == 404
    finally:
        replica.stop(timeout=5)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_a_failing_readiness_check_answers_500_not_a_hang() -> None:
    def broken() -> bool:
        raise RuntimeError("boom")

    server = HealthServer("127.0.0.1:0", ready=broken, metrics=lambda: "").start()
    try:
        assert _get(server.port, "/readyz")[0] == 500
        assert _get(server.port, "/healthz")[0] == 200
    finally:
        server.stop()
