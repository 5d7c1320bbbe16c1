"""The ArgoCD health check, run in a real Lua 5.1 (ArgoCD's gopher-lua is Lua 5.1) on statuses
our controller's own status code builds for each state it can report."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from controller.status import (
    NAMESPACE_READY,
    PHASE_COPYING_SECRETS,
    PHASE_CREATING_NAMESPACE,
    PHASE_CREATING_RELEASE,
    PHASE_DELETING,
    PHASE_INVALID,
    PHASE_WAITING,
    READY,
    RELEASE_READY,
    SECRETS_READY,
    ApplicationState,
    StatusReport,
    StepOutcome,
    build_status,
    flux_application_state,
    legacy_application_state,
)
from tests.controller.harness import RELEASE, flux_status, legacy_status
from tests.manifests.render import MANIFESTS, need_kubectl, render
from tronador.api import EnvironmentProvisionerStatus

COMPONENT = MANIFESTS / "components" / "argocd"
PATCH = COMPONENT / "argocd-cm.yaml"
EP_KEY = "resource.customizations.health.tronador.stakater.com_EnvironmentProvisioner"
ENVIRONMENT_KEY = "resource.customizations.health.tronador.stakater.com_Environment"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OK_NS = StepOutcome.ok("NamespaceReady", "Namespace 'pr-1' is ready")
OK_SECRETS = StepOutcome.ok("SecretsCopied", "Secrets copied")


def _script(key: str = EP_KEY) -> str:
    script: str = yaml.safe_load(PATCH.read_text())["data"][key]
    return script


def health(obj: dict[str, Any], script: str | None = None) -> tuple[str, str]:
    """(status, message) the script gives for `obj`, as ArgoCD runs it: `obj` a global table."""
    lua = lua51.LuaRuntime(unpack_returned_tuples=False)
    assert lua.eval("_VERSION") == "Lua 5.1"
    lua.globals().obj = lua.table_from(copy.deepcopy(obj), recursive=True)
    result = lua.execute(script or _script())
    return str(result["status"]), str(result["message"])


def _ep(
    report: StatusReport | None,
    *,
    generation: int = 1,
    previous: EnvironmentProvisionerStatus | None = None,
    observed: int | None = None,
) -> dict[str, Any]:
    """An EP whose status is what build_status makes of `report` (None: no status yet)."""
    ep: dict[str, Any] = {
        "apiVersion": "tronador.stakater.com/v1alpha1",
        "kind": "EnvironmentProvisioner",
        "metadata": {"name": "pr-1", "generation": generation},
    }
    if report is not None:
        status = build_status(previous, report, observed or generation, NOW)
        ep["status"] = status.model_dump(by_alias=True, exclude_none=True, mode="json")
    return ep


def _release(application: ApplicationState, phase: str = PHASE_WAITING) -> StatusReport:
    steps = {NAMESPACE_READY: OK_NS, SECRETS_READY: OK_SECRETS, RELEASE_READY: application.outcome}
    return StatusReport(phase, steps, application=application)


def _flux_hr(status: dict[str, Any] | None, generation: int = 1) -> dict[str, Any]:
    hr: dict[str, Any] = {"metadata": {"name": RELEASE, "generation": generation}}
    if status is not None:
        hr["status"] = status
    return hr


def _failed_source() -> dict[str, Any]:
    return {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "GitOperationFailed",
                    "message": "failed to checkout and determine revision: authentication required",
                }
            ]
        }
    }


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("no status yet", _ep(None), "Progressing", "Waiting for the controller"),
    (
        "flux: deployed",
        _ep(_release(flux_application_state(_flux_hr(flux_status(1)), RELEASE))),
        "Healthy",
        "Helm install succeeded",  # the release's own message
    ),
    (
        "flux: release failed",
        _ep(_release(flux_application_state(_flux_hr(flux_status(1, False)), RELEASE))),
        "Degraded",
        "InstallFailed: Helm install failed",
    ),
    (
        "flux: release progressing",
        _ep(
            _release(
                flux_application_state(
                    _flux_hr(
                        {
                            "observedGeneration": 1,
                            "conditions": [
                                {
                                    "type": "Ready",
                                    "status": "Unknown",
                                    "reason": "Progressing",
                                    "message": "Fulfilling prerequisites",
                                }
                            ],
                        }
                    ),
                    RELEASE,
                ),
                PHASE_CREATING_RELEASE,
            )
        ),
        "Progressing",
        "Fulfilling prerequisites",
    ),
    (
        "flux: release not observed by Flux yet",
        _ep(_release(flux_application_state(_flux_hr(None), RELEASE), PHASE_CREATING_RELEASE)),
        "Progressing",
        "Waiting for Flux",
    ),
    (
        "flux: chart fetch failed",
        _ep(_release(flux_application_state(_flux_hr(None), RELEASE, _failed_source()))),
        "Degraded",
        "GitOperationFailed",
    ),
    (
        "legacy: deployed",
        _ep(_release(legacy_application_state(_flux_hr(legacy_status(1)), RELEASE))),
        "Healthy",
        "Release was successful",
    ),
    (
        "legacy: deploy failed",
        _ep(_release(legacy_application_state(_flux_hr(legacy_status(1, False)), RELEASE))),
        "Degraded",
        "DeployFailed",
    ),
    (
        "legacy: chart fetch failed",
        _ep(
            _release(
                legacy_application_state(
                    _flux_hr(
                        {
                            "observedGeneration": 1,
                            "phase": "ChartFetchFailed",
                            "conditions": [
                                {
                                    "type": "ChartFetched",
                                    "status": "False",
                                    "reason": "ChartFetchFailed",
                                    "message": "chart not found",
                                }
                            ],
                        }
                    ),
                    RELEASE,
                )
            )
        ),
        "Degraded",
        "ChartFetchFailed: chart not found",
    ),
    (
        "namespace owned by someone else",
        _ep(
            StatusReport(
                PHASE_CREATING_NAMESPACE,
                {NAMESPACE_READY: StepOutcome.failed("NamespaceConflict", "Namespace exists")},
            )
        ),
        "Degraded",
        "NamespaceConflict",
    ),
    (
        "namespace terminating",
        _ep(
            StatusReport(
                PHASE_CREATING_NAMESPACE,
                {NAMESPACE_READY: StepOutcome.waiting("NamespaceTerminating", "being deleted")},
            )
        ),
        "Progressing",
        "NamespaceTerminating",
    ),
    (
        "a secret not provided",
        _ep(
            StatusReport(
                PHASE_COPYING_SECRETS,
                {
                    NAMESPACE_READY: OK_NS,
                    SECRETS_READY: StepOutcome.failed("SecretNotProvided", "no secret 'x'"),
                },
            )
        ),
        "Degraded",
        "SecretNotProvided",
    ),
    (
        "provisioning half done",
        _ep(StatusReport(PHASE_COPYING_SECRETS, {NAMESPACE_READY: OK_NS})),
        "Progressing",
        "Provisioning has not finished",
    ),
    (
        "invalid spec",
        _ep(
            StatusReport(
                PHASE_INVALID,
                {READY: StepOutcome.failed("InvalidSpec", "The EnvironmentProvisioner is invalid")},
            )
        ),
        "Degraded",
        "InvalidSpec",
    ),
    (
        "being removed (expired or deleted)",
        _ep(
            StatusReport(
                PHASE_DELETING,
                {RELEASE_READY: StepOutcome.waiting("Uninstalling", "Waiting for Flux")},
            )
        ),
        "Suspended",
        "being removed",
    ),
    (
        "a new generation not observed yet",
        _ep(
            _release(flux_application_state(_flux_hr(flux_status(1)), RELEASE)),
            generation=2,
            observed=1,
        ),
        "Progressing",
        "generation 2",
    ),
]


@pytest.mark.parametrize(("what", "ep", "expected", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_reported_state_maps_to_its_argocd_health(
    what: str, ep: dict[str, Any], expected: str, message: str
) -> None:
    status, text = health(ep)
    assert (status, message in text) == (expected, True), f"{what}: {status} {text!r}"


def test_every_argocd_health_is_reachable() -> None:
    assert {expected for _, _, expected, _ in CASES} == {
        "Healthy", "Progressing", "Degraded", "Suspended"
    }  # fmt: skip


def test_every_phase_the_controller_reports_is_covered() -> None:
    phases = {ep.get("status", {}).get("currentPhase") for _, ep, _, _ in CASES}
    reported = {
        PHASE_CREATING_NAMESPACE,
        PHASE_COPYING_SECRETS,
        PHASE_CREATING_RELEASE,
        PHASE_WAITING,
        PHASE_INVALID,
        PHASE_DELETING,
    }
    assert reported <= phases


def test_the_environment_kind_gets_the_same_script() -> None:
    assert _script(ENVIRONMENT_KEY) == _script(EP_KEY)
    failed = CASES[2][1] | {"kind": "Environment"}
    assert health(failed, _script(ENVIRONMENT_KEY))[0] == "Degraded"


def test_the_component_patches_argocd_cm_and_keeps_its_other_settings(tmp_path: Path) -> None:
    need_kubectl()
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
        "data": {"url": "https://argocd.example.com"},
    }
    (tmp_path / "argocd-cm.yaml").write_text(yaml.safe_dump(cm))
    # kustomize loads components by a relative path only.
    relative = Path(*[".."] * (len(tmp_path.parts) - 1)) / COMPONENT.relative_to(COMPONENT.anchor)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["argocd-cm.yaml"],
        "components": [str(relative)],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    (patched,) = render(tmp_path)
    assert patched["data"]["url"] == "https://argocd.example.com"
    assert patched["data"][EP_KEY] == _script(EP_KEY)
    assert patched["data"][ENVIRONMENT_KEY] == _script(EP_KEY)
