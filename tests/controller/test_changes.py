"""Scenarios: what happens to a provisioned environment when its EP or the config changes."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from controller.settings import ReleaseFlavour
from kube.api import APPLY_PATCH
from tests.controller.flux_schemas import validate
from tests.controller.harness import EP_API, EP_NAME, NS, Cluster, settings
from tronador.api.constants import OWNER_UID_ANNOTATION

FLAVOURS = [ReleaseFlavour.LEGACY, ReleaseFlavour.FLUX_V2]


def _deployed(cluster: Cluster, flavour: ReleaseFlavour, **changes: Any) -> Any:
    cluster.seed_config()
    cluster.create_ep()
    controller = cluster.start(settings(flavour, **changes))
    cluster.wait(lambda: cluster.release(flavour))
    cluster.play_flux(flavour)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "deployed")
    return controller


def _patch_ep(cluster: Cluster, patch: dict[str, Any]) -> None:
    cluster.server.patch(EP_API, "environmentprovisioners", EP_NAME, None, patch)


def _image_tag(tag: str) -> dict[str, Any]:
    image = {"image": {"tag": tag}}
    return {
        "spec": {"application": {"release": {"values": {"application": {"deployment": image}}}}}
    }


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_new_image_tag_updates_the_release_in_place(
    cluster: Cluster, flavour: ReleaseFlavour
) -> None:
    _deployed(cluster, flavour)
    before = cluster.release(flavour)
    assert before is not None
    _patch_ep(cluster, _image_tag("SNAPSHOT-PR-74-new"))

    def updated() -> Any:
        hr = cluster.release(flavour) or {}
        image = hr["spec"]["values"]["application"]["deployment"]["image"]
        return hr if image["tag"] == "SNAPSHOT-PR-74-new" else None

    after = cluster.wait(updated)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    validate(after)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "progressing")
    assert cluster.status()["observedGeneration"] == 2
    cluster.play_flux(flavour)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "deployed")
    updates = [r for r in cluster.server.writes() if r.plural == "helmreleases"]
    assert [(r.verb, r.content_type) for r in updates] == [("patch", APPLY_PATCH)] * 2


def test_a_label_removed_from_the_spec_is_removed_from_the_namespace(cluster: Cluster) -> None:
    _deployed(cluster, ReleaseFlavour.FLUX_V2)
    cluster.server.patch("v1", "namespaces", NS, None, {"metadata": {"labels": {"other": "x"}}})
    _patch_ep(cluster, {"spec": {"namespaceLabels": {"team": None, "added": "yes"}}})

    def labels() -> dict[str, str]:
        ns = cluster.server.get("v1", "namespaces", NS) or {}
        return ns["metadata"]["labels"]  # type: ignore[no-any-return]

    cluster.wait(lambda: "team" not in labels() and labels().get("added") == "yes")
    assert labels()["other"] == "x"  # never in the spec: left alone
    assert labels()["kind"] == "pr"
    cluster.wait(lambda: cluster.status().get("namespaceLabels", {}).get("added") == "yes")
    assert "team" not in cluster.status()["namespaceLabels"]


def test_a_changed_secret_in_the_config_is_synced(cluster: Cluster) -> None:
    _deployed(cluster, ReleaseFlavour.FLUX_V2)
    config = cluster.server.get(EP_API, "tronadorconfigs", "tronador-config", "tronador-system")
    assert config is not None
    config["spec"]["secrets"][0]["stringData"]["password"] = "rotated"
    cluster.server.patch(
        EP_API, "tronadorconfigs", "tronador-config", "tronador-system", {"spec": config["spec"]}
    )

    def password() -> str:
        secret = cluster.server.get("v1", "secrets", "nordmart-git-auth", NS) or {}
        return base64.b64decode(secret["data"]["password"]).decode()

    cluster.wait(lambda: password() == "rotated")


def test_drift_in_a_copied_secret_is_repaired(cluster: Cluster) -> None:
    _deployed(cluster, ReleaseFlavour.FLUX_V2)
    cluster.server.patch(
        "v1", "secrets", "nordmart-git-auth", NS, {"data": {"password": "ZWRpdGVk"}}
    )
    cluster.wait(
        lambda: (
            (cluster.server.get("v1", "secrets", "nordmart-git-auth", NS) or {})["data"]["password"]
            == base64.b64encode(b"replace-me").decode()
        )
    )


def test_a_changed_mapping_removes_the_old_secret(cluster: Cluster) -> None:
    _deployed(cluster, ReleaseFlavour.FLUX_V2)
    cluster.server.clear_requests()
    unrelated = {"repos": ["github.com/stakater-lab/unrelated"], "authSecret": "nordmart-git-auth"}
    patch = {"spec": {"mappings": [unrelated]}}
    cluster.server.patch(EP_API, "tronadorconfigs", "tronador-config", "tronador-system", patch)
    # the org-level secrets now apply: org-git-auth + the same pull secret
    cluster.wait(lambda: cluster.server.get("v1", "secrets", "org-git-auth", NS))
    cluster.wait(lambda: cluster.server.get("v1", "secrets", "nordmart-git-auth", NS) is None)
    assert cluster.server.get("v1", "secrets", "nexus-pull-secret", NS) is not None

    def source_secret() -> Any:
        source = cluster.server.get(
            "source.toolkit.fluxcd.io/v1", "gitrepositories", "run-pipeline", NS
        )
        return (source or {}).get("spec", {}).get("secretRef")

    assert source_secret() == {"name": "org-git-auth"}
    # the GitRepository points at the new secret before the old one is deleted
    order = [
        (r.verb, r.plural, r.name)
        for r in cluster.server.writes()
        if (r.plural, r.name)
        in {("gitrepositories", "run-pipeline"), ("secrets", "nordmart-git-auth")}
    ]
    assert order == [
        ("patch", "gitrepositories", "run-pipeline"),
        ("delete", "secrets", "nordmart-git-auth"),
    ]


def test_a_removed_pull_secret_is_detached_from_the_service_account(cluster: Cluster) -> None:
    _deployed(cluster, ReleaseFlavour.FLUX_V2)
    cluster.server.patch(
        "v1",
        "serviceaccounts",
        "default",
        NS,
        {"imagePullSecrets": [{"name": "nexus-pull-secret"}, {"name": "theirs"}]},
    )
    patch = {
        "spec": {
            "mappings": [
                {
                    "repos": ["github.com/stakater-lab/stakater-nordmart-inventory"],
                    "authSecret": "nordmart-git-auth",
                }
            ]
        }
    }
    cluster.server.patch(EP_API, "tronadorconfigs", "tronador-config", "tronador-system", patch)
    cluster.wait(lambda: cluster.server.get("v1", "secrets", "nexus-pull-secret", NS) is None)
    sa = cluster.server.get("v1", "serviceaccounts", "default", NS)
    assert sa is not None and sa["imagePullSecrets"] == [{"name": "theirs"}]


def test_an_existing_default_service_account_keeps_its_pull_secrets(cluster: Cluster) -> None:
    cluster.seed_config()
    ep = cluster.create_ep()
    cluster.server.seed(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": NS,
                "labels": {
                    "app.kubernetes.io/managed-by": "tronador.stakater.com",
                    "tronador.stakater.com/environment": EP_NAME,
                },
                "annotations": {OWNER_UID_ANNOTATION: ep["metadata"]["uid"]},
            },
        }
    )
    cluster.server.seed(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": NS},
            "imagePullSecrets": [{"name": "theirs"}],
        }
    )
    cluster.start(settings())
    cluster.wait(
        lambda: (
            len(
                (cluster.server.get("v1", "serviceaccounts", "default", NS) or {}).get(
                    "imagePullSecrets", []
                )
            )
            == 2
        )
    )
    sa = cluster.server.get("v1", "serviceaccounts", "default", NS)
    assert sa is not None
    assert sa["imagePullSecrets"] == [{"name": "theirs"}, {"name": "nexus-pull-secret"}]
    writes = [
        r for r in cluster.server.writes() if (r.plural, r.name) == ("serviceaccounts", "default")
    ]
    assert [(r.verb, r.content_type) for r in writes] == [("patch", APPLY_PATCH)]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_failed_release_is_reported_once(cluster: Cluster, flavour: ReleaseFlavour) -> None:
    cluster.seed_config()
    cluster.create_ep()
    cluster.start(settings(flavour))
    cluster.wait(lambda: cluster.release(flavour))
    cluster.play_flux(flavour, success=False)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "failed")
    release = cluster.condition("ReleaseReady")
    assert release["status"] == "False"
    assert release["message"] == cluster.status()["applicationStatusMsg"]
    assert cluster.condition("Ready")["status"] == "False"
    unconfined = [e for e in cluster.events() if e[1] == "Unconfined"]
    assert len(unconfined) == (1 if flavour is ReleaseFlavour.LEGACY else 0)
    warnings = lambda: [  # noqa: E731
        e for e in cluster.events() if e[0] == "Warning" and e[1] != "Unconfined"
    ]
    cluster.wait(warnings)
    (warning,) = warnings()
    assert warning[1] in ("DeployFailed", "InstallFailed")
    assert "failed" in warning[2]


def test_an_invalid_config_keeps_the_copied_secrets(cluster: Cluster) -> None:
    _deployed(cluster, ReleaseFlavour.FLUX_V2)
    cluster.server.patch(
        EP_API, "tronadorconfigs", "tronador-config", "tronador-system", {"spec": {"bogus": 1}}
    )
    cluster.wait(lambda: cluster.condition("SecretsReady").get("reason") == "InvalidConfig")
    assert "bogus" in cluster.condition("SecretsReady")["message"]
    assert cluster.server.get("v1", "secrets", "nordmart-git-auth", NS) is not None
    assert cluster.condition("Ready")["status"] == "False"
