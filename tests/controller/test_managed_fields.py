"""Reading server-side apply's managedFields: when an apply would change nothing, and which
fields another manager owns."""

from __future__ import annotations

from typing import Any

from controller.managed_fields import (
    applied_paths,
    conflicting_fields,
    foreign_fields,
    holds,
    owned_paths,
    path_text,
    up_to_date,
    without,
)

CONFIG: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ServiceAccount",
    "metadata": {"name": "default", "namespace": "ns", "labels": {"team": "a"}},
    "imagePullSecrets": [{"name": "ours"}],
}
OURS_V1 = {
    "f:metadata": {"f:labels": {".": {}, "f:team": {}}},
    "f:imagePullSecrets": {'k:{"name":"ours"}': {".": {}, "f:name": {}}},
}


def _stored(fields_v1: dict[str, Any], **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "default",
            "namespace": "ns",
            "labels": {"team": "a", "other": "x"},
            "managedFields": [
                {"manager": "tronador", "operation": "Apply", "fieldsV1": fields_v1},
                {
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "fieldsV1": {"f:secrets": {}},
                },
            ],
        },
        "imagePullSecrets": [{"name": "theirs"}, {"name": "ours"}],
        "secrets": [{"name": "token"}],
    }
    obj.update(extra)
    return obj


def test_the_applied_field_set_leaves_out_identity_and_stops_at_lists() -> None:
    assert applied_paths(CONFIG) == {("metadata", "labels", "team"), ("imagePullSecrets",)}


def test_the_owned_field_set_counts_a_list_with_items_as_one_field() -> None:
    assert owned_paths(OURS_V1) == {("metadata", "labels", "team"), ("imagePullSecrets",)}
    assert owned_paths({"f:spec": {".": {}, "f:values": {"f:a": {}}}}) == {("spec", "values", "a")}


def test_an_object_holding_our_config_under_our_entry_is_up_to_date() -> None:
    assert up_to_date(_stored(OURS_V1), CONFIG)


def test_a_value_someone_changed_is_not_up_to_date() -> None:
    stored = _stored(OURS_V1)
    stored["metadata"]["labels"]["team"] = "b"
    assert not up_to_date(stored, CONFIG)
    stored = _stored(OURS_V1, imagePullSecrets=[{"name": "theirs"}])
    assert not up_to_date(stored, CONFIG)


def test_a_field_we_stopped_wanting_but_still_own_is_not_up_to_date() -> None:
    config = {**CONFIG, "metadata": {"name": "default", "namespace": "ns"}}
    assert holds(_stored(OURS_V1), config)
    assert not up_to_date(_stored(OURS_V1), config)


def test_an_object_without_our_apply_entry_is_not_up_to_date() -> None:
    stored = _stored(OURS_V1)
    stored["metadata"]["managedFields"][0]["operation"] = "Update"
    assert not up_to_date(stored, CONFIG)
    assert not up_to_date(None, CONFIG)


def test_status_is_compared_with_the_status_entry() -> None:
    config = {"metadata": {"name": "ep"}, "status": {"phase": "x"}}
    stored = {
        "metadata": {
            "name": "ep",
            "managedFields": [
                {
                    "manager": "tronador",
                    "operation": "Apply",
                    "subresource": "status",
                    "fieldsV1": {"f:status": {"f:phase": {}}},
                }
            ],
        },
        "spec": {"a": 1},
        "status": {"phase": "x"},
    }
    assert up_to_date(stored, config, subresource="status")
    assert not up_to_date(stored, config)


def test_a_field_another_manager_owns_with_another_value_is_foreign() -> None:
    stored = _stored(OURS_V1)
    stored["metadata"]["labels"]["team"] = "theirs"
    stored["metadata"]["managedFields"].append(
        {
            "manager": "ops",
            "operation": "Apply",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}},
        }
    )
    assert foreign_fields(stored, CONFIG) == {("metadata", "labels", "team"): "ops"}


def test_what_our_pre_apply_versions_wrote_is_foreign_unless_adopted() -> None:
    stored = _stored(OURS_V1)
    stored["metadata"]["labels"]["team"] = "before"
    stored["metadata"]["managedFields"].append(
        {
            "manager": "OpenAPI-Generator",
            "operation": "Update",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}},
        }
    )
    label = ("metadata", "labels", "team")
    assert foreign_fields(stored, CONFIG) == {label: "OpenAPI-Generator"}
    assert foreign_fields(stored, CONFIG, adopt_legacy=True) == {}
    stored["metadata"]["managedFields"][-1]["operation"] = "Apply"  # someone else's apply
    assert foreign_fields(stored, CONFIG, adopt_legacy=True) == {label: "OpenAPI-Generator"}


def test_a_field_another_manager_shares_with_our_value_is_not_foreign() -> None:
    stored = _stored(OURS_V1)
    stored["metadata"]["managedFields"].append(
        {
            "manager": "ops",
            "operation": "Apply",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}},
        }
    )
    assert foreign_fields(stored, CONFIG) == {}


def test_others_items_of_a_keyed_list_beside_ours_are_not_foreign() -> None:
    stored = _stored(OURS_V1)
    theirs = {"f:imagePullSecrets": {'k:{"name":"theirs"}': {".": {}}}}
    stored["metadata"]["managedFields"].append(
        {"manager": "kubectl", "operation": "Update", "fieldsV1": theirs}
    )
    assert foreign_fields(stored, CONFIG) == {}


def test_an_atomic_list_another_manager_set_without_our_item_is_foreign() -> None:
    stored = _stored(OURS_V1, imagePullSecrets=[{"name": "theirs"}])
    stored["metadata"]["managedFields"].append(
        {"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:imagePullSecrets": {}}}
    )
    assert foreign_fields(stored, CONFIG) == {("imagePullSecrets",): "kubectl"}


def test_without_drops_the_fields_and_maps_left_empty() -> None:
    out = without(CONFIG, [("metadata", "labels", "team")])
    assert out["metadata"] == {"name": "default", "namespace": "ns"}
    assert CONFIG["metadata"]["labels"] == {"team": "a"}


def test_the_fields_of_a_409_are_read_from_its_causes() -> None:
    config = {"metadata": {"name": "n", "labels": {"stakater.com/tenant": "a", "team": "b"}}}
    causes = [
        (".metadata.labels.stakater.com/tenant", 'conflict with "ops" using v1'),
        (".metadata.labels.unknown", 'conflict with "x"'),
    ]
    assert conflicting_fields(config, causes) == {
        ("metadata", "labels", "stakater.com/tenant"): "ops"
    }
    assert path_text(("metadata", "labels", "team")) == ".metadata.labels.team"
