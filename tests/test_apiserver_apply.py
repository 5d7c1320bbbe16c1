"""The emulated API server: server-side apply (simplified; see tests/apiserver/README.md)."""

from __future__ import annotations

from typing import Any

import kubernetes.client as k
import pytest

from tests.apiserver.helpers import error_status
from tronador.api.constants import API_VERSION, EP_KIND, EP_PLURAL, GROUP, VERSION

APPLY = "application/apply-patch+yaml"


def apply_namespace(
    core: k.CoreV1Api, labels: dict[str, str], manager: str, force: bool = False, **more: Any
) -> dict[str, Any]:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": labels}}
    body["metadata"].update(more)
    result = core.api_client.sanitize_for_serialization(
        core.patch_namespace("n", body, field_manager=manager, force=force, _content_type=APPLY)
    )
    return result  # type: ignore[no-any-return]


def apply_account(core: k.CoreV1Api, manager: str, **fields: Any) -> dict[str, Any]:
    body = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa", "namespace": "default"},
        **fields,
    }
    result = core.patch_namespaced_service_account(
        "sa", "default", body, field_manager=manager, _content_type=APPLY
    )
    return core.api_client.sanitize_for_serialization(result)  # type: ignore[no-any-return]


def entries(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


def test_apply_creates_an_absent_object_and_records_the_managers_fields(
    core: k.CoreV1Api,
) -> None:
    created = apply_namespace(core, {"team": "a"}, "tronador")
    assert created["metadata"]["labels"]["team"] == "a"
    entry = entries(created)["tronador"]
    assert (entry["operation"], entry["fieldsType"]) == ("Apply", "FieldsV1")
    assert entry["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}}}
    assert core.read_namespace("n").metadata.labels["team"] == "a"


def test_apply_merges_maps_and_leaves_other_managers_fields(core: k.CoreV1Api) -> None:
    apply_namespace(core, {"team": "a"}, "tronador")
    merged = apply_namespace(core, {"owner": "ops"}, "ops")
    assert merged["metadata"]["labels"]["team"] == "a"
    assert merged["metadata"]["labels"]["owner"] == "ops"
    assert set(entries(merged)) == {"tronador", "ops"}


def test_a_field_the_manager_no_longer_applies_is_removed_unless_another_owns_it(
    core: k.CoreV1Api,
) -> None:
    apply_namespace(core, {"a": "1", "b": "2"}, "tronador")
    apply_namespace(core, {"b": "2"}, "ops")
    after = apply_namespace(core, {}, "tronador")
    assert "a" not in after["metadata"]["labels"]
    assert after["metadata"]["labels"]["b"] == "2"


def test_another_managers_field_with_another_value_is_a_409_naming_field_and_manager(
    core: k.CoreV1Api,
) -> None:
    apply_namespace(core, {"team": "ops"}, "ops")
    with pytest.raises(k.ApiException) as caught:
        apply_namespace(core, {"team": "ours", "other": "x"}, "tronador")
    assert caught.value.status == 409
    status = error_status(caught.value)
    assert status["reason"] == "Conflict"
    assert status["details"]["causes"] == [
        {
            "type": "FieldManagerConflict",
            "message": 'conflict with "ops"',
            "field": ".metadata.labels.team",
        }
    ]
    labels = core.read_namespace("n").metadata.labels
    assert labels["team"] == "ops" and "other" not in labels  # nothing of it applied


def test_the_same_value_is_shared_and_force_takes_a_field(core: k.CoreV1Api) -> None:
    apply_namespace(core, {"team": "ops"}, "ops")
    shared = apply_namespace(core, {"team": "ops"}, "tronador")
    assert set(entries(shared)) == {"ops", "tronador"}
    taken = apply_namespace(core, {"team": "ours"}, "tronador", force=True)
    assert taken["metadata"]["labels"]["team"] == "ours"
    assert "ops" not in entries(taken)  # its only field was taken


def test_lists_with_a_merge_key_are_merged_item_by_item_others_replaced(
    core: k.CoreV1Api,
) -> None:
    apply_account(core, "ops", imagePullSecrets=[{"name": "theirs"}], secrets=[{"name": "x"}])
    merged = apply_account(core, "tronador", imagePullSecrets=[{"name": "ours"}])
    assert merged["imagePullSecrets"] == [{"name": "theirs"}, {"name": "ours"}]
    assert entries(merged)["tronador"]["fieldsV1"] == {
        "f:imagePullSecrets": {'k:{"name":"ours"}': {".": {}}}
    }
    with pytest.raises(k.ApiException) as caught:  # `secrets`: atomic here
        apply_account(core, "tronador", secrets=[{"name": "y"}])
    assert caught.value.status == 409
    dropped = apply_account(core, "tronador")
    assert dropped["imagePullSecrets"] == [{"name": "theirs"}]


def test_finalizers_are_a_set(core: k.CoreV1Api) -> None:
    apply_namespace(core, {}, "a", finalizers=["x"])
    both = apply_namespace(core, {}, "b", finalizers=["y"])
    assert both["metadata"]["finalizers"] == ["x", "y"]


def test_a_repeated_apply_changes_nothing(core: k.CoreV1Api) -> None:
    first = apply_namespace(core, {"team": "a"}, "tronador")
    again = apply_namespace(core, {"team": "a"}, "tronador")
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_apply_needs_a_field_manager(core: k.CoreV1Api) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}
    with pytest.raises(k.ApiException) as caught:
        core.patch_namespace("n", body, _content_type=APPLY)
    assert caught.value.status == 400


def test_apply_to_status_writes_only_status_under_its_own_entry(
    custom: k.CustomObjectsApi,
) -> None:
    custom.create_cluster_custom_object(
        GROUP, VERSION, EP_PLURAL, {"metadata": {"name": "ep1"}, "spec": {"replicas": 1}}
    )
    config = {
        "apiVersion": API_VERSION,
        "kind": EP_KIND,
        "metadata": {"name": "ep1", "labels": {"ignored": "yes"}},
        "spec": {"replicas": 5},
        "status": {"phase": "x"},
    }
    result = custom.patch_cluster_custom_object_status(
        GROUP, VERSION, EP_PLURAL, "ep1", config, field_manager="tronador", _content_type=APPLY
    )
    assert result["status"] == {"phase": "x"}
    assert result["spec"] == {"replicas": 1}
    assert "labels" not in result["metadata"]
    entry = result["metadata"]["managedFields"][0]
    assert (entry["subresource"], entry["fieldsV1"]) == ("status", {"f:status": {"f:phase": {}}})
    main = custom.patch_cluster_custom_object(
        GROUP, VERSION, EP_PLURAL, "ep1", config, field_manager="tronador", _content_type=APPLY
    )
    assert main["spec"] == {"replicas": 5} and main["status"] == {"phase": "x"}
