"""An Environment's desired objects: the EP's namespace and secrets, Flux objects from its
passthrough specs that pass Flux's own schemas, and a converted EP provisions what the EP did."""

from __future__ import annotations

from typing import Any

from controller.desired import ValuesSourceRef, desired_for_provisioner
from controller.environment_desired import desired_for_environment, desired_objects
from controller.settings import ReleaseFlavour, ReleaseOptions
from controller.status import flux_application_state
from kube.resources import GIT_REPOSITORIES, HELM_RELEASES
from tests.controller.flux_schemas import validate
from tests.controller.helpers import seed_config
from tests.seeds import example_environment, seed_environment_provisioner
from tronador.api import Environment, EnvironmentProvisioner
from tronador.rules.convert import environment_from_ep

FLUX = ReleaseOptions()
NAME = "pr-123-stakater-nordmart-inventory"


def example(**release: Any) -> Environment:
    obj = example_environment()
    obj["metadata"]["uid"] = "u-1"
    obj["spec"]["application"]["release"].update(release)
    return Environment.model_validate(obj)


def _spec(obj: Any) -> dict[str, Any]:
    return obj.body["spec"]


def test_example_becomes_namespace_git_repository_and_helm_release() -> None:
    env = desired_for_environment(example(), seed_config(), FLUX)
    assert env.namespace.name == NAME
    assert env.namespace.labels["stakater.com/tenant"] == "veeru"
    assert env.namespace.labels["tronador.stakater.com/environment"] == NAME
    (owner,) = env.namespace.owner_references
    assert owner == {
        "apiVersion": "tronador.stakater.com/v1alpha2",
        "kind": "Environment",
        "name": NAME,
        "uid": "u-1",
        "controller": True,
    }
    source, release = env.release
    assert (source.resource, release.resource) == (GIT_REPOSITORIES, HELM_RELEASES)
    for obj in (source, release):
        validate(obj.body)
        assert obj.namespace == NAME
    assert source.name == "dte-master"
    assert _spec(source) == {
        "url": "https://github.com/stakater-lab/stakater-nordmart-inventory",
        "ref": {"branch": "master"},
        "interval": "1m0s",
        "timeout": "20s",
        "secretRef": {"name": "nordmart-git-auth"},
    }
    assert release.name == "master"
    spec = _spec(release)
    assert spec["chart"]["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "dte-master"}
    assert spec["chart"]["spec"]["version"] == "*"
    assert spec["values"] == {"application": {"deployment": {"image": {"tag": "native"}}}}
    assert spec["valuesFrom"] == [
        {"kind": "ConfigMap", "name": "default-values", "valuesKey": "values.yaml"}
    ]
    assert spec["interval"] == "1m0s"
    assert [s.name for s in env.secrets] == ["nordmart-git-auth", "nexus-pull-secret"]
    assert env.image_pull_secret == "nexus-pull-secret"
    assert env.release_problems == [] and env.secret_problems == []


def test_scp_url_becomes_ssh_and_own_secret_ref_is_kept() -> None:
    obj = example_environment()
    git = obj["spec"]["application"]["gitRepository"]
    git.update({"url": "git@github.com:stakater-lab/app.git", "secretRef": {"name": "mine"}})
    env = desired_for_environment(Environment.model_validate(obj), seed_config(), FLUX)
    source = env.release[0]
    validate(source.body)
    assert _spec(source)["url"] == "ssh://git@github.com/stakater-lab/app.git"
    assert _spec(source)["secretRef"] == {"name": "mine"}


def test_fields_flux_lacks_or_that_leave_the_namespace_never_reach_flux() -> None:
    env = desired_for_environment(
        example(targetNamespace="kube-system", kubeConfig={"secretRef": {"name": "x"}}),
        None,
        FLUX,
    )
    source, release = env.release
    assert "gitImplementation" not in _spec(source)
    assert "targetNamespace" not in _spec(release) and "kubeConfig" not in _spec(release)
    assert len(env.warnings) == 2
    validate(release.body)


def test_foreign_values_source_is_copied_like_the_eps() -> None:
    obj = example_environment()
    obj["spec"]["application"]["release"]["valuesFrom"] = [
        {"secretKeyRef": {"name": "common", "namespace": "team-values", "key": "v.yaml"}}
    ]
    env_obj = Environment.model_validate(obj)
    ref = ValuesSourceRef("Secret", "team-values", "common", "v.yaml", False)
    source = {"data": {"v.yaml": "YTogMQ=="}}
    env = desired_for_environment(env_obj, None, FLUX, {ref: source})
    (copied,) = env.values_copies
    assert copied.namespace == NAME
    assert _spec(env.release[1])["valuesFrom"] == [
        {"kind": "Secret", "name": ref.copy_name, "valuesKey": "v.yaml"}
    ]


def test_an_environment_is_always_flux_v2() -> None:
    legacy = ReleaseOptions(flavour=ReleaseFlavour.LEGACY, allow_unconfined=True)
    env = desired_objects(example(), None, legacy)
    assert [o.resource for o in env.release] == [GIT_REPOSITORIES, HELM_RELEASES]


def test_converted_seed_ep_provisions_what_the_ep_did() -> None:
    """`tronador convert` of the seed EP: the labels, secrets and Helm values the EP had, under
    the names `render --kind Environment` gives (its own namespace, `dte-<branch>` source)."""
    options = FLUX
    ep_obj = seed_environment_provisioner()
    ep = EnvironmentProvisioner.model_validate(ep_obj)
    converted = Environment.model_validate(environment_from_ep(ep_obj))
    config = seed_config()
    before = desired_for_provisioner(ep, config, options)
    after = desired_objects(converted, config, options)
    assert after.namespace.name == "pr-74-stakater-nordmart-inventory"
    env_label = "tronador.stakater.com/environment"
    assert after.namespace.labels[env_label] == after.namespace.name
    assert {**after.namespace.labels, env_label: ""} == {**before.namespace.labels, env_label: ""}
    assert after.namespace.spec_labels == before.namespace.spec_labels

    def secrets(d: Any) -> list[tuple[Any, ...]]:
        return [(s.name, s.body.get("type"), s.body.get("data")) for s in d.secrets]

    assert secrets(after) == secrets(before)
    assert after.image_pull_secret == before.image_pull_secret
    assert after.release_name == before.release_name
    (ep_source, ep_release), (env_source, env_release) = before.release, after.release
    assert env_source.name == "dte-run-pipeline"
    assert _spec(env_source) == _spec(ep_source)
    assert env_release.name == ep_release.name
    for key in ("values", "releaseName", "interval", "install", "upgrade"):
        assert _spec(env_release).get(key) == _spec(ep_release).get(key), key
    assert _spec(env_release).get("valuesFrom") == _spec(ep_release).get("valuesFrom")
    env_chart, ep_chart = _spec(env_release)["chart"], _spec(ep_release)["chart"]
    assert env_chart["spec"]["sourceRef"]["name"] == "dte-run-pipeline"
    assert {**env_chart["spec"], "sourceRef": None} == {**ep_chart["spec"], "sourceRef": None}


def test_status_follows_the_release_the_same_way() -> None:
    """The status mapping reads the HelmRelease only, so it serves both kinds unchanged."""
    release = desired_for_environment(example(), None, FLUX).release[1].body
    deployed = {
        **release,
        "metadata": {**release["metadata"], "generation": 1},
        "status": {
            "observedGeneration": 1,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "InstallSucceeded", "message": "ok"}
            ],
            "history": [{"status": "deployed"}],
        },
    }
    assert flux_application_state(deployed, "master").status == "deployed"
    failed = {
        **deployed,
        "status": {
            "observedGeneration": 1,
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "InstallFailed", "message": "x"}
            ],
        },
    }
    assert flux_application_state(failed, "master").status == "failed"
