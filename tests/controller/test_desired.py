from __future__ import annotations

import base64

import pytest
import yaml

from controller.desired import (
    ValuesSourceRef,
    desired_for_provisioner,
    git_reference,
    is_owned_by,
    namespace_owned_by,
)
from controller.settings import ReleaseFlavour, ReleaseOptions
from kube.resources import GIT_REPOSITORIES, HELM_RELEASES, LEGACY_HELM_RELEASES, Resource
from tests.controller.flux_schemas import validate
from tests.controller.helpers import seed_config, seed_ep
from tronador.rules.secret_binding import choose_secrets

LEGACY = ReleaseOptions(flavour=ReleaseFlavour.LEGACY, allow_unconfined=True)
FLUX = ReleaseOptions()

SEED_HELM_RELEASE = yaml.safe_load(
    """
apiVersion: helm.fluxcd.io/v1
kind: HelmRelease
metadata:
  name: run-pipeline
  namespace: stakater-nordmart-inventory-74
  labels:
    app.kubernetes.io/instance: run-pipeline
    app.kubernetes.io/managed-by: tronador.stakater.com
spec:
  chart:
    git: 'https://github.com/stakater-lab/stakater-nordmart-inventory'
    path: deploy
    ref: run-pipeline
  releaseName: run-pipeline
  rollback: {}
  test: {}
  values:
    application:
      deployment:
        image:
          repository: >-
            nexus-docker-stakater-nexus.apps.binero-test.8sdzwd1l.kubeapp.cloud/stakater-nordmart-inventory
          tag: SNAPSHOT-PR-74-6f50ff2f
"""
)


def test_legacy_helm_release_is_the_one_of_the_workflow_guide() -> None:
    env = desired_for_provisioner(seed_ep(), None, LEGACY)
    (release,) = env.release
    assert release.resource == LEGACY_HELM_RELEASES
    body = release.body
    expected = yaml.safe_load(yaml.safe_dump(SEED_HELM_RELEASE))
    expected["metadata"]["labels"]["tronador.stakater.com/environment"] = (
        "stakater-nordmart-inventory-74"
    )
    assert body == expected
    validate(release.body)


def test_legacy_chart_secret_ref_is_the_auth_secret() -> None:
    env = desired_for_provisioner(seed_ep(), seed_config(), LEGACY)
    assert env.helm_release.body["spec"]["chart"]["secretRef"] == {"name": "nordmart-git-auth"}
    validate(env.helm_release.body)


def test_flux_objects_validate_against_the_flux_crds() -> None:
    env = desired_for_provisioner(seed_ep(), seed_config(), FLUX)
    source, release = env.release
    assert source.resource == GIT_REPOSITORIES and release.resource == HELM_RELEASES
    validate(source.body)
    validate(release.body)
    assert (
        source.body["spec"]["url"] == "https://github.com/stakater-lab/stakater-nordmart-inventory"
    )
    assert source.body["spec"]["ref"] == {"branch": "run-pipeline"}
    assert source.body["spec"]["secretRef"] == {"name": "nordmart-git-auth"}
    chart = release.body["spec"]["chart"]["spec"]
    assert chart == {
        "chart": "deploy",
        "sourceRef": {"kind": "GitRepository", "name": "run-pipeline"},
        "reconcileStrategy": "Revision",
    }
    spec = release.body["spec"]
    assert spec["releaseName"] == "run-pipeline"
    assert spec["install"]["remediation"]["retries"] == 3
    assert spec["upgrade"]["remediation"]["retries"] == 3
    assert spec["values"]["application"]["deployment"]["image"]["tag"] == "SNAPSHOT-PR-74-6f50ff2f"
    for obj in env.release:
        assert obj.body["metadata"]["labels"]["app.kubernetes.io/instance"] == "run-pipeline"
        assert is_owned_by(obj.body, "stakater-nordmart-inventory-74")


def test_scp_style_git_url_becomes_ssh_for_flux() -> None:
    ep = seed_ep(spec__application__release__chart__git="git@github.com:stakater-lab/inventory.git")
    env = desired_for_provisioner(ep, None, FLUX)
    assert env.release[0].body["spec"]["url"] == "ssh://git@github.com/stakater-lab/inventory.git"
    validate(env.release[0].body)
    legacy = desired_for_provisioner(ep, None, LEGACY)
    assert (
        legacy.helm_release.body["spec"]["chart"]["git"]
        == "git@github.com:stakater-lab/inventory.git"
    )


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("run-pipeline", {"branch": "run-pipeline"}),
        ("refs/heads/feature/x", {"branch": "feature/x"}),
        ("refs/tags/v1.2.3", {"tag": "v1.2.3"}),
        (
            "6f50ff2ff844f5f7c2b6627e3d7319e4717ac847",
            {"commit": "6f50ff2ff844f5f7c2b6627e3d7319e4717ac847"},
        ),
        ("refs/pull/74/head", {"name": "refs/pull/74/head"}),
    ],
)
def test_chart_ref_becomes_a_git_reference(ref: str, expected: dict) -> None:
    assert git_reference(ref) == expected


