from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch

from tests.seeds import seed_environment_provisioner
from tronador.api import Policy
from tronador.api.constants import FINALIZER, IMAGE_NAME_ANNOTATION, IMAGE_TAG_ANNOTATION
from tronador.rules.mutate import mutate_environment_provisioner
from tronador.rules.validate import validate_environment_provisioner

MIRROR = Policy.model_validate(
    {
        "imageRegistryRewrites": [
            {"from": "docker.io", "to": "mirror.example.com/dockerhub"},
            {"from": "ghcr.io/acme", "to": "mirror.example.com/acme"},
        ],
        "defaultNamespaceLabels": {"kind": "pr", "cost-center": "dev"},
    }
)


def seed() -> dict[str, Any]:
    ep = seed_environment_provisioner()
    ep.pop("status")
    return ep


def apply(obj: dict[str, Any], policy: Policy) -> dict[str, Any]:
    patch = mutate_environment_provisioner(obj, policy)
    return jsonpatch.apply_patch(copy.deepcopy(obj), patch)


def image(ep: dict[str, Any]) -> dict[str, Any]:
    return ep["spec"]["application"]["release"]["values"]["application"]["deployment"]["image"]


def test_seed_gets_labels_and_the_finalizer_only() -> None:
    ep = seed()
    patch = mutate_environment_provisioner(ep, Policy())
    assert patch == [
        {
            "op": "add",
            "path": "/metadata/labels",
            "value": {
                "app.kubernetes.io/managed-by": "tronador.stakater.com",
                "stakater.com/tenant": "veeru",
            },
        },
        {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
    ]


def test_the_finalizer_joins_others_once() -> None:
    ep = seed()
    ep["metadata"]["finalizers"] = ["example.com/keep"]
    mutated = apply(ep, Policy())
    assert mutated["metadata"]["finalizers"] == ["example.com/keep", FINALIZER]
    assert mutate_environment_provisioner(mutated, Policy()) == []


def test_an_object_being_deleted_gets_no_finalizer() -> None:
    """The API server refuses new finalizers on a deleting object; and the controller's own
    removal of its finalizer (an update) must not see it added back."""
    ep = seed()
    ep["metadata"]["deletionTimestamp"] = "2026-11-30T00:00:00Z"
    ep["metadata"]["finalizers"] = ["example.com/keep"]
    assert "finalizers" not in json.dumps(mutate_environment_provisioner(ep, Policy()))


def test_mutate_is_idempotent_under_reinvocation() -> None:
    ep = seed()
    ep["metadata"]["annotations"] = {
        IMAGE_NAME_ANNOTATION: "nginx",
        IMAGE_TAG_ANNOTATION: "1.25",
    }
    image(ep).update(repository="{{APPLICATION_IMAGE_NAME}}", tag="{{ APPLICATION_IMAGE_TAG }}")
    del ep["spec"]["application"]["release"]["releaseName"]
    once = apply(ep, MIRROR)
    assert mutate_environment_provisioner(once, MIRROR) == []
    assert apply(once, MIRROR) == once


def test_defaults_release_name_values_and_namespace_labels() -> None:
    ep = seed()
    release = ep["spec"]["application"]["release"]
    del release["releaseName"]
    release["values"] = None
    release["chart"]["ref"] = "Feature/JIRA-12_new-UI"
    result = apply(ep, MIRROR)
    release = result["spec"]["application"]["release"]
    assert release["releaseName"] == "feature-jira-12-new-ui"
    assert release["values"] == {}
    assert result["spec"]["namespaceLabels"] == {
        "kind": "pr",
        "stakater.com/tenant": "veeru",
        "team": "gabbar",
        "cost-center": "dev",
    }


def test_existing_namespace_labels_win_over_defaults() -> None:
    ep = seed()
    ep["spec"]["namespaceLabels"]["kind"] = "preview"
    assert apply(ep, MIRROR)["spec"]["namespaceLabels"]["kind"] == "preview"


def test_missing_namespace_labels_get_the_defaults() -> None:
    ep = seed()
    del ep["spec"]["namespaceLabels"]
    result = apply(ep, MIRROR)
    assert result["spec"]["namespaceLabels"] == {"kind": "pr", "cost-center": "dev"}
    assert "stakater.com/tenant" not in result["metadata"]["labels"]


def test_image_placeholders_are_substituted_from_annotations() -> None:
    ep = seed()
    ep["metadata"]["annotations"] = {
        IMAGE_NAME_ANNOTATION: "registry.example.com/app",
        IMAGE_TAG_ANNOTATION: "SNAPSHOT-PR-74-1",
    }
    image(ep).update(repository="{{APPLICATION_IMAGE_NAME}}", tag="{{APPLICATION_IMAGE_TAG}}")
    ep["spec"]["application"]["release"]["values"]["sidecar"] = "{{APPLICATION_IMAGE_NAME}}:x"
    result = apply(ep, Policy())
    assert image(result) == {"repository": "registry.example.com/app", "tag": "SNAPSHOT-PR-74-1"}
    assert result["spec"]["application"]["release"]["values"]["sidecar"] == (
        "registry.example.com/app:x"
    )
    assert validate_environment_provisioner(result, Policy()).allowed


def test_placeholders_without_annotations_stay_for_validation_to_reject() -> None:
    ep = seed()
    image(ep)["tag"] = "{{APPLICATION_IMAGE_TAG}}"
    result = apply(ep, Policy())
    assert image(result)["tag"] == "{{APPLICATION_IMAGE_TAG}}"
    assert not validate_environment_provisioner(result, Policy()).allowed


def test_registry_rewrites_apply_to_image_keys() -> None:
    ep = seed()
    values = ep["spec"]["application"]["release"]["values"]
    values["redis"] = {"image": {"repository": "bitnami/redis", "tag": "7"}}
    values["nginx"] = {"image": "nginx:1.25"}
    values["tool"] = {"image": "ghcr.io/acme/tool"}
    values["other"] = {"image": "quay.io/x/y"}
    values["notAnImage"] = {"name": "docker.io/library/nginx"}
    result = apply(ep, MIRROR)["spec"]["application"]["release"]["values"]
    assert result["redis"]["image"]["repository"] == "mirror.example.com/dockerhub/bitnami/redis"
    assert result["nginx"]["image"] == "mirror.example.com/dockerhub/library/nginx:1.25"
    assert result["tool"]["image"] == "mirror.example.com/acme/tool"
    assert result["other"]["image"] == "quay.io/x/y"
    assert result["notAnImage"]["name"] == "docker.io/library/nginx"


def test_keys_needing_json_pointer_escapes() -> None:
    ep = seed()
    ep["spec"]["application"]["release"]["values"]["a/b~c"] = {"image": "docker.io/x/y"}
    result = apply(ep, MIRROR)
    assert result["spec"]["application"]["release"]["values"]["a/b~c"]["image"] == (
        "mirror.example.com/dockerhub/x/y"
    )


def test_malformed_objects_never_raise() -> None:
    for obj in ({}, {"spec": None}, {"spec": {"application": "x"}}, {"metadata": []}):
        patch = mutate_environment_provisioner(obj, MIRROR)
        jsonpatch.apply_patch(copy.deepcopy(obj), patch)


def test_existing_labels_are_kept() -> None:
    ep = seed()
    ep["metadata"]["labels"] = {"owner": "me"}
    result = apply(ep, Policy())
    assert result["metadata"]["labels"] == {
        "owner": "me",
        "app.kubernetes.io/managed-by": "tronador.stakater.com",
        "stakater.com/tenant": "veeru",
    }
