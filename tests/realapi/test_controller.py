"""The controller on a real API server, running as its ServiceAccount with the RBAC of
`kubectl kustomize manifests/` (aggregated by the real controller manager) and leader election
on its Lease: the seed EP from create to deployed (Flux's part played by the test, as in the
emulator tests) to deleted, namespace gone. Every 403 the API server answered the controller,
wherever the controller swallowed or retried it, is read from the audit log and fails the test."""

from __future__ import annotations

import base64
import collections
import copy
import time
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from controller.desired import ownership_labels
from controller.runtime import Replica
from controller.settings import ReleaseFlavour
from tests.controller.harness import RELEASE, SUCCESS_MESSAGE, flux_status, legacy_status, settings
from tests.realapi.controller import CONTROLLER_USER, ELECTION, RESYNC
from tests.realapi.controlplane import ControlPlane
from tests.realapi.kube import Obj, Rest, documents, wait_for
from tests.seeds import REPO_ROOT, seed_environment_provisioner
from tronador.api.constants import (
    API_VERSION,
    ENV_API_VERSION,
    ENV_KIND,
    EP_KIND,
    FINALIZER,
    OWNER_UID_ANNOTATION,
)

pytestmark = pytest.mark.realapi

RELEASE_KIND = {
    ReleaseFlavour.LEGACY: ("helm.fluxcd.io/v1", "HelmRelease"),
    ReleaseFlavour.FLUX_V2: ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
}
WRITES = ("create", "update", "patch", "delete")


def the_seed_ep() -> tuple[Obj, dict[str, Any]]:
    """The seed EP to create and the status the seed says it reaches when deployed."""
    ep = seed_environment_provisioner()
    return ep, ep.pop("status")


def play_flux(rest: Rest, release: Obj, flavour: ReleaseFlavour) -> None:
    """Write the HelmRelease status as Flux would (its status subresource)."""
    generation = release["metadata"].get("generation", 1)
    played = copy.deepcopy(release)
    played["status"] = (
        legacy_status(generation) if flavour is ReleaseFlavour.LEGACY else flux_status(generation)
    )
    rest.replace(played, subresource="status")


