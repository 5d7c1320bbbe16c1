"""The emulated API server: replace, patch, status subresource, delete, finalizers and GC."""

from __future__ import annotations

import kubernetes.client as k
import pytest

from tests.apiserver import EmulatedAPIServer
from tests.apiserver.helpers import error_status, raw_request
from tronador.api.constants import API_VERSION, EP_PLURAL, GROUP, VERSION

CONFIGS = "tronadorconfigs"


def make_ep(custom: k.CustomObjectsApi, name: str = "ep1", **metadata: object) -> dict:
    body = {"metadata": {"name": name, **metadata}, "spec": {"replicas": 1}}
    return custom.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, body)


def get_ep(custom: k.CustomObjectsApi, name: str = "ep1") -> dict:
    return custom.get_cluster_custom_object(GROUP, VERSION, EP_PLURAL, name)


# -- replace -----------------------------------------------------------------------------------


def test_replace_with_a_stale_resource_version_is_409_conflict(core: k.CoreV1Api) -> None:
    stale = core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "data": {"a": "YQ=="}}
    )
    fresh = core.read_namespaced_secret("s", "default")
    fresh.data = {"a": "Yg=="}
    core.replace_namespaced_secret("s", "default", fresh)
    stale.data = {"a": "Yw=="}
    with pytest.raises(k.ApiException) as caught:
        core.replace_namespaced_secret("s", "default", stale)
    assert caught.value.status == 409
    body = error_status(caught.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on secrets "s": the object has been modified; please apply '
        "your changes to the latest version and try again"
    )
    assert core.read_namespaced_secret("s", "default").data == {"a": "Yg=="}