def test_a_new_image_tag_changes_only_the_release_values() -> None:
    before = desired_for_provisioner(seed_ep(), seed_config(), FLUX)
    ep = seed_ep()
    ep.release.values["application"]["deployment"]["image"]["tag"] = "SNAPSHOT-PR-74-new"  # type: ignore[index]
    after = desired_for_provisioner(ep, seed_config(), FLUX)
    assert before.release[0].body == after.release[0].body
    assert before.helm_release.body != after.helm_release.body


def test_namespace_carries_spec_labels_ownership_labels_and_owner_reference() -> None:
    ns = desired_for_provisioner(seed_ep(), None, FLUX).namespace
    assert ns.name == "stakater-nordmart-inventory-74"
    assert ns.labels == {
        "kind": "pr",
        "stakater.com/tenant": "veeru",
        "team": "gabbar",
        "app.kubernetes.io/managed-by": "tronador.stakater.com",
        "tronador.stakater.com/environment": "stakater-nordmart-inventory-74",
    }
    assert ns.spec_labels == {"kind": "pr", "stakater.com/tenant": "veeru", "team": "gabbar"}
    (owner,) = ns.owner_references
    assert owner["kind"] == "EnvironmentProvisioner" and owner["uid"] == "uid-74"


def test_secrets_come_from_the_mapping_naming_the_repo() -> None:
    env = desired_for_provisioner(seed_ep(), seed_config(), FLUX)
    assert [s.name for s in env.secrets] == ["nordmart-git-auth", "nexus-pull-secret"]
    assert env.image_pull_secret == "nexus-pull-secret"
    auth = env.secrets[0].body
    assert auth["metadata"]["namespace"] == "stakater-nordmart-inventory-74"
    assert is_owned_by(auth, "stakater-nordmart-inventory-74")
    assert "stringData" not in auth
    assert base64.b64decode(auth["data"]["username"]).decode() == "bot"
    assert auth["type"] == "kubernetes.io/basic-auth"


def test_the_repo_name_annotation_selects_no_mapping() -> None:
    """The mapping is chosen by the chart URL alone: naming a mapped repository in the
    annotation gives another repository only its own (organisation's) secrets."""
    ep = seed_ep(
        metadata__annotations={"stakater.com/repo-name": "stakater-nordmart-inventory"},
        spec__application__release__chart__git="https://github.com/stakater-lab/attacker-app",
    )
    env = desired_for_provisioner(ep, seed_config(), FLUX)
    assert env.secret_choice.repo == "github.com/stakater-lab/attacker-app"
    assert [s.name for s in env.secrets] == ["org-git-auth", "nexus-pull-secret"]


@pytest.mark.parametrize(
    "git",
    [
        "https://attacker.example.net/stakater-lab/stakater-nordmart-inventory",
        "https://github.com.attacker.net/stakater-lab/stakater-nordmart-inventory",
        "https://github.com/stakater-lab-evil/stakater-nordmart-inventory",
        "git@attacker.example.net:stakater-lab/stakater-nordmart-inventory.git",
    ],
)
def test_credentials_are_never_attached_to_another_host_or_owner(git: str) -> None:
    ep = seed_ep(spec__application__release__chart__git=git)
    env = desired_for_provisioner(ep, seed_config(), FLUX)
    assert env.secrets == []
    assert "secretRef" not in env.release[0].body["spec"]


def test_the_same_repository_written_another_way_is_bound() -> None:
    ep = seed_ep(
        spec__application__release__chart__git="git@github.com:Stakater-Lab/stakater-nordmart-inventory.git"
    )
    choice = choose_secrets(ep.release.chart.git, seed_config())
    assert (choice.auth_secret, choice.source) == ("nordmart-git-auth", "spec.mappings[0]")


def test_bare_names_without_an_organisation_match_nothing_and_say_why() -> None:
    def unqualified(obj: dict) -> None:
        del obj["spec"]["mappings"][0]["organisation"]
        del obj["spec"]["orgLevelSecrets"]["organisation"]
        obj["spec"]["policy"]["allowedChartGitPrefixes"] = []

    env = desired_for_provisioner(seed_ep(), seed_config(unqualified), FLUX)
    assert env.secrets == []
    notes = " ".join(env.secret_choice.notes)
    assert "spec.mappings[0] names 'stakater-nordmart-inventory' without a host" in notes
    assert "spec.orgLevelSecrets has no organisation" in notes