@pytest.mark.parametrize("replica", list(ReleaseFlavour), indirect=True)
def test_seed_ep_from_create_to_deployed_to_deleted_with_no_forbidden_request(
    controller_manager: ControlPlane, installed: Rest, replica: Replica
) -> None:
    rest = installed
    flavour = replica.controller.settings.flavour
    denied_before = len(controller_manager.denied_requests(CONTROLLER_USER))
    ep, seed_status = the_seed_ep()
    name = ep["metadata"]["name"]
    created = rest.create(ep)
    release_kind = RELEASE_KIND[flavour]

    release = wait_for(lambda: rest.get(*release_kind, RELEASE, name), what="the HelmRelease")
    namespace = rest.get("v1", "Namespace", name)
    assert namespace is not None
    labels = namespace["metadata"]["labels"]
    assert {k: labels[k] for k in ("kind", "team", "stakater.com/tenant")} == seed_status[
        "namespaceLabels"
    ]
    assert namespace["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    auth = rest.get("v1", "Secret", "nordmart-git-auth", name)
    assert auth is not None and base64.b64decode(auth["data"]["username"]) == b"bot"
    assert rest.get("v1", "Secret", "nexus-pull-secret", name) is not None
    wait_for(
        lambda: (
            (rest.get("v1", "ServiceAccount", "default", name) or {}).get("imagePullSecrets")
            == [{"name": "nexus-pull-secret"}]
        ),
        what="the default ServiceAccount with the pull secret",
    )
    if flavour is ReleaseFlavour.FLUX_V2:
        assert rest.get("source.toolkit.fluxcd.io/v1", "GitRepository", RELEASE, name)

    # The real Flux v2 CRD defaults a new HelmRelease's status to {observedGeneration: -1}
    # (the emulator does not apply CRD defaults): "progressing", where the legacy one is "pending".
    waiting = "pending" if flavour is ReleaseFlavour.LEGACY else "progressing"
    wait_for(
        lambda: _status(rest, name).get("applicationStatus") == waiting,
        what=f"status {waiting} before Flux acts",
    )
    play_flux(rest, release, flavour)
    wait_for(
        lambda: _status(rest, name).get("applicationStatus") == "deployed",
        what="status deployed",
    )
    status = _status(rest, name)
    if flavour is ReleaseFlavour.LEGACY:
        assert {k: status[k] for k in seed_status} == seed_status
        assert status["applicationStatusMsg"] == SUCCESS_MESSAGE
    else:
        assert {k: status[k] for k in seed_status if k != "applicationStatusMsg"} == {
            k: v for k, v in seed_status.items() if k != "applicationStatusMsg"
        }
    stored = rest.get(API_VERSION, EP_KIND, name)
    assert stored is not None and FINALIZER in stored["metadata"]["finalizers"]
    assert _idle_writes(controller_manager) == []

    rest.delete(API_VERSION, EP_KIND, name)
    wait_for(lambda: rest.get(API_VERSION, EP_KIND, name) is None, 60, "the EP gone")
    wait_for(lambda: rest.get("v1", "Namespace", name) is None, 90, "the namespace gone")
    assert controller_manager.denied_requests(CONTROLLER_USER)[denied_before:] == []


def _idle_writes(plane: ControlPlane, seconds: float = 6 * RESYNC) -> list[str]:
    """The controller's writes (leader election's aside) while nothing changes for several
    resyncs, once it has settled: every apply it would make is skipped."""

    def writes() -> list[str]:
        return [
            f"{verb} {uri}"
            for verb, uri, _ in plane.requests(CONTROLLER_USER)
            if verb in WRITES and "/leases/" not in uri and "/events" not in uri
        ]

    time.sleep(seconds)  # settle: the last status write is answered and seen
    before = len(writes())
    time.sleep(seconds)
    return writes()[before:]


def _status(rest: Rest, name: str) -> dict[str, Any]:
    try:
        ep = rest.get(API_VERSION, EP_KIND, name)
    except ApiException:
        return {}
    return (ep or {}).get("status") or {}


@pytest.mark.parametrize("replica", [ReleaseFlavour.FLUX_V2], indirect=True)
def test_fields_another_manager_set_survive_our_reconcile(
    controller_manager: ControlPlane, installed: Rest, replica: Replica
) -> None:
    """A label someone else put on the namespace and the pull secrets someone else put on the
    default ServiceAccount stay when the controller applies both again. What we write is a
    server-side apply by `tronador`; the ServiceAccount's imagePullSecrets is an atomic list on
    the real API server (owned whole by whoever set it last), so once someone replaces it the
    controller leaves it to them, never forcing, and says so in SecretsReady."""
    rest = installed
    ep, _ = the_seed_ep()
    name = ep["metadata"]["name"] = "realapi-other-managers"
    rest.create(ep)
    try:
        account = wait_for(
            lambda: _with_pull_secrets(rest.get("v1", "ServiceAccount", "default", name)),
            what="our pull secret on the default ServiceAccount",
        )
        assert account["imagePullSecrets"] == [{"name": "nexus-pull-secret"}]
        assert _applied_by_us(account)
        namespace = rest.get("v1", "Namespace", name)
        assert namespace is not None and _applied_by_us(namespace)
        release = wait_for(  # the release step follows the secrets step: wait, not read at once
            lambda: rest.get("helm.toolkit.fluxcd.io/v2", "HelmRelease", RELEASE, name),
            what="the HelmRelease",
        )
        assert _applied_by_us(release)
        rest.merge_patch(
            "v1", "Namespace", name, None, {"metadata": {"labels": {"example.com/owner": "ops"}}}
        )
        # Someone replaces the list: theirs in, ours out.
        rest.merge_patch(
            "v1", "ServiceAccount", "default", name, {"imagePullSecrets": [{"name": "theirs"}]}
        )
        # A change of the EP's namespaceLabels makes the controller apply the namespace again.
        rest.merge_patch(
            API_VERSION, EP_KIND, name, None, {"spec": {"namespaceLabels": {"team": "thakur"}}}
        )
        labels = wait_for(
            lambda: _labels_if(rest, name, team="thakur"), what="the namespace relabelled"
        )
        assert labels["example.com/owner"] == "ops"
        message = wait_for(
            lambda: _condition_message(rest, name, "SecretsReady", ".imagePullSecrets"),
            what="the pull secret list reported as left to its new owner",
        )
        assert "ServiceAccount 'default' .imagePullSecrets (owned by " in message
        account = rest.get("v1", "ServiceAccount", "default", name) or {}
        assert account["imagePullSecrets"] == [{"name": "theirs"}]
    finally:
        rest.delete(API_VERSION, EP_KIND, name)
        wait_for(lambda: rest.get(API_VERSION, EP_KIND, name) is None, 60, "the EP gone")


@pytest.mark.parametrize("replica", [ReleaseFlavour.FLUX_V2], indirect=True)
def test_a_label_another_manager_applied_is_left_to_it_and_the_rest_provisions(
    controller_manager: ControlPlane, installed: Rest, replica: Replica
) -> None:
    """Another manager (kubectl apply --server-side, its own field manager) owns a namespace
    label whose value the EP then wants different: the controller does not take it (no force),
    names the field and the manager in NamespaceReady, and provisions the rest."""
    rest = installed
    ep, _ = the_seed_ep()
    name = ep["metadata"]["name"] = "realapi-label-conflict"
    rest.create(ep)
    try:
        wait_for(lambda: rest.get("v1", "Namespace", name), what="the namespace")
        ops = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        ops["metadata"]["labels"] = {"cost-center": "ops-42"}
        rest.apply(ops, "kubectl-ops")
        wanted = {"cost-center": "pr-74", "extra": "yes"}
        rest.merge_patch(API_VERSION, EP_KIND, name, None, {"spec": {"namespaceLabels": wanted}})
        labels = wait_for(lambda: _labels_if(rest, name, extra="yes"), what="the other label")
        assert labels["cost-center"] == "ops-42"
        message = wait_for(
            lambda: _condition_message(rest, name, "NamespaceReady", "cost-center"),
            what="the label reported as left to kubectl-ops",
        )
        assert ".metadata.labels.cost-center (owned by 'kubectl-ops')" in message
        wait_for(
            lambda: rest.get("helm.toolkit.fluxcd.io/v2", "HelmRelease", RELEASE, name),
            what="the HelmRelease",
        )
        status = _status(rest, name)
        assert status["namespaceLabels"].get("extra") == "yes"
        assert "cost-center" not in status["namespaceLabels"]
        namespace = rest.get("v1", "Namespace", name) or {}
        ours = [
            e
            for e in namespace["metadata"]["managedFields"]
            if (e["manager"], e["operation"]) == ("tronador", "Apply")
        ]
        assert "f:cost-center" not in ours[0]["fieldsV1"]["f:metadata"]["f:labels"]
    finally:
        rest.delete(API_VERSION, EP_KIND, name)
        wait_for(lambda: rest.get(API_VERSION, EP_KIND, name) is None, 60, "the EP gone")


def _with_pull_secrets(account: Obj | None) -> Obj | None:
    return account if account and account.get("imagePullSecrets") else None


def _applied_by_us(obj: Obj) -> bool:
    return any(
        (e.get("manager"), e.get("operation")) == ("tronador", "Apply")
        for e in obj["metadata"].get("managedFields") or []
    )


def _condition_message(rest: Rest, name: str, type_: str, needle: str) -> str | None:
    for condition in _status(rest, name).get("conditions") or []:
        if condition.get("type") == type_ and needle in str(condition.get("message")):
            return str(condition["message"])
    return None


def _labels_if(rest: Rest, namespace: str, **wanted: str) -> dict[str, str] | None:
    ns = rest.get("v1", "Namespace", namespace) or {}
    labels: dict[str, str] = ns.get("metadata", {}).get("labels") or {}
    return labels if all(labels.get(k) == v for k, v in wanted.items()) else None


def test_an_upgrade_takes_over_what_the_controller_wrote_before_server_side_apply(
    controller_manager: ControlPlane, installed: Rest, as_controller: client.ApiClient
) -> None:
    """Before server-side apply the controller wrote by POST/PUT through the Python client, so the
    API server recorded those fields as the client's default manager's (`OpenAPI-Generator`,
    operation Update). After an upgrade the controller must still be able to change them: on a
    namespace it created for the EP (our labels and its controller ownerReference: those
    versions recorded no owner UID annotation), a conflict with only that manager is resolved by
    taking the fields over, not by yielding them (which would freeze the environment)."""
    rest = installed
    ep, _ = the_seed_ep()
    name = ep["metadata"]["name"] = "realapi-upgrade"
    created = rest.create(ep)  # namespaceLabels.team is "gabbar"
    labels = {**ownership_labels(name), **ep["spec"]["namespaceLabels"], "team": "before"}
    owner = {
        "apiVersion": API_VERSION,
        "kind": EP_KIND,
        "name": name,
        "uid": created["metadata"]["uid"],
        "controller": True,
    }
    client.CoreV1Api(installed.api).create_namespace(  # as the old controller wrote it
        {"metadata": {"name": name, "labels": labels, "ownerReferences": [owner]}}
    )
    old = rest.get("v1", "Namespace", name) or {}
    assert [(e["manager"], e["operation"]) for e in old["metadata"]["managedFields"]] == [
        ("OpenAPI-Generator", "Update")
    ]
    replica = Replica(
        as_controller, settings(ReleaseFlavour.FLUX_V2, resync_period=RESYNC), election=ELECTION
    ).start(30)
    try:
        wait_for(replica.is_leader, what="the controller leading")
        wait_for(lambda: _labels_if(rest, name, team="gabbar"), what="the label taken over")
        namespace = rest.get("v1", "Namespace", name) or {}
        ours = [
            e
            for e in namespace["metadata"]["managedFields"]
            if (e["manager"], e["operation"]) == ("tronador", "Apply")
        ]
        assert ours and "f:team" in str(ours[0]["fieldsV1"])
        recorded = namespace["metadata"]["annotations"][OWNER_UID_ANNOTATION]
        assert recorded == created["metadata"]["uid"]
        message = wait_for(
            lambda: _condition_message(rest, name, "NamespaceReady", "provisioned"),
            what="NamespaceReady",
        )
        assert "left to other managers" not in message
    finally:
        rest.delete(API_VERSION, EP_KIND, name)
        wait_for(lambda: rest.get(API_VERSION, EP_KIND, name) is None, 60, "the EP gone")
        replica.stop()


def test_an_upgrade_takes_over_the_status_the_controller_wrote_before_server_side_apply(
    controller_manager: ControlPlane, installed: Rest, as_controller: client.ApiClient
) -> None:
    """The EP's status as the PUT-writing controller left it (owned by `OpenAPI-Generator`,
    operation Update, on the status subresource): the upgraded controller's status applies take
    it over instead of failing on a conflict for ever."""
    rest = installed
    ep, seed_status = the_seed_ep()
    name = ep["metadata"]["name"] = "realapi-upgrade-status"
    created = rest.create(ep)
    created["status"] = {**seed_status, "currentPhase": "Stale phase from before the upgrade"}
    client.CustomObjectsApi(installed.api).replace_cluster_custom_object_status(
        "tronador.stakater.com", "v1alpha1", "environmentprovisioners", name, created
    )
    replica = Replica(
        as_controller, settings(ReleaseFlavour.FLUX_V2, resync_period=RESYNC), election=ELECTION
    ).start(30)
    try:
        wait_for(replica.is_leader, what="the controller leading")
        wait_for(
            lambda: _status(rest, name).get("currentPhase") != created["status"]["currentPhase"],
            what="the status rewritten by the upgraded controller",
        )
        stored = rest.get(API_VERSION, EP_KIND, name) or {}
        assert any(
            (e["manager"], e["operation"], e.get("subresource")) == ("tronador", "Apply", "status")
            for e in stored["metadata"]["managedFields"]
        )
    finally:
        rest.delete(API_VERSION, EP_KIND, name)
        wait_for(lambda: rest.get(API_VERSION, EP_KIND, name) is None, 60, "the EP gone")
        replica.stop()


@pytest.mark.parametrize("replica", list(ReleaseFlavour), indirect=True)
def test_an_ep_and_an_environment_side_by_side_create_each_object_once(
    controller_manager: ControlPlane, installed: Rest, replica: Replica
) -> None:
    """With --release-flavour legacy an Environment is still Flux v2: its GitRepository and
    HelmRelease were taken for copies of TronadorConfig items and deleted as "no longer given",
    again and again (149 create/delete cycles in 36 s). Each owned object is created once and
    never deleted while both live, under either flavour."""
    rest = installed
    flavour = replica.controller.settings.flavour
    ep, _ = the_seed_ep()
    ep_name = ep["metadata"]["name"] = f"side-ep-{flavour.value}"
    (environment,) = documents(REPO_ROOT / "examples" / "environment.yaml")
    env_name = environment["metadata"]["name"] = f"side-env-{flavour.value}"
    environment["spec"]["application"]["release"].pop("valuesFrom", None)
    environment["spec"]["application"]["gitRepository"].pop("gitImplementation", None)
    before = len(controller_manager.requests(CONTROLLER_USER))
    rest.create(ep)
    rest.create(environment)
    try:
        wait_for(lambda: rest.get(*RELEASE_KIND[flavour], RELEASE, ep_name), what="EP release")
        wait_for(
            lambda: rest.get(*RELEASE_KIND[ReleaseFlavour.FLUX_V2], "master", env_name),
            what="the Environment's release",
        )
        time.sleep(12 * RESYNC)  # several resyncs: a loop would create and delete meanwhile
        writes = controller_manager.requests(CONTROLLER_USER)[before:]
        owned = [
            (verb, uri.split("?")[0], code)
            for verb, uri, code in writes
            if f"/namespaces/{ep_name}/" in uri or f"/namespaces/{env_name}/" in uri
        ]
        deleted = [uri for verb, uri, _ in owned if verb == "delete"]
        assert deleted == []
        created = collections.Counter(uri for verb, uri, code in owned if code == 201)
        assert created and all(count == 1 for count in created.values()), created
        for path in ("helmreleases", "gitrepositories"):
            assert any(f"/namespaces/{env_name}/{path}/" in uri for uri in created)
        status = (rest.get(ENV_API_VERSION, ENV_KIND, env_name) or {}).get("status") or {}
        assert "HelmRelease 'master'" in str(status.get("conditions"))
    finally:
        for api_version, kind, name in (
            (API_VERSION, EP_KIND, ep_name),
            (ENV_API_VERSION, ENV_KIND, env_name),
        ):
            rest.delete(api_version, kind, name)
            wait_for(lambda a=api_version, k=kind, n=name: rest.get(a, k, n) is None, 60, name)
