"""What each admission route decides, by calling the shared rules unchanged.

Admission-level scoping lives here, not in the rules: which operations are checked, that the
status subresource is not re-checked against spec rules, and that an object already being
deleted can have its finalizers removed even if the policy has changed since it was created.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tronador.api import Policy
from tronador.api.constants import (
    CONFIG_KIND,
    CONFIG_PLURAL,
    ENV_KIND,
    ENV_PLURAL,
    ENV_VERSION,
    EP_KIND,
    EP_PLURAL,
    GROUP,
    VERSION,
)
from tronador.rules.config_rules import validate_tronador_config
from tronador.rules.findings import Findings, Severity, field_path
from tronador.rules.mutate import mutate_environment, mutate_environment_provisioner
from tronador.rules.tenancy import SERVICE_ACCOUNT_PREFIX, owner_problem
from tronador.rules.validate import validate_environment, validate_environment_provisioner
from webhook import routes, verdict
from webhook.review import AdmissionRequest, GroupVersionResource, Operation
from webhook.verdict import Verdict

Admit = Callable[[AdmissionRequest, Policy | None], Verdict]
"""Decides one request under the current policy (None while the policy is not yet known)."""

POLICY_UNKNOWN = "the webhook has not loaded the cluster's policy yet; retry shortly"

ServedKinds = Callable[[str, str], bool | None]
"""served(apiVersion, kind): whether the cluster serves that kind (None: unknown)."""


@dataclass(frozen=True, slots=True)
class Admitter:
    """One admission route: the resource it accepts and how it decides."""

    resource: GroupVersionResource
    kind: str
    admit: Admit

    def wrong_target(self, request: AdmissionRequest) -> Verdict | None:
        """A denial when the request is about something this route does not handle."""
        if request.resource != self.resource:
            return verdict.bad_request(
                f"this endpoint admits {self.resource}, not {request.resource}"
            )
        if request.kind.kind != self.kind or request.kind.group != self.resource.group:
            return verdict.bad_request(
                f"this endpoint admits {self.resource.group} {self.kind}, not {request.kind}"
            )
        return None


def _object_to_check(request: AdmissionRequest) -> dict[str, Any] | Verdict:
    """The object the rules must check, or the verdict given without checking it."""
    if request.operation not in (Operation.CREATE, Operation.UPDATE) or request.sub_resource:
        return verdict.ALLOWED
    if request.object is None:
        return verdict.bad_request(f"request.object is required for {request.operation}")
    if request.operation is Operation.UPDATE and request.old_object is None:
        return verdict.bad_request("request.oldObject is required for UPDATE")
    if _finalizing(request):
        return verdict.ALLOWED
    return request.object


def _finalizing(request: AdmissionRequest) -> bool:
    """An update to an object already being deleted that leaves its spec alone (finalizer
    removal): blocking it under a newer policy would leave the object stuck."""
    old = request.old_object
    if old is None or request.object is None:
        return False
    metadata = old.get("metadata")
    deleting = isinstance(metadata, dict) and bool(metadata.get("deletionTimestamp"))
    return deleting and request.object.get("spec") == old.get("spec")


def _object_and_policy(
    request: AdmissionRequest, policy: Policy | None
) -> tuple[dict[str, Any], Policy] | Verdict:
    """The object to judge and the policy to judge it by, or the answer when either is
    missing (a malformed object; no policy synced yet)."""
    obj = _object_to_check(request)
    if isinstance(obj, Verdict):
        return obj
    if policy is None:
        return verdict.unavailable(POLICY_UNKNOWN)
    return obj, policy


def _old(request: AdmissionRequest) -> dict[str, Any] | None:
    return request.old_object if request.operation is Operation.UPDATE else None


def mutate_environment_provisioner_request(
    request: AdmissionRequest, policy: Policy | None
) -> Verdict:
    checked = _object_and_policy(request, policy)
    if isinstance(checked, Verdict):
        return checked
    return verdict.allow(mutate_environment_provisioner(*checked))


Validate = Callable[[Any, Policy, Any], Findings]


def validating(validate: Validate, controller: str | None = None) -> Admit:
    """A validating route for an EP or Environment: `validate`'s rules on create and update,
    and on every create, update and delete the tenant owner check (the requester must own the
    tenant of the object as it is and as it will be; `controller` and admins are exempt)."""

    def admit(request: AdmissionRequest, policy: Policy | None) -> Verdict:
        if request.operation is Operation.DELETE and not request.sub_resource:
            return _admit_delete(request, policy, controller)
        checked = _object_and_policy(request, policy)
        if isinstance(checked, Verdict):
            return checked
        obj, known = checked
        findings = validate(obj, known, _old(request))
        verb = "create" if request.operation is Operation.CREATE else "update"
        for claimed in (request.object, _old(request)):
            if claimed is not None:
                _deny_owner(findings, request, claimed, known, controller, verb)
        return verdict.from_findings(findings)

    return admit


def _admit_delete(
    request: AdmissionRequest, policy: Policy | None, controller: str | None
) -> Verdict:
    if policy is None:
        return verdict.unavailable(POLICY_UNKNOWN)
    if request.old_object is None:
        return verdict.ALLOWED  # the API server sends the object; nothing to bind it to
    findings = Findings()
    _deny_owner(findings, request, request.old_object, policy, controller, "delete")
    return verdict.from_findings(findings)


def _deny_owner(
    findings: Findings,
    request: AdmissionRequest,
    obj: dict[str, Any],
    policy: Policy,
    controller: str | None,
    verb: str,
) -> None:
    problem = owner_problem(request.user, obj, policy, controller, verb)
    if problem and not any(v.rule == "tenant-owner" for v in findings.violations):
        path = field_path(("spec", "namespaceLabels", policy.tenant.label_key))
        findings.deny(path, "tenant-owner", problem, Severity.POLICY)


def mutate_environment_request(request: AdmissionRequest, policy: Policy | None) -> Verdict:
    checked = _object_and_policy(request, policy)
    if isinstance(checked, Verdict):
        return checked
    mutation = mutate_environment(*checked)
    return verdict.allow(mutation.patch, mutation.warnings)


def unserved_kind_warnings(config: dict[str, Any], served: ServedKinds) -> list[str]:
    """A warning per `spec.secrets` item of a kind the cluster does not serve: the controller
    could not create it (it reports KindNotServed on the EPs that need it)."""
    spec = config.get("spec")
    items = spec.get("secrets") if isinstance(spec, dict) else None
    warnings = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or item.get("kind") in (None, "Secret"):
            continue
        api_version, kind = str(item.get("apiVersion")), str(item.get("kind"))
        if served(api_version, kind) is False:
            warnings.append(
                f"spec.secrets[{index}]: {kind} ({api_version}) is not served by this cluster; "
                f"install its CRD"
            )
    return warnings


def tronador_config_admit(namespace: str, served: ServedKinds | None = None) -> Admit:
    """Validation of TronadorConfigs; `namespace` is where Tronador runs (the singleton's).
    With `served` (the webhook watches a cluster), a valid config naming a kind the cluster
    does not serve is admitted with a warning."""

    def admit(request: AdmissionRequest, policy: Policy | None) -> Verdict:
        obj = _object_to_check(request)
        if isinstance(obj, Verdict):
            return obj
        answer = verdict.from_findings(validate_tronador_config(obj, namespace))
        if served is None or not answer.allowed:
            return answer
        extra = unserved_kind_warnings(obj, served)
        if not extra:
            return answer
        warnings = verdict.shorten_warnings([*answer.warnings, *extra])
        return dataclasses.replace(answer, warnings=warnings)

    return admit


EP_RESOURCE = GroupVersionResource(GROUP, VERSION, EP_PLURAL)
ENV_RESOURCE = GroupVersionResource(GROUP, ENV_VERSION, ENV_PLURAL)
CONFIG_RESOURCE = GroupVersionResource(GROUP, VERSION, CONFIG_PLURAL)


CONTROLLER_ACCOUNT = "tronador-controller"


def admitters(namespace: str, served: ServedKinds | None = None) -> dict[str, Admitter]:
    """Route path -> admitter: the server's admission routes. The controller (its
    ServiceAccount in `namespace`) acts for every tenant."""
    controller = f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{CONTROLLER_ACCOUNT}"
    return {
        routes.MUTATE_ENVIRONMENT_PROVISIONERS: Admitter(
            EP_RESOURCE, EP_KIND, mutate_environment_provisioner_request
        ),
        routes.VALIDATE_ENVIRONMENT_PROVISIONERS: Admitter(
            EP_RESOURCE, EP_KIND, validating(validate_environment_provisioner, controller)
        ),
        routes.MUTATE_ENVIRONMENTS: Admitter(ENV_RESOURCE, ENV_KIND, mutate_environment_request),
        routes.VALIDATE_ENVIRONMENTS: Admitter(
            ENV_RESOURCE, ENV_KIND, validating(validate_environment, controller)
        ),
        routes.VALIDATE_TRONADOR_CONFIGS: Admitter(
            CONFIG_RESOURCE, CONFIG_KIND, tronador_config_admit(namespace, served)
        ),
    }