def test_replace_without_resource_version_is_unconditional(custom: k.CustomObjectsApi) -> None:
    created = make_ep(custom)
    replaced = custom.replace_cluster_custom_object(
        GROUP, VERSION, EP_PLURAL, "ep1", {"metadata": {"name": "ep1"}, "spec": {"replicas": 2}}
    )
    assert replaced["spec"] == {"replicas": 2}
    assert int(replaced["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )
    # system metadata survives a replace that does not carry it
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]
    assert replaced["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]


def test_replace_with_another_name_is_400(custom: k.CustomObjectsApi) -> None:
    make_ep(custom)
    with pytest.raises(k.ApiException) as caught:
        custom.replace_cluster_custom_object(
            GROUP, VERSION, EP_PLURAL, "ep1", {"metadata": {"name": "ep2"}}
        )
    assert caught.value.status == 400
    assert error_status(caught.value)["message"] == (
        "the name of the object (ep2) does not match the name on the URL (ep1)"
    )


def test_replace_missing_is_404(core: k.CoreV1Api) -> None:
    with pytest.raises(k.ApiException) as caught:
        core.replace_namespaced_secret("nope", "default", {"metadata": {"name": "nope"}})
    assert caught.value.status == 404


def test_secret_type_is_immutable(core: k.CoreV1Api) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    with pytest.raises(k.ApiException) as caught:
        core.patch_namespaced_secret("s", "default", {"type": "kubernetes.io/tls"})
    assert caught.value.status == 422
    assert error_status(caught.value)["details"]["causes"][0]["field"] == "type"


# -- patch -------------------------------------------------------------------------------------


def test_merge_patch_follows_rfc_7386(custom: k.CustomObjectsApi) -> None:
    make_ep(custom, labels={"a": "1", "b": "2"})
    patched = custom.patch_cluster_custom_object(
        GROUP,
        VERSION,
        EP_PLURAL,
        "ep1",
        {"metadata": {"labels": {"a": None, "c": "3"}}, "spec": {"image": {"tag": "v2"}}},
    )
    assert patched["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert patched["spec"] == {"replicas": 1, "image": {"tag": "v2"}}


def test_json_patch_applies_rfc_6902(custom: k.CustomObjectsApi) -> None:
    make_ep(custom, finalizers=["a.io/x", "b.io/y"])
    patched = custom.patch_cluster_custom_object(
        GROUP,
        VERSION,
        EP_PLURAL,
        "ep1",
        [
            {"op": "test", "path": "/metadata/finalizers/0", "value": "a.io/x"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
        ],
        _content_type="application/json-patch+json",
    )
    assert patched["metadata"]["finalizers"] == ["b.io/y"]
    assert patched["spec"]["replicas"] == 3


def test_json_patch_with_a_failing_test_op_is_422_and_changes_nothing(
    core: k.CoreV1Api, apiserver: EmulatedAPIServer
) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "s", "labels": {"a": "1"}}})
    before = apiserver.get("v1", "secrets", "s", "default")
    with pytest.raises(k.ApiException) as caught:
        core.patch_namespaced_secret(
            "s",
            "default",
            [
                {"op": "replace", "path": "/metadata/labels/a", "value": "2"},
                {"op": "test", "path": "/metadata/labels/a", "value": "1"},
            ],
        )
    assert caught.value.status == 422
    # the generic answer of NewGenericServerResponse(422, ...), as the real server gives
    assert error_status(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid",
        "details": {},
        "code": 422,
    }
    assert apiserver.get("v1", "secrets", "s", "default") == before


def test_strategic_merge_patch_merges_named_lists_on_builtin_kinds(core: k.CoreV1Api) -> None:
    core.create_namespaced_service_account(
        "default", {"metadata": {"name": "sa"}, "imagePullSecrets": [{"name": "one"}]}
    )
    patched = core.patch_namespaced_service_account(
        "sa", "default", {"imagePullSecrets": [{"name": "two"}]}
    )
    assert [s.name for s in patched.image_pull_secrets] == ["one", "two"]


def test_strategic_merge_patch_adds_to_finalizers_rather_than_replacing(
    core: k.CoreV1Api,
) -> None:
    """metadata.finalizers is patchStrategy=merge: a strategic patch cannot drop one by leaving
    it out, it takes $deleteFromPrimitiveList (or a merge/JSON patch)."""
    core.create_namespaced_secret("default", {"metadata": {"name": "s", "finalizers": ["a.io/x"]}})
    kept = core.patch_namespaced_secret("s", "default", {"metadata": {"finalizers": ["b.io/y"]}})
    assert kept.metadata.finalizers == ["a.io/x", "b.io/y"]
    still = core.patch_namespaced_secret("s", "default", {"metadata": {"finalizers": []}})
    assert still.metadata.finalizers == ["a.io/x", "b.io/y"]
    dropped = core.patch_namespaced_secret(
        "s", "default", {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/x"]}}
    )
    assert dropped.metadata.finalizers == ["b.io/y"]
    cleared = core.patch_namespaced_secret("s", "default", {"metadata": {"finalizers": None}})
    assert cleared.metadata.finalizers is None


def test_strategic_merge_patch_merges_owner_references_by_uid(core: k.CoreV1Api) -> None:
    one = {"apiVersion": "v1", "kind": "ConfigMap", "name": "one", "uid": "u1"}
    two = {"apiVersion": "v1", "kind": "ConfigMap", "name": "two", "uid": "u2"}
    core.create_namespaced_secret("default", {"metadata": {"name": "s", "ownerReferences": [one]}})
    patched = core.patch_namespaced_secret("s", "default", {"metadata": {"ownerReferences": [two]}})
    assert [r.uid for r in patched.metadata.owner_references] == ["u1", "u2"]
    removed = core.patch_namespaced_secret(
        "s", "default", {"metadata": {"ownerReferences": [{"uid": "u1", "$patch": "delete"}]}}
    )
    assert [r.uid for r in removed.metadata.owner_references] == ["u2"]


def test_strategic_merge_patch_on_a_custom_resource_is_415(custom: k.CustomObjectsApi) -> None:
    make_ep(custom)
    with pytest.raises(k.ApiException) as caught:
        custom.patch_cluster_custom_object(
            GROUP,
            VERSION,
            EP_PLURAL,
            "ep1",
            {"spec": {}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert caught.value.status == 415


def test_patch_carrying_a_stale_resource_version_is_409(custom: k.CustomObjectsApi) -> None:
    created = make_ep(custom)
    custom.patch_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1", {"spec": {"replicas": 2}})
    with pytest.raises(k.ApiException) as caught:
        custom.patch_cluster_custom_object(
            GROUP,
            VERSION,
            EP_PLURAL,
            "ep1",
            {
                "metadata": {"resourceVersion": created["metadata"]["resourceVersion"]},
                "spec": {"replicas": 3},
            },
        )
    assert caught.value.status == 409
    assert get_ep(custom)["spec"]["replicas"] == 2


def test_generation_bumps_only_when_spec_changes(custom: k.CustomObjectsApi) -> None:
    make_ep(custom)
    labelled = custom.patch_cluster_custom_object(
        GROUP, VERSION, EP_PLURAL, "ep1", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    status = custom.patch_cluster_custom_object_status(
        GROUP, VERSION, EP_PLURAL, "ep1", {"status": {"phase": "x"}}
    )
    assert status["metadata"]["generation"] == 1
    spec = custom.patch_cluster_custom_object(
        GROUP, VERSION, EP_PLURAL, "ep1", {"spec": {"replicas": 5}}
    )
    assert spec["metadata"]["generation"] == 2


def test_noop_writes_keep_the_resource_version(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    created = core.create_namespaced_secret(
        "default", {"metadata": {"name": "s", "labels": {"a": "1"}}}
    )
    before = apiserver.resource_version
    same = core.patch_namespaced_secret("s", "default", {"metadata": {"labels": {"a": "1"}}})
    replaced = core.replace_namespaced_secret(
        "s", "default", core.read_namespaced_secret("s", "default")
    )
    assert same.metadata.resource_version == created.metadata.resource_version
    assert replaced.metadata.resource_version == created.metadata.resource_version
    assert apiserver.resource_version == before


# -- status subresource ------------------------------------------------------------------------


def test_status_subresource_writes_change_only_status(custom: k.CustomObjectsApi) -> None:
    created = custom.create_cluster_custom_object(
        GROUP,
        VERSION,
        EP_PLURAL,
        {"metadata": {"name": "ep1"}, "spec": {"replicas": 1}, "status": {"phase": "Fake"}},
    )
    assert "status" not in created  # dropped on create when the subresource exists

    written = custom.replace_cluster_custom_object_status(
        GROUP,
        VERSION,
        EP_PLURAL,
        "ep1",
        {
            "metadata": {"name": "ep1", "labels": {"ignored": "yes"}},
            "spec": {"replicas": 9},
            "status": {"phase": "Ready"},
        },
    )
    assert written["status"] == {"phase": "Ready"}
    assert written["spec"] == {"replicas": 1}
    assert "labels" not in written["metadata"]
    assert written["metadata"]["generation"] == 1
    assert int(written["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert custom.get_cluster_custom_object_status(GROUP, VERSION, EP_PLURAL, "ep1")["status"] == {
        "phase": "Ready"
    }


def test_main_resource_writes_ignore_status(custom: k.CustomObjectsApi) -> None:
    make_ep(custom)
    custom.patch_cluster_custom_object_status(
        GROUP, VERSION, EP_PLURAL, "ep1", {"status": {"phase": "Ready"}}
    )
    patched = custom.patch_cluster_custom_object(
        GROUP, VERSION, EP_PLURAL, "ep1", {"spec": {"replicas": 2}, "status": {"phase": "Hacked"}}
    )
    assert patched["status"] == {"phase": "Ready"}
    current = get_ep(custom)
    current["status"] = None
    replaced = custom.replace_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1", current)
    assert replaced["status"] == {"phase": "Ready"}


def test_status_of_a_kind_without_the_subresource_is_404(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    status, body = raw_request(apiserver.url, "GET", "/api/v1/namespaces/default/secrets/s/status")
    assert status == 404
    assert body["reason"] == "NotFound"
    status, _ = raw_request(
        apiserver.url,
        "PUT",
        "/api/v1/namespaces/default/secrets/s/status",
        {"metadata": {"name": "s"}, "status": {}},
    )
    assert status == 404


def test_status_stays_part_of_the_object_without_the_subresource(core: k.CoreV1Api) -> None:
    created = core.create_namespaced_config_map(
        "default", {"metadata": {"name": "c"}, "data": {"a": "b"}}
    )
    assert created.data == {"a": "b"}


# -- delete ------------------------------------------------------------------------------------


def test_delete_answers_a_success_status_or_the_object(
    core: k.CoreV1Api, custom: k.CustomObjectsApi
) -> None:
    make_ep(custom)
    answer = custom.delete_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1")
    assert answer["kind"] == "Status"
    assert answer["status"] == "Success"
    assert answer["details"]["name"] == "ep1"
    core.create_namespaced_service_account("default", {"metadata": {"name": "sa"}})
    raw = core.delete_namespaced_service_account("sa", "default", _preload_content=False)
    assert b'"kind":"ServiceAccount"' in raw.data
    with pytest.raises(k.ApiException) as caught:
        custom.delete_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1")
    assert caught.value.status == 404


def test_finalizers_hold_deletion_until_the_last_is_removed(
    apiserver: EmulatedAPIServer, custom: k.CustomObjectsApi
) -> None:
    make_ep(custom, finalizers=["tronador.stakater.com/cleanup"])
    deleting = custom.delete_cluster_custom_object(
        GROUP, VERSION, EP_PLURAL, "ep1", propagation_policy="Foreground"
    )
    assert deleting["kind"] == "EnvironmentProvisioner"
    assert deleting["metadata"]["deletionTimestamp"].endswith("Z")
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 0
    assert deleting["metadata"]["generation"] == 2  # the real server bumps it on graceful deletion

    # spec may still change; new finalizers are refused
    custom.patch_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1", {"spec": {"replicas": 0}})
    with pytest.raises(k.ApiException) as caught:
        custom.patch_cluster_custom_object(
            GROUP,
            VERSION,
            EP_PLURAL,
            "ep1",
            {"metadata": {"finalizers": ["tronador.stakater.com/cleanup", "other.io/x"]}},
        )
    assert caught.value.status == 422
    assert error_status(caught.value)["message"] == (
        'EnvironmentProvisioner.tronador.stakater.com "ep1" is invalid: metadata.finalizers: '
        "Forbidden: no new finalizers can be added if the object is being deleted, found new "
        'finalizers []string{"other.io/x"}'
    )
    assert get_ep(custom)["metadata"]["finalizers"] == ["tronador.stakater.com/cleanup"]

    rv = apiserver.resource_version
    custom.patch_cluster_custom_object(
        GROUP, VERSION, EP_PLURAL, "ep1", {"metadata": {"finalizers": None}}
    )
    assert apiserver.get(API_VERSION, EP_PLURAL, "ep1") is None
    events = apiserver.store.events_since(int(rv))
    assert [e.type for e in events] == ["DELETED"]


def test_deleting_twice_keeps_the_first_deletion_timestamp(custom: k.CustomObjectsApi) -> None:
    make_ep(custom, finalizers=["a.io/x"])
    first = custom.delete_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1")
    second = custom.delete_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1")
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_delete_preconditions(core: k.CoreV1Api) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    with pytest.raises(k.ApiException) as caught:
        core.delete_namespaced_secret("s", "default", body={"preconditions": {"uid": "not-it"}})
    assert caught.value.status == 409
    assert (
        "Precondition failed: UID in precondition: not-it" in error_status(caught.value)["message"]
    )
    core.read_namespaced_secret("s", "default")


def test_namespace_deletion_removes_its_content_then_itself(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api, custom: k.CustomObjectsApi
) -> None:
    core.create_namespace({"metadata": {"name": "env"}})
    core.create_namespaced_secret("env", {"metadata": {"name": "plain"}})
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "env", CONFIGS, {"metadata": {"name": "held", "finalizers": ["x.io/hold"]}}
    )
    core.create_namespaced_secret("default", {"metadata": {"name": "elsewhere"}})

    core.delete_namespace("env")
    ns = core.read_namespace("env")
    assert ns.status.phase == "Terminating"
    assert ns.metadata.deletion_timestamp is not None
    assert apiserver.get("v1", "secrets", "plain", "env") is None
    held = custom.get_namespaced_custom_object(GROUP, VERSION, "env", CONFIGS, "held")
    assert held["metadata"]["deletionTimestamp"]

    custom.patch_namespaced_custom_object(
        GROUP, VERSION, "env", CONFIGS, "held", {"metadata": {"finalizers": []}}
    )
    with pytest.raises(k.ApiException) as caught:
        core.read_namespace("env")
    assert caught.value.status == 404
    assert apiserver.get("v1", "secrets", "elsewhere", "default") is not None


def test_owner_references_cascade_from_a_cluster_scoped_owner(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api, custom: k.CustomObjectsApi
) -> None:
    """Garbage collection, background propagation: EP -> Namespace -> its content."""
    owner = make_ep(custom)
    ref = {
        "apiVersion": API_VERSION,
        "kind": "EnvironmentProvisioner",
        "name": "ep1",
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    core.create_namespace({"metadata": {"name": "env", "ownerReferences": [ref]}})
    core.create_namespaced_secret("env", {"metadata": {"name": "s"}})
    other = core.create_namespaced_config_map("default", {"metadata": {"name": "common"}})
    other_ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "common",
        "uid": other.metadata.uid,
    }
    core.create_namespaced_secret(
        "default", {"metadata": {"name": "two-owners", "ownerReferences": [ref, other_ref]}}
    )

    custom.delete_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1")

    assert apiserver.get("v1", "namespaces", "env") is None
    assert apiserver.get("v1", "secrets", "s", "env") is None
    survivor = apiserver.get("v1", "secrets", "two-owners", "default")
    assert survivor["metadata"]["ownerReferences"] == [other_ref]


def test_orphan_propagation_keeps_dependents(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_secret(
        "default", {"metadata": {"name": "dep", "ownerReferences": [ref]}}
    )
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")
    dependent = apiserver.get("v1", "secrets", "dep", "default")
    assert dependent is not None
    assert "ownerReferences" not in dependent["metadata"]


def test_delete_collection_honours_selectors(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "a", "labels": {"x": "1"}}})
    core.create_namespaced_secret("default", {"metadata": {"name": "b"}})
    core.delete_collection_namespaced_secret("default", label_selector="x=1")
    assert [s["metadata"]["name"] for s in apiserver.list("v1", "secrets", "default")] == ["b"]
