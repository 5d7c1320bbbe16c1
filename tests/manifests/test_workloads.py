"""The pods: selectors, security, resources, availability, tokens and what they run."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from tests.manifests.checks import (
    availability_problems,
    controller_problems,
    invocation_problems,
    invocations,
    lifecycle_problems,
    resource_problems,
    security_problems,
    selector_problems,
    token_problems,
)
from tests.manifests.rbac import needs_by_account
from tests.manifests.render import Obj, find, of_kind, pod_spec, webhooks
from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE

NS = DEFAULT_SYSTEM_NAMESPACE
CONTROLLER = "Deployment/tronador-system/tronador-controller container controller"


def _deployment(objects: list[Obj], name: str) -> Obj:
    deployment = find(objects, "Deployment", name, NS)
    assert deployment is not None, f"Deployment {name} not rendered"
    return deployment


def _webhook_deployment(objects: list[Obj]) -> Obj:
    return _deployment(objects, "tronador-webhook")


def _needs_api(objects: list[Obj]) -> dict[tuple[str, str], bool]:
    return {account: bool(n.permissions) for account, n in needs_by_account(objects).items()}


# --- selectors ----------------------------------------------------------------------------------


def test_selectors_match_the_pods_they_mean(variant: list[Obj]) -> None:
    assert selector_problems(variant) == []


def test_selector_check_reports_a_deployment_not_matching_its_pods(base: list[Obj]) -> None:
    labels = _webhook_deployment(base)["spec"]["template"]["metadata"]["labels"]
    labels["app.kubernetes.io/component"] = "web-hook"
    problems = selector_problems(base)
    assert any("Deployment/tronador-system/tronador-webhook: selector" in p for p in problems)


def test_selector_check_reports_a_service_selecting_no_pods(base: list[Obj]) -> None:
    service = of_kind(base, "Service")[0]
    service["spec"]["selector"]["app.kubernetes.io/component"] = "webhooks"
    assert any("Service/" in p and "matches no" in p for p in selector_problems(base))


def test_selector_check_reports_a_pdb_selecting_no_pods(base: list[Obj]) -> None:
    pdb = of_kind(base, "PodDisruptionBudget")[0]
    pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "tronadr"
    assert any("PodDisruptionBudget/" in p for p in selector_problems(base))


def test_selector_check_reports_a_spread_constraint_on_other_pods(base: list[Obj]) -> None:
    spec = pod_spec(_webhook_deployment(base))
    spec["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] = {"app": "other"}
    assert any("topologySpreadConstraint" in p for p in selector_problems(base))


# --- security -----------------------------------------------------------------------------------


def test_every_container_runs_restricted(variant: list[Obj]) -> None:
    assert security_problems(variant) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("runAsNonRoot", False),
        ("runAsUser", 0),
        ("readOnlyRootFilesystem", False),
        ("allowPrivilegeEscalation", True),
        ("capabilities", {"drop": ["NET_RAW"]}),
        ("seccompProfile", {"type": "Unconfined"}),
        ("privileged", True),
    ],
)
def test_security_check_reports_each_weakened_setting(
    base: list[Obj], key: str, value: object
) -> None:
    container = pod_spec(_webhook_deployment(base))["initContainers"][0]
    container["securityContext"][key] = value
    problems = security_problems(base)
    assert len(problems) == 1, problems
    assert "container certs-init" in problems[0]


def test_security_check_reads_pod_level_defaults(base: list[Obj]) -> None:
    spec = pod_spec(_deployment(base, "tronador-controller"))
    del spec["containers"][0]["securityContext"]["seccompProfile"]
    assert security_problems(base) == []  # the pod's RuntimeDefault applies
    del spec["securityContext"]["seccompProfile"]
    assert security_problems(base) == [
        "Deployment/tronador-system/tronador-controller container controller: "
        "seccompProfile is not RuntimeDefault"
    ]


# --- resources, hooks, tokens ---------------------------------------------------------------------


def test_every_container_requests_cpu_and_memory_with_a_memory_limit(variant: list[Obj]) -> None:
    assert resource_problems(variant) == []


def test_resource_check_reports_a_missing_limit_or_one_below_the_request(base: list[Obj]) -> None:
    containers = pod_spec(_webhook_deployment(base))["containers"]
    del containers[0]["resources"]["limits"]
    containers[1]["resources"]["limits"]["memory"] = "16Mi"
    problems = resource_problems(base)
    assert len(problems) == 2
    assert "container webhook: no memory limit" in problems[0]
    assert "container certs: memory limit below its request" in problems[1]


def test_no_container_has_lifecycle_hooks_and_no_webhook_configuration_an_owner(
    variant: list[Obj],
) -> None:
    assert lifecycle_problems(variant) == []


def test_lifecycle_check_reports_a_pre_stop_hook(base: list[Obj]) -> None:
    container = pod_spec(_webhook_deployment(base))["containers"][0]
    container["lifecycle"] = {"preStop": {"exec": {"command": ["tronador", "uninstall"]}}}
    assert lifecycle_problems(base) == [
        "Deployment/tronador-system/tronador-webhook container webhook: has a preStop hook"
    ]


def test_lifecycle_check_reports_a_webhook_configuration_owned_by_a_pod(base: list[Obj]) -> None:
    config, _ = next(webhooks(base))
    config["metadata"]["ownerReferences"] = [{"kind": "Pod", "name": "p", "uid": "u"}]
    assert len(lifecycle_problems(base)) == 1


def test_tokens_are_mounted_only_where_the_code_calls_the_api(variant: list[Obj]) -> None:
    assert token_problems(variant, _needs_api(variant)) == []


def test_token_check_reports_a_token_mounted_for_nothing(base: list[Obj]) -> None:
    needs = _needs_api(base)
    needs[NS, "tronador-webhook"] = False
    problems = token_problems(base, needs)
    assert problems == [
        "Deployment/tronador-system/tronador-webhook: never calls the API but mounts a token"
    ]


def test_token_check_reports_a_service_account_mounting_by_default(base: list[Obj]) -> None:
    del of_kind(base, "ServiceAccount")[0]["automountServiceAccountToken"]
    assert len(token_problems(base, _needs_api(base))) == 1


# --- what the containers run ----------------------------------------------------------------------


def test_every_container_runs_a_tronador_command_its_parser_accepts(variant: list[Obj]) -> None:
    assert invocation_problems(variant) == []


def test_webhook_reads_its_namespace_from_the_downward_api(base: list[Obj]) -> None:
    server = next(i for i in invocations(base) if i.command == "webhook")
    assert server.args is not None
    assert server.args.namespace == NS
    env = {e["name"]: e for e in server.container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_invocation_check_reports_an_unknown_subcommand(base: list[Obj]) -> None:
    pod_spec(_webhook_deployment(base))["containers"][0]["args"] = ["serve"]
    problems = invocation_problems(base)
    assert len(problems) == 1
    assert "invalid choice: 'serve'" in problems[0]


def test_invocation_check_reports_a_command_replacing_the_entrypoint(base: list[Obj]) -> None:
    pod_spec(_webhook_deployment(base))["containers"][0]["command"] = ["python", "-m", "webhook"]
    assert invocation_problems(base) == [
        "Deployment/tronador-system/tronador-webhook container webhook: overrides the command"
    ]


# --- availability -------------------------------------------------------------------------------


def test_webhook_is_highly_available(variant: list[Obj]) -> None:
    assert availability_problems(variant) == []


def test_availability_check_reports_a_single_replica(base: list[Obj]) -> None:
    _webhook_deployment(base)["spec"]["replicas"] = 1
    problems = availability_problems(base)
    assert any("1 replica(s)" in p for p in problems)


def test_availability_check_reports_a_missing_or_blocking_pdb(base: list[Obj]) -> None:
    pdb = find(base, "PodDisruptionBudget", "tronador-webhook", NS)
    assert pdb is not None
    pdb["spec"]["minAvailable"] = 2  # with 2 replicas: no node could ever be drained
    assert any("minAvailable 2" in p for p in availability_problems(base))
    base.remove(pdb)
    assert availability_problems(base) == [
        "Deployment/tronador-system/tronador-webhook: no PodDisruptionBudget"
    ]


def test_availability_check_covers_a_controller_with_standbys(base: list[Obj]) -> None:
    base.remove(find(base, "PodDisruptionBudget", "tronador-controller", NS))
    assert availability_problems(base) == [
        "Deployment/tronador-system/tronador-controller: no PodDisruptionBudget"
    ]


def test_availability_check_reports_missing_spread_and_unsafe_rollouts(base: list[Obj]) -> None:
    spec = _webhook_deployment(base)["spec"]
    del spec["template"]["spec"]["topologySpreadConstraints"]
    spec["strategy"]["rollingUpdate"]["maxUnavailable"] = 1
    problems = availability_problems(base)
    assert any("topologySpreadConstraint" in p for p in problems)
    assert any("maxUnavailable" in p for p in problems)


# --- the controller ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def health() -> Iterator[Callable[[str, bool], int]]:
    """The controller's real health server: path, ready -> the HTTP status it answers."""
    from controller.health import HealthServer

    state = {"ready": False}
    server = HealthServer("127.0.0.1:0", ready=lambda: state["ready"], metrics=str).start()

    def answer(path: str, ready: bool) -> int:
        state["ready"] = ready
        url = f"http://127.0.0.1:{server.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        yield answer
    finally:
        server.stop()


