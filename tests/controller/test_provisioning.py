"""Scenarios against the emulated API server: the seed EP from creation to deployed."""

from __future__ import annotations

import base64

import pytest

from controller.settings import ReleaseFlavour
from tests.controller.flux_schemas import validate
from tests.controller.harness import (
    EP_NAME,
    GIT_REPO,
    NS,
    RELEASE,
    SUCCESS_MESSAGE,
    Cluster,
    settings,
)

FLAVOURS = [ReleaseFlavour.LEGACY, ReleaseFlavour.FLUX_V2]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_seed_ep_is_provisioned_and_reports_deployed(
    cluster: Cluster, flavour: ReleaseFlavour
) -> None:
    cluster.seed_config()
    cluster.create_ep()
    cluster.start(settings(flavour))
    hr = cluster.wait(lambda: cluster.release(flavour))
    validate(hr)

    ep = cluster.ep()
    assert ep is not None
    assert "tronador.stakater.com/cleanup" in ep["metadata"]["finalizers"]
    ns = cluster.server.get("v1", "namespaces", NS)
    assert ns is not None
    labels = ns["metadata"]["labels"]
    assert labels["kind"] == "pr" and labels["team"] == "gabbar"
    assert labels["stakater.com/tenant"] == "veeru"
    assert labels["app.kubernetes.io/managed-by"] == "tronador.stakater.com"
    assert labels["tronador.stakater.com/environment"] == EP_NAME
    assert ns["metadata"]["ownerReferences"][0]["uid"] == ep["metadata"]["uid"]

    auth = cluster.server.get("v1", "secrets", "nordmart-git-auth", NS)
    pull = cluster.server.get("v1", "secrets", "nexus-pull-secret", NS)
    assert auth is not None and pull is not None
    assert base64.b64decode(auth["data"]["username"]).decode() == "bot"
    assert auth["metadata"]["labels"]["tronador.stakater.com/environment"] == EP_NAME
    sa = cluster.server.get("v1", "serviceaccounts", "default", NS)
    assert sa is not None and sa["imagePullSecrets"] == [{"name": "nexus-pull-secret"}]

    if flavour is ReleaseFlavour.LEGACY:
        assert hr["spec"]["chart"]["secretRef"] == {"name": "nordmart-git-auth"}
        assert hr["spec"]["chart"]["git"] == ep["spec"]["application"]["release"]["chart"]["git"]
    else:
        source = cluster.server.get(*GIT_REPO, RELEASE, NS)
        assert source is not None
        validate(source)
        assert source["spec"]["secretRef"] == {"name": "nordmart-git-auth"}
        assert hr["spec"]["chart"]["spec"]["sourceRef"]["name"] == RELEASE

    status = cluster.wait(
        lambda: cluster.status().get("applicationStatus") == "pending" and cluster.status()
    )
    assert status["currentPhase"] == "Waiting For Next Reconciliation Loop"
    assert cluster.condition("Ready")["status"] == "Unknown"

    cluster.play_flux(flavour)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "deployed")
    status = cluster.status()
    assert status["currentPhase"] == "Waiting For Next Reconciliation Loop"
    assert status["namespaceLabels"] == {
        "kind": "pr",
        "stakater.com/tenant": "veeru",
        "team": "gabbar",
    }
    assert status["observedGeneration"] == 1
    if flavour is ReleaseFlavour.LEGACY:
        assert status["applicationStatusMsg"] == SUCCESS_MESSAGE
    for type_ in ("NamespaceReady", "SecretsReady", "ReleaseReady", "Ready"):
        assert cluster.condition(type_)["status"] == "True", type_
        assert cluster.condition(type_)["observedGeneration"] == 1

    cluster.wait(lambda: any(reason == "Ready" for _, reason, _ in cluster.events()))
    events = cluster.events()
    unconfined = ["Unconfined"] if flavour is ReleaseFlavour.LEGACY else []
    assert sorted(reason for _, reason, _ in events) == ["Provisioned", "Ready", *unconfined]
    provisioned = next(message for _, reason, message in events if reason == "Provisioned")
    for created in ("Namespace", "Secret 'nordmart-git-auth'", "HelmRelease"):
        assert created in provisioned
    for _, _, message in cluster.events():
        assert "replace-me" not in message
