"""The controller's writes are server-side applies (field manager `tronador`, never forced): what
it applies is ours, fields other managers own are left to them and told."""

from __future__ import annotations

from typing import Any

from controller.settings import ReleaseFlavour
from kube.api import APPLY_PATCH
from tests.apiserver import Fault
from tests.controller.harness import EP_API, EP_NAME, NS, Cluster, settings
from tronador.api.constants import OWNER_UID_ANNOTATION

FLUX = ReleaseFlavour.FLUX_V2
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace"}
OWNED = {
    "app.kubernetes.io/managed-by": "tronador.stakater.com",
    "tronador.stakater.com/environment": EP_NAME,
}


def _deployed(cluster: Cluster) -> None:
    cluster.seed_config()
    cluster.create_ep()
    cluster.start(settings(FLUX))
    cluster.wait(lambda: cluster.release(FLUX))
    cluster.play_flux(FLUX)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "deployed")


def _namespace(cluster: Cluster) -> dict[str, Any]:
    return cluster.server.get("v1", "namespaces", NS) or {}


def _managers(obj: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (e["manager"], e["operation"], e.get("subresource", "")): e["fieldsV1"]
        for e in obj["metadata"].get("managedFields", [])
    }


def test_every_write_of_a_new_ep_is_an_apply_by_tronador(cluster: Cluster) -> None:
    """But the namespace's claim: a create (never an apply, so an existing namespace is only
    read), by `tronador`, of our ownership labels and the owner's UID."""
    _deployed(cluster)
    writes = [r for r in cluster.server.writes() if r.plural != "events"]
    claims = [r for r in writes if r.method == "POST"]
    assert [(r.plural, r.name, r.query.get("fieldManager")) for r in claims] == [
        ("namespaces", None, "tronador")
    ]
    assert claims[0].body["metadata"]["annotations"] == {
        OWNER_UID_ANNOTATION: (cluster.ep() or {})["metadata"]["uid"]
    }
    for r in writes:
        if r.method == "POST":
            continue
        assert (r.method, r.content_type, r.query.get("fieldManager")) == (
            "PATCH",
            APPLY_PATCH,
            "tronador",
        ), (r.plural, r.name, r.subresource)
        assert "force" not in r.query
    labels = _managers(_namespace(cluster))[("tronador", "Apply", "")]["f:metadata"]["f:labels"]
    assert {"f:team", "f:app.kubernetes.io/managed-by"} <= set(labels)
    ep = cluster.ep() or {}
    assert ("tronador", "Apply", "status") in _managers(ep)


def test_a_label_another_manager_owns_is_left_to_it_and_reported(cluster: Cluster) -> None:
    _deployed(cluster)
    ours = {"metadata": {"name": NS, "labels": {"team": "ops-team"}}}
    cluster.server.apply({**NAMESPACE, **ours}, "ops", force=True)
    cluster.server.patch(
        EP_API, "environmentprovisioners", EP_NAME, None, {"spec": {"namespaceLabels": {"x": "y"}}}
    )
    cluster.wait(lambda: _namespace(cluster)["metadata"]["labels"].get("x") == "y")
    assert _namespace(cluster)["metadata"]["labels"]["team"] == "ops-team"
    message = cluster.wait(
        lambda: (
            "left to other managers" in cluster.condition("NamespaceReady")["message"]
            and cluster.condition("NamespaceReady")["message"]
        )
    )
    assert ".metadata.labels.team (owned by 'ops')" in message
    assert cluster.condition("NamespaceReady")["status"] == "True"
    assert "team" not in cluster.status()["namespaceLabels"]
    assert cluster.status()["applicationStatus"] == "deployed"