def test_a_flux_release_is_confined_to_its_own_service_account() -> None:
    env = desired_for_provisioner(seed_ep(), seed_config(), FLUX)
    account, binding = env.confinement
    namespace = env.namespace.name
    assert (account.resource.kind, account.name, account.namespace) == (
        "ServiceAccount",
        "tronador-release",
        namespace,
    )
    assert binding.body["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "tronador-environment",
    }
    assert binding.body["subjects"] == [
        {"kind": "ServiceAccount", "name": "tronador-release", "namespace": namespace}
    ]
    assert env.helm_release.body["spec"]["serviceAccountName"] == "tronador-release"
    assert env.unconfined is None


def test_confinement_off_by_policy_is_said() -> None:
    def unconfined(obj: dict) -> None:
        obj["spec"]["policy"]["release"] = {"confined": False}

    env = desired_for_provisioner(seed_ep(), seed_config(unconfined), FLUX)
    assert env.confinement == []
    assert "serviceAccountName" not in env.helm_release.body["spec"]
    assert env.unconfined and "helm-controller's own account" in env.unconfined


def test_the_legacy_flavour_runs_only_with_the_admins_opt_in() -> None:
    refused = desired_for_provisioner(
        seed_ep(), seed_config(), ReleaseOptions(ReleaseFlavour.LEGACY)
    )
    assert refused.release == []
    assert refused.release_refused and "--allow-unconfined-releases" in refused.release_refused
    allowed = desired_for_provisioner(seed_ep(), seed_config(), LEGACY)
    assert allowed.release and allowed.unconfined


def test_the_legacy_flavour_never_passes_a_secret_ref_namespace() -> None:
    ep = seed_ep(
        spec__application__release__chart__secretRef={"name": "git", "namespace": "kube-system"}
    )
    env = desired_for_provisioner(ep, seed_config(), LEGACY)
    assert env.helm_release.body["spec"]["chart"]["secretRef"] == {"name": "git"}


def test_org_level_secrets_apply_to_unmapped_repos() -> None:
    ep = seed_ep(spec__application__release__chart__git="https://github.com/stakater-lab/other")
    env = desired_for_provisioner(ep, seed_config(), FLUX)
    assert [s.name for s in env.secrets] == ["org-git-auth", "nexus-pull-secret"]


def test_no_config_means_no_secrets() -> None:
    env = desired_for_provisioner(seed_ep(), None, FLUX)
    assert env.secrets == [] and env.image_pull_secret is None and env.secret_problems == []
    assert "secretRef" not in env.release[0].body["spec"]


def test_a_mapping_to_a_missing_item_is_a_problem() -> None:
    def drop_pull_secret(obj: dict) -> None:
        obj["spec"]["secrets"] = [
            s for s in obj["spec"]["secrets"] if s["metadata"]["name"] != "nexus-pull-secret"
        ]

    env = desired_for_provisioner(seed_ep(), seed_config(drop_pull_secret), FLUX)
    assert [s.name for s in env.secrets] == ["nordmart-git-auth"]
    assert env.image_pull_secret is None
    assert "nexus-pull-secret" in env.secret_problems[0]


def test_secret_generating_items_are_copied_as_their_own_kind() -> None:
    def external(obj: dict) -> None:
        obj["spec"]["secrets"][0] = {
            "apiVersion": "external-secrets.io/v1beta1",
            "kind": "ExternalSecret",
            "metadata": {"name": "nordmart-git-auth"},
            "spec": {"target": {"name": "nordmart-git-auth"}, "secretStoreRef": {"name": "vault"}},
        }

    env = desired_for_provisioner(seed_ep(), seed_config(external), FLUX)
    generated = env.secrets[0]
    assert generated.resource == Resource(
        "external-secrets.io/v1beta1", "ExternalSecret", "externalsecrets"
    )
    assert generated.body["spec"]["target"] == {"name": "nordmart-git-auth"}
    assert "type" not in generated.body