def _controller(objects: list[Obj]) -> Obj:
    return pod_spec(_deployment(objects, "tronador-controller"))["containers"][0]


def test_controllers_never_write_at_once_and_are_probed(
    variant: list[Obj], health: Callable[[str, bool], int]
) -> None:
    assert controller_problems(variant, health) == []


def test_controller_check_reports_standbys_without_leader_election(
    base: list[Obj], health: Callable[[str, bool], int]
) -> None:
    _controller(base)["args"][1] = "--no-leader-elect"
    assert controller_problems(base, health) == [
        f"{CONTROLLER}: 2 replicas without --leader-elect",
        f"{CONTROLLER}: without --leader-elect, a rollout overlaps two",
    ]


def test_controller_check_reports_an_identity_not_naming_the_pod(
    base: list[Obj], health: Callable[[str, bool], int]
) -> None:
    env = _controller(base)["env"]
    env[:] = [e for e in env if e["name"] != "POD_NAME"]
    assert controller_problems(base, health) == [
        f"{CONTROLLER}: POD_NAME is not the pod's name (election identity)"
    ]


def test_controller_check_reports_probes_that_do_not_gate(
    base: list[Obj], health: Callable[[str, bool], int]
) -> None:
    container = _controller(base)
    container["readinessProbe"]["httpGet"]["path"] = "/healthz"
    container["livenessProbe"]["httpGet"]["path"] = "/readyz"
    assert controller_problems(base, health) == [
        f"{CONTROLLER}: readinessProbe path /healthz passes while not ready",
        f"{CONTROLLER}: livenessProbe path /readyz fails while not ready",
    ]


def test_controller_check_reports_probes_missing_the_health_server(
    base: list[Obj], health: Callable[[str, bool], int]
) -> None:
    container = _controller(base)
    container["readinessProbe"]["httpGet"]["path"] = "/ready"
    container["args"][-1] = ":9090"
    problems = controller_problems(base, health)
    assert f"{CONTROLLER}: readinessProbe path /ready answers 404" in problems
    assert f"{CONTROLLER}: livenessProbe port 'http' is not 9090" in problems