def test_a_conflict_the_server_answers_is_yielded_told_and_the_rest_applied(
    cluster: Cluster,
) -> None:
    cause = {
        "type": "FieldManagerConflict",
        "message": 'conflict with "ops" using v1',
        "field": ".metadata.labels.team",
    }
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": "Conflict",
        "code": 409,
        "message": 'Apply failed with 1 conflict: conflict with "ops": .metadata.labels.team',
        "details": {"name": NS, "kind": "namespaces", "causes": [cause]},
    }
    fault = cluster.server.faults.add(
        Fault(method="PATCH", path_regex=rf"/namespaces/{NS}$", status=409, body=status)
    )
    _deployed(cluster)
    assert fault.fired == 1
    warnings = [e for e in cluster.events() if e[1] == "FieldConflict"]
    assert len(warnings) == 1 and warnings[0][0] == "Warning"
    assert "Namespace" in warnings[0][2] and "'ops'" in warnings[0][2]
    assert warnings[0][2].count(".metadata.labels.team") == 1
    applies = [r for r in cluster.server.writes() if r.plural == "namespaces" and r.verb == "patch"]
    first, second = applies[:2]
    assert (first.status, second.status) == (409, 200)  # the claim created it
    assert "team" in first.body["metadata"]["labels"]
    assert "team" not in second.body["metadata"]["labels"]
    assert second.body["metadata"]["labels"]["kind"] == "pr"


def test_a_namespace_someone_else_created_is_not_taken_over(cluster: Cluster) -> None:
    cluster.seed_config()
    theirs = {"metadata": {"name": NS, "labels": {"owner": "ops"}}}
    cluster.server.apply({**NAMESPACE, **theirs}, "ops")
    cluster.create_ep()
    cluster.start(settings(FLUX))
    cluster.wait(lambda: cluster.condition("NamespaceReady").get("reason") == "NamespaceConflict")
    ns = _namespace(cluster)
    assert ns["metadata"]["labels"] == {"owner": "ops", "kubernetes.io/metadata.name": NS}
    assert "ownerReferences" not in ns["metadata"]
    assert cluster.release(FLUX) is None


def test_a_namespace_label_dropped_from_the_spec_goes_by_applying_without_it(
    cluster: Cluster,
) -> None:
    _deployed(cluster)
    cluster.server.patch(
        EP_API,
        "environmentprovisioners",
        EP_NAME,
        None,
        {"spec": {"namespaceLabels": {"team": None}}},
    )
    cluster.wait(lambda: "team" not in _namespace(cluster)["metadata"]["labels"])
    applied = _managers(_namespace(cluster))[("tronador", "Apply", "")]
    assert "f:team" not in applied["f:metadata"]["f:labels"]


def test_a_secret_someone_else_created_gets_back_only_its_own_fields(cluster: Cluster) -> None:
    """Not in our (label-filtered) cache, in a namespace that existed before this reconcile,
    the Secret is read before any apply: found to be someone else's, it is never written to,
    and the step fails."""
    cluster.seed_config()
    uid = cluster.create_ep()["metadata"]["uid"]
    recorded = {OWNER_UID_ANNOTATION: uid}
    cluster.server.seed(
        {**NAMESPACE, "metadata": {"name": NS, "labels": OWNED, "annotations": recorded}}
    )
    theirs = {"name": "nordmart-git-auth", "namespace": NS, "labels": {"owner": "ops"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth"}
    cluster.server.apply({**secret, "metadata": theirs}, "ops")
    controller = cluster.start(settings(FLUX))
    cluster.wait(lambda: cluster.condition("SecretsReady").get("reason") == "SecretConflict")
    for change in ("1", "2"):  # later reconciles only read it: no write ever lands in theirs
        before = controller.reconciles
        relabel = {"metadata": {"labels": {"r": change}}}
        cluster.server.patch(EP_API, "environmentprovisioners", EP_NAME, None, relabel)
        cluster.wait(lambda before=before: controller.reconciles > before)  # type: ignore[misc]
        cluster.wait_settled(controller)
    stored = cluster.server.get("v1", "secrets", "nordmart-git-auth", NS) or {}
    assert stored["metadata"]["labels"] == {"owner": "ops"}
    assert "data" not in stored
    assert cluster.release(FLUX) is None
    writes = [w for w in cluster.server.writes() if (w.plural, w.name) == SECRET_OF_THEIRS]
    assert writes == [], "read, found to be theirs, never applied to"

    cluster.server.delete("v1", "secrets", "nordmart-git-auth", NS)
    cluster.server.patch(
        EP_API, "environmentprovisioners", EP_NAME, None, {"metadata": {"labels": {"r": "3"}}}
    )
    cluster.wait(lambda: cluster.condition("SecretsReady").get("reason") == "Copied")


SECRET_OF_THEIRS = ("secrets", "nordmart-git-auth")
