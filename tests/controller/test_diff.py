from __future__ import annotations

from controller.diff import (
    HASH_ANNOTATION,
    apply_label_changes,
    contains,
    label_changes,
    merged_for_update,
    needs_update,
    with_hash,
)


def _desired() -> dict:
    return with_hash(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "n", "labels": {"a": "1"}},
            "data": {"k": "dg=="},
            "type": "Opaque",
        }
    )


def _stored(desired: dict) -> dict:
    stored = merged_for_update(
        desired, {"metadata": {"name": "s", "namespace": "n", "resourceVersion": "7"}}
    )
    stored["metadata"]["uid"] = "u"
    return stored


def test_an_object_as_written_needs_no_update() -> None:
    desired = _desired()
    assert not needs_update(desired, _stored(desired))


def test_server_defaults_and_foreign_labels_are_not_drift() -> None:
    desired = _desired()
    stored = _stored(desired)
    stored["metadata"]["labels"]["someone"] = "else"
    stored["immutable"] = False
    assert not needs_update(desired, stored)


def test_an_edited_field_is_drift() -> None:
    desired = _desired()
    stored = _stored(desired)
    stored["data"]["k"] = "b3RoZXI="
    assert needs_update(desired, stored)


def test_a_field_we_stopped_setting_is_noticed_by_the_hash() -> None:
    old = _desired()
    old_body = {**old, "data": {"k": "dg==", "gone": "eA=="}}
    stored = _stored(with_hash({k: v for k, v in old_body.items()}))
    assert needs_update(_desired(), stored)


def test_merge_keeps_server_metadata_and_replaces_content() -> None:
    desired = _desired()
    actual = {
        "metadata": {
            "name": "s",
            "resourceVersion": "9",
            "labels": {"other": "x"},
            "annotations": {HASH_ANNOTATION: "old"},
            "finalizers": ["f"],
        },
        "data": {"old": "eA=="},
        "stringData": {"ignored": "x"},
    }
    merged = merged_for_update(desired, actual)
    assert merged["metadata"]["resourceVersion"] == "9"
    assert merged["metadata"]["finalizers"] == ["f"]
    assert merged["metadata"]["labels"] == {"other": "x", "a": "1"}
    assert merged["data"] == {"k": "dg=="}
    assert "stringData" not in merged


def test_contains_compares_lists_item_by_item() -> None:
    assert contains({"l": [{"a": 1, "b": 2}]}, {"l": [{"a": 1}]})
    assert not contains({"l": [{"a": 1}, {"a": 2}]}, {"l": [{"a": 1}]})


def test_label_changes_remove_only_labels_we_applied() -> None:
    current = {"kind": "pr", "team": "gabbar", "someone": "else", "managed": "yes"}
    wanted = {"kind": "pr", "managed": "yes", "new": "1"}
    changes = label_changes(current, wanted, previously_applied={"kind": "pr", "team": "gabbar"})
    assert changes == {"new": "1", "team": None}
    assert apply_label_changes(current, changes) == {
        "kind": "pr",
        "someone": "else",
        "managed": "yes",
        "new": "1",
    }
    assert label_changes(apply_label_changes(current, changes), wanted, {"kind": "pr"}) == {}


def test_an_empty_map_the_server_dropped_is_not_drift() -> None:
    assert contains({"metadata": {"name": "x"}}, {"metadata": {"name": "x", "labels": {}}})
    assert not contains(
        {"metadata": {"name": "x"}}, {"metadata": {"name": "x", "labels": {"a": "b"}}}
    )