def test_cross_namespace_values_from_is_copied_for_flux_v2() -> None:
    ep = seed_ep(
        spec__application__release__valuesFrom=[
            {"configMapKeyRef": {"name": "common", "namespace": "team", "key": "extra.yaml"}},
            {"secretKeyRef": {"name": "local"}},
            {"chartFileRef": {"path": "values-pr.yaml", "optional": True}},
            {"externalSourceRef": {"url": "https://example.com/v.yaml"}},
        ]
    )
    ref = ValuesSourceRef("ConfigMap", "team", "common", "extra.yaml", False)
    sources = {ref: {"data": {"extra.yaml": "a: 1", "other": "secret-ish"}}}
    env = desired_for_provisioner(ep, None, FLUX, sources)
    (copied,) = env.values_copies
    assert copied.name == "values-team-common"
    assert copied.body["data"] == {"extra.yaml": "a: 1"}
    spec = env.helm_release.body["spec"]
    assert spec["valuesFrom"] == [
        {"kind": "ConfigMap", "name": "values-team-common", "valuesKey": "extra.yaml"},
        {"kind": "Secret", "name": "local"},
    ]
    assert spec["chart"]["spec"]["valuesFiles"] == ["deploy/values.yaml", "deploy/values-pr.yaml"]
    assert spec["chart"]["spec"]["ignoreMissingValuesFiles"] is True
    assert env.warnings == [
        "valuesFrom externalSourceRef is not supported by Flux v2 and was skipped"
    ]
    validate(env.helm_release.body)
    missing = desired_for_provisioner(ep, None, FLUX, {})
    assert missing.values_copies == []
    assert missing.release_problems == ["valuesFrom ConfigMap team/common does not exist"]


def test_legacy_passes_values_from_through() -> None:
    values_from = [{"configMapKeyRef": {"name": "common", "namespace": "team", "key": "x"}}]
    ep = seed_ep(spec__application__release__valuesFrom=values_from)
    env = desired_for_provisioner(ep, None, LEGACY)
    assert env.helm_release.body["spec"]["valuesFrom"] == values_from
    assert env.values_copies == []
    validate(env.helm_release.body)


def test_release_name_defaults_to_the_sanitized_ref() -> None:
    ep = seed_ep(spec__application__release__releaseName=None)
    env = desired_for_provisioner(ep, None, FLUX)
    assert env.release_name == "run-pipeline"
    ep = seed_ep(
        spec__application__release__releaseName=None,
        spec__application__release__chart__ref="Feature/ABC_1",
    )
    assert desired_for_provisioner(ep, None, FLUX).release_name == "feature-abc-1"


def test_a_namespace_is_ours_only_by_the_uid_it_records() -> None:
    ns = desired_for_provisioner(seed_ep(), None, FLUX).namespace
    assert namespace_owned_by(ns.body(), "uid-74")
    assert namespace_owned_by(ns.claim(), "uid-74")
    assert not namespace_owned_by(ns.body(), "uid-other")
    labelled_only = {"metadata": {"name": ns.name, "labels": dict(ns.labels)}}
    assert not namespace_owned_by(labelled_only, "uid-74")
    before_the_record = {  # an earlier version's namespace: our labels and its ownerReference
        "metadata": {
            "name": ns.name,
            "labels": dict(ns.labels),
            "ownerReferences": ns.owner_references,
        }
    }
    assert namespace_owned_by(before_the_record, "uid-74")
    assert not namespace_owned_by(before_the_record, "")


def test_real_tronadors_bare_names_bind_under_the_allowed_chart_owner() -> None:
    """A TronadorConfig as real Tronador wrote it (bare names, no organisation) keeps working
    where the policy confines charts to an owner: the names bind under it, and only there."""

    def as_real_tronador(obj: dict) -> None:
        del obj["spec"]["mappings"][0]["organisation"]
        del obj["spec"]["orgLevelSecrets"]["organisation"]

    config = seed_config(as_real_tronador)
    assert [s.name for s in desired_for_provisioner(seed_ep(), config, FLUX).secrets] == [
        "nordmart-git-auth",
        "nexus-pull-secret",
    ]
    elsewhere = seed_ep(
        spec__application__release__chart__git="https://github.com/attacker/stakater-nordmart-inventory"
    )
    assert desired_for_provisioner(elsewhere, config, FLUX).secrets == []


def test_an_item_nothing_names_goes_to_every_environment() -> None:
    def shared_item(obj: dict) -> None:
        obj["spec"]["secrets"].append(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds"}}
        )

    config = seed_config(shared_item)
    mapped = desired_for_provisioner(seed_ep(), config, FLUX)
    assert [s.name for s in mapped.secrets] == [
        "nordmart-git-auth",
        "nexus-pull-secret",
        "db-creds",
    ]
    elsewhere = seed_ep(spec__application__release__chart__git="https://gitlab.example.com/a/b")
    assert [s.name for s in desired_for_provisioner(elsewhere, config, FLUX).secrets] == [
        "db-creds"
    ]
