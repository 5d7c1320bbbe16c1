"""Who may claim a tenant, on a real API server: the webhook (registered as installed, reading the
cluster's TronadorConfig as its own ServiceAccount) checks the requester of every create,
update and delete against `policy.tenant.owners`, the namespace label policy, and the controller
(as its ServiceAccount) holds `policy.tenant.maxEnvironments` exactly. Users are impersonated
(`Impersonate-User`/`Impersonate-Group`, as `kubectl --as/--as-group` does)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from controller.settings import ReleaseFlavour
from tests.controller.helpers import seed_config_dict, seed_ep_dict
from tests.realapi.controlplane import ControlPlane
from tests.realapi.kube import Obj, Rest, wait_for
from tests.realapi.webhook import ThreadedWebhook, serving_webhook
from tronador.api.constants import API_VERSION, CONFIG_NAME, DEFAULT_SYSTEM_NAMESPACE, EP_KIND

pytestmark = pytest.mark.realapi

CONFIG = (API_VERSION, "TronadorConfig", CONFIG_NAME, DEFAULT_SYSTEM_NAMESPACE)
PSA = "pod-security.kubernetes.io/enforce"
PSA_WARN = "pod-security.kubernetes.io/warn"
TENANCY = {
    "tenant": {
        "owners": {"veeru": {"groups": ["team-a"]}, "jai": {"groups": ["team-b"]}},
        "maxEnvironments": {"perTenant": {"jai": 5}},
    },
    "namespaceLabels": {"enforced": {PSA_WARN: "restricted"}},
}
EDITORS = "tenancy-ep-editors"


@pytest.fixture(scope="module")
def tenancy(
    control_plane: ControlPlane, installed: Rest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadedWebhook]:
    """The seed TronadorConfig with tenant owners, a cap and an enforced label; EP editors'
    RBAC for the groups team-a and team-b; the webhook serving it."""
    rest = installed
    original = seed_config_dict()["spec"]["policy"]
    policy = {**copy.deepcopy(original), **TENANCY}
    policy["tenant"] = {**original["tenant"], **TENANCY["tenant"]}
    rest.merge_patch(*CONFIG, {"spec": {"policy": policy}})
    rbac = client.RbacAuthorizationV1Api(rest.api)
    rbac.create_cluster_role(
        {
            "metadata": {"name": EDITORS},
            "rules": [
                {
                    "apiGroups": ["tronador.stakater.com"],
                    "resources": ["environmentprovisioners"],
                    "verbs": ["get", "list", "create", "update", "patch", "delete"],
                }
            ],
        }
    )
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": EDITORS},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": EDITORS,
            },
            "subjects": [
                {"kind": "Group", "name": group, "apiGroup": "rbac.authorization.k8s.io"}
                for group in ("team-a", "team-b")
            ],
        }
    )
    try:
        with serving_webhook(control_plane, installed, tmp_path_factory.mktemp("tls")) as hook:
            wait_for(lambda: _denied_as_team_a(rest), what="the webhook reading the new policy")
            yield hook
    finally:
        rest.merge_patch(*CONFIG, {"spec": {"policy": {"namespaceLabels": None}}})
        rest.merge_patch(*CONFIG, {"spec": {"policy": {"tenant": None}}})
        rest.merge_patch(*CONFIG, {"spec": {"policy": {"tenant": original["tenant"]}}})
        rbac.delete_cluster_role_binding(EDITORS)
        rbac.delete_cluster_role(EDITORS)


@contextmanager
def acting_as(plane: ControlPlane, user: str, group: str) -> Iterator[Rest]:
    api = plane.admin_client()
    api.set_default_header("Impersonate-User", user)
    api.set_default_header("Impersonate-Group", group)
    with api:
        yield Rest(api)


def an_ep(name: str, tenant: str, **labels: str) -> Obj:
    ep = seed_ep_dict()
    ep["metadata"]["name"] = name
    ep["spec"]["namespaceLabels"] = {
        **ep["spec"]["namespaceLabels"],
        "stakater.com/tenant": tenant,
        **labels,
    }
    return ep


def _denied_as_team_a(rest: Rest) -> bool:
    """Whether an admin-free claim of another tenant is refused yet (policy loaded)."""
    api = client.ApiClient(rest.api.configuration)
    api.set_default_header("Impersonate-User", "probe")
    api.set_default_header("Impersonate-Group", "team-a")
    with api:
        try:
            Rest(api).create(an_ep("tenancy-probe", "jai"), dry_run=True)
        except ApiException as err:
            return "tenant-owner" in str(err.body)
    return False


def denial(call: Any) -> str:
    with pytest.raises(ApiException) as denied:
        call()
    assert denied.value.status == 403, denied.value.body
    return str(denied.value.body)


def remove_without_controller(rest: Rest, name: str) -> None:
    """Delete as admin and take the cleanup finalizer off (no controller in these tests)."""
    try:
        rest.delete(API_VERSION, EP_KIND, name)
    except ApiException as err:
        if err.status != 404:
            raise
    if rest.get(API_VERSION, EP_KIND, name) is not None:
        rest.merge_patch(API_VERSION, EP_KIND, name, None, {"metadata": {"finalizers": None}})
    wait_for(lambda: rest.get(API_VERSION, EP_KIND, name) is None, what=f"{name} gone")


def test_the_label_attacks_are_denied_and_enforced_labels_win(
    controller_manager: ControlPlane, installed: Rest, tenancy: ThreadedWebhook
) -> None:
    with acting_as(controller_manager, "alice", "team-a") as alice:
        body = denial(
            lambda: alice.create(an_ep("tenancy-psa", "veeru", **{PSA: "privileged"}), dry_run=True)
        )
        assert PSA in body and "label-denied" in body
        enforced = alice.create(
            an_ep("tenancy-psa-warn", "veeru", **{PSA_WARN: "privileged"}), dry_run=True
        )
        assert enforced["spec"]["namespaceLabels"][PSA_WARN] == "restricted"
        body = denial(
            lambda: alice.create(
                an_ep("tenancy-capsule", "veeru", **{"capsule.clastix.io/tenant": "team-b"}),
                dry_run=True,
            )
        )
        assert "capsule.clastix.io/tenant" in body and "label-denied" in body
        body = denial(lambda: alice.create(an_ep("tenancy-other-tenant", "jai"), dry_run=True))
        assert "alice" in body and "'jai'" in body and "tenant-owner" in body


def test_a_tenant_is_bound_to_its_owners_and_admins(
    controller_manager: ControlPlane, installed: Rest, tenancy: ThreadedWebhook
) -> None:
    name = "tenancy-owned"
    try:
        with (
            acting_as(controller_manager, "alice", "team-a") as alice,
            acting_as(controller_manager, "bob", "team-b") as bob,
        ):
            alice.create(an_ep(name, "veeru"))
            relabel = {"spec": {"namespaceLabels": {"team": "bob-was-here"}}}
            body = denial(lambda: bob.merge_patch(API_VERSION, EP_KIND, name, None, relabel))
            assert "bob" in body and "may not update" in body
            body = denial(lambda: bob.delete(API_VERSION, EP_KIND, name))
            assert "may not delete" in body and "'veeru'" in body
            steal = {"spec": {"namespaceLabels": {"stakater.com/tenant": "jai"}}}
            denial(lambda: alice.merge_patch(API_VERSION, EP_KIND, name, None, steal))
            admin_change = {"spec": {"namespaceLabels": {"team": "ops"}}}
            installed.merge_patch(API_VERSION, EP_KIND, name, None, admin_change)
            alice.delete(API_VERSION, EP_KIND, name)
    finally:
        remove_without_controller(installed, name)


@pytest.mark.parametrize("replica", [ReleaseFlavour.FLUX_V2], indirect=True)
def test_six_at_once_against_a_cap_of_five_provision_exactly_five(
    installed: Rest, tenancy: ThreadedWebhook, replica: Any
) -> None:
    rest = installed
    names = [f"tenancy-cap-{index}" for index in range(6)]
    try:
        for name in names:
            rest.create(an_ep(name, "jai"))

        def conditions(name: str) -> dict[str, dict[str, Any]]:
            found = ((rest.get(API_VERSION, EP_KIND, name) or {}).get("status") or {}).get(
                "conditions"
            ) or []
            return {c["type"]: c for c in found}

        def settled() -> tuple[list[str], list[str]] | None:
            ready = [
                n for n in names if conditions(n).get("NamespaceReady", {}).get("status") == "True"
            ]
            waiting = [
                n for n in names if conditions(n).get("Ready", {}).get("reason") == "QuotaExceeded"
            ]
            return (ready, waiting) if len(ready) + len(waiting) == 6 else None

        try:
            ready, waiting = wait_for(settled, what="five provisioned, one waiting")
        except TimeoutError:
            raise AssertionError({n: conditions(n) for n in names}) from None
        assert len(ready) == 5 and len(waiting) == 1, (ready, waiting)
        assert rest.get("v1", "Namespace", waiting[0]) is None
        provisioned = rest.get("v1", "Namespace", ready[0]) or {}
        assert provisioned["metadata"]["labels"][PSA_WARN] == "restricted"  # enforced wins
        message = conditions(waiting[0])["Ready"]["message"]
        assert message.startswith("tenant 'jai' has 5 of 5 environments")

        rest.delete(API_VERSION, EP_KIND, ready[0])
        wait_for(
            lambda: conditions(waiting[0]).get("NamespaceReady", {}).get("status") == "True",
            60,
            "the waiting one provisioned once one went",
        )
    finally:
        for name in names:
            try:
                rest.delete(API_VERSION, EP_KIND, name)
            except ApiException as err:
                if err.status != 404:
                    raise
        for name in names:
            wait_for(lambda n=name: rest.get(API_VERSION, EP_KIND, n) is None, 60, f"{name} gone")
