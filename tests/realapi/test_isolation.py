"""A tenant's environment reaches only its own namespace, on a real API server with the RBAC and
the ValidatingAdmissionPolicy of `kubectl kustomize manifests/`, the controller running as its
ServiceAccount. Each test is an attack a tenant who may create EPs tried on earlier versions:

- the chart ran with the Flux controller's own (cluster-admin) account;
- an annotation picked another repository's secrets, and a chart URL on another host was sent
  the organisation's git credentials;
- a namespace pre-labelled with our labels was adopted, filled and deleted with the EP;
- a compromised controller token could patch any namespace.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from controller.desired import ownership_labels
from controller.settings import ReleaseFlavour
from tests.controller.harness import RELEASE
from tests.realapi.controller import CONTROLLER_USER
from tests.realapi.controlplane import ControlPlane
from tests.realapi.kube import Obj, Rest, documents, wait_for
from tests.realapi.test_controller import the_seed_ep
from tests.seeds import REPO_ROOT
from tronador.api.constants import (
    API_VERSION,
    ENV_API_VERSION,
    ENV_KIND,
    EP_KIND,
    REPO_NAME_ANNOTATION,
)
from tronador.api.tronador_config import (
    DEFAULT_RELEASE_CLUSTER_ROLE,
    DEFAULT_RELEASE_SERVICE_ACCOUNT,
)

pytestmark = pytest.mark.realapi

FLUX_HR = ("helm.toolkit.fluxcd.io/v2", "HelmRelease")
FLUX_SOURCE = ("source.toolkit.fluxcd.io/v1", "GitRepository")
V2 = [ReleaseFlavour.FLUX_V2]


def an_ep(name: str, git: str | None = None, **annotations: str) -> Obj:
    ep, _ = the_seed_ep()
    ep["metadata"]["name"] = name
    ep["metadata"]["annotations"] = {**(ep["metadata"].get("annotations") or {}), **annotations}
    if git is not None:
        ep["spec"]["application"]["release"]["chart"]["git"] = git
    return ep


def conditions(rest: Rest, api_version: str, kind: str, name: str) -> dict[str, dict[str, Any]]:
    obj = rest.get(api_version, kind, name) or {}
    found = (obj.get("status") or {}).get("conditions") or []
    return {c["type"]: c for c in found}


GROUPS = {"clusterrolebindings": "rbac.authorization.k8s.io", "deployments": "apps"}


def can(api: client.ApiClient, user: str, verb: str, resource: str, namespace: str = "") -> bool:
    """A SubjectAccessReview, as `kubectl auth can-i --as USER` asks it."""
    group = GROUPS.get(resource, "")
    review = client.AuthorizationV1Api(api).create_subject_access_review(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "groups": ["system:serviceaccounts", "system:authenticated"],
                "resourceAttributes": {
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    "namespace": namespace,
                },
            },
        }
    )
    return bool(review.status.allowed)


def cleanup(rest: Rest, api_version: str, kind: str, name: str) -> None:
    try:
        rest.delete(api_version, kind, name)
    except ApiException as err:
        if err.status != 404:
            raise
    wait_for(lambda: rest.get(api_version, kind, name) is None, 60, f"{kind} {name} gone")


@pytest.fixture
def environment_ns(installed: Rest) -> Iterator[str]:
    yield "iso-environment"
    cleanup(installed, ENV_API_VERSION, ENV_KIND, "iso-environment")


@pytest.mark.parametrize("replica", V2, indirect=True)
def test_a_release_runs_as_its_own_account_which_cannot_leave_the_namespace(
    controller_manager: ControlPlane, installed: Rest, replica: Any, environment_ns: str
) -> None:
    rest = installed
    name = "iso-confined"
    rest.create(an_ep(name))
    environment = yaml_environment(environment_ns)
    rest.create(environment)
    try:
        for namespace, release in ((name, RELEASE), (environment_ns, "master")):
            hr = wait_for(lambda n=namespace, r=release: rest.get(*FLUX_HR, r, n), what="release")
            assert hr["spec"]["serviceAccountName"] == DEFAULT_RELEASE_SERVICE_ACCOUNT
            binding = rest.get(
                "rbac.authorization.k8s.io/v1",
                "RoleBinding",
                DEFAULT_RELEASE_SERVICE_ACCOUNT,
                namespace,
            )
            assert binding is not None
            assert binding["roleRef"]["name"] == DEFAULT_RELEASE_CLUSTER_ROLE
            user = f"system:serviceaccount:{namespace}:{DEFAULT_RELEASE_SERVICE_ACCOUNT}"
            # What helm-controller, impersonating that account, may do for the chart:
            wait_for(
                lambda u=user, n=namespace: can(rest.api, u, "create", "deployments", n) or None,
                what="the aggregated tronador-environment role in force",
            )
            assert can(rest.api, user, "create", "pods", namespace)
            assert not can(rest.api, user, "create", "clusterrolebindings")
            assert not can(rest.api, user, "create", "pods", "default")
            assert not can(rest.api, user, "create", "pods", "kube-system")
            assert not can(rest.api, user, "get", "secrets", "tronador-system")
        for api_version, kind, obj_name in (
            (API_VERSION, EP_KIND, name),
            (ENV_API_VERSION, ENV_KIND, environment_ns),
        ):
            confined = wait_for(
                lambda a=api_version, k=kind, o=obj_name: conditions(rest, a, k, o).get(
                    "ReleaseConfined"
                ),
                what="the ReleaseConfined condition",
            )
            assert confined["status"] == "True", confined
    finally:
        cleanup(rest, API_VERSION, EP_KIND, name)


def yaml_environment(name: str) -> Obj:
    (environment,) = documents(REPO_ROOT / "examples" / "environment.yaml")
    environment = copy.deepcopy(environment)
    environment["metadata"]["name"] = name
    release = environment["spec"]["application"]["release"]
    release.pop("valuesFrom", None)
    environment["spec"]["application"]["gitRepository"].pop("gitImplementation", None)
    return environment


@pytest.mark.parametrize("replica", V2, indirect=True)
def test_the_repo_name_annotation_gets_no_other_repositorys_secrets(
    installed: Rest, replica: Any
) -> None:
    """The seed TronadorConfig maps stakater-lab's nordmart repositories to nordmart-git-auth;
    an EP of another repository that names one of them in the annotation gets only what its own
    repository gets (the organisation's secrets), never the mapping's."""
    rest = installed
    name = "iso-annotation"
    rest.create(
        an_ep(
            name,
            git="https://github.com/stakater-lab/attacker-app",
            **{REPO_NAME_ANNOTATION: "stakater-nordmart-inventory"},
        )
    )
    try:
        source = wait_for(lambda: rest.get(*FLUX_SOURCE, RELEASE, name), what="GitRepository")
        assert source["spec"]["secretRef"] == {"name": "org-git-auth"}
        assert rest.get("v1", "Secret", "nordmart-git-auth", name) is None
        assert rest.get("v1", "Secret", "org-git-auth", name) is not None
    finally:
        cleanup(rest, API_VERSION, EP_KIND, name)


@pytest.mark.parametrize("replica", V2, indirect=True)
def test_git_credentials_never_go_to_a_host_the_admin_did_not_list(
    installed: Rest, replica: Any
) -> None:
    rest = installed
    name = "iso-other-host"
    rest.create(
        an_ep(name, git="https://attacker.example.net/stakater-lab/stakater-nordmart-inventory")
    )
    try:
        source = wait_for(lambda: rest.get(*FLUX_SOURCE, RELEASE, name), what="GitRepository")
        assert "secretRef" not in source["spec"]
        for secret in ("nordmart-git-auth", "org-git-auth", "nexus-pull-secret"):
            assert rest.get("v1", "Secret", secret, name) is None
        secrets = wait_for(
            lambda: conditions(rest, API_VERSION, EP_KIND, name).get("SecretsReady"),
            what="SecretsReady",
        )
        assert (
            "attacker.example.net/stakater-lab/stakater-nordmart-inventory" in (secrets["message"])
        )
    finally:
        cleanup(rest, API_VERSION, EP_KIND, name)


@pytest.mark.parametrize("replica", V2, indirect=True)
def test_a_prelabelled_namespace_is_neither_adopted_nor_deleted(
    installed: Rest, replica: Any
) -> None:
    rest = installed
    name = "iso-prelabelled"
    planted = {"example.com/planted": "yes", **ownership_labels(name)}
    rest.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": planted}}
    )
    try:
        rest.create(an_ep(name))
        ready = wait_for(
            lambda: conditions(rest, API_VERSION, EP_KIND, name).get("NamespaceReady"),
            what="NamespaceReady",
        )
        assert (ready["status"], ready["reason"]) == ("False", "NamespaceConflict")
        namespace = rest.get("v1", "Namespace", name)
        assert namespace is not None
        labels = namespace["metadata"]["labels"]
        assert {k: labels.get(k) for k in planted} == planted
        assert "team" not in labels and not namespace["metadata"].get("ownerReferences")
        for secret in ("nordmart-git-auth", "nexus-pull-secret"):
            assert rest.get("v1", "Secret", secret, name) is None
        assert rest.get(*FLUX_HR, RELEASE, name) is None
        cleanup(rest, API_VERSION, EP_KIND, name)
        namespace = rest.get("v1", "Namespace", name)
        assert namespace is not None and not namespace["metadata"].get("deletionTimestamp")
    finally:
        rest.delete("v1", "Namespace", name)


def test_the_admission_policy_refuses_the_controller_outside_its_namespaces(
    controller_manager: ControlPlane, installed: Rest, as_controller: client.ApiClient
) -> None:
    """With the controller's own token (all its RBAC rights), a patch of an unrelated namespace
    and a Secret written into one are refused by the API server itself."""
    rest = installed
    wait_for(
        lambda: rest.get(
            "admissionregistration.k8s.io/v1",
            "ValidatingAdmissionPolicyBinding",
            "tronador-controller-confinement",
        ),
        what="the policy binding installed",
    )
    core = client.CoreV1Api(as_controller)

    def refused_patch() -> ApiException | None:
        try:
            core.patch_namespace("default", {"metadata": {"labels": {"pwned": "yes"}}})
        except ApiException as err:
            return err
        core.patch_namespace("default", {"metadata": {"labels": {"pwned": None}}})
        return None  # the policy is not in force yet: try again

    refused = wait_for(refused_patch, what="the policy in force")
    assert refused.status in (403, 422), refused
    assert "may write only in namespaces it created" in str(refused.body)
    with pytest.raises(ApiException) as secret:
        core.create_namespaced_secret(
            "default", {"metadata": {"name": "planted"}, "stringData": {"a": "b"}}
        )
    assert "may write only in namespaces it created" in str(secret.value.body)
    rest.ensure({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "iso-unrelated"}})
    with pytest.raises(ApiException) as deleted:
        core.delete_namespace("iso-unrelated")
    assert "may write only in namespaces it created" in str(deleted.value.body)
    with pytest.raises(ApiException) as created:
        core.create_namespace({"metadata": {"name": "iso-unrecorded"}})
    assert "may write only in namespaces it created" in str(created.value.body)
    assert CONTROLLER_USER.endswith(":tronador-controller")
