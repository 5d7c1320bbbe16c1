"""What a metadata-only cache (the Namespaces') keeps of an object."""

from __future__ import annotations

from kube.api import FIELD_MANAGER
from kube.informer import metadata_only


def _entry(manager: str) -> dict:
    return {"manager": manager, "operation": "Apply", "fieldsV1": {"f:metadata": {}}}


def test_spec_status_and_other_managers_entries_are_dropped_ours_is_kept() -> None:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "pr-1",
            "labels": {"team": "a"},
            "managedFields": [_entry("kube-controller-manager"), _entry(FIELD_MANAGER)],
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    kept = metadata_only(namespace)
    assert kept == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "pr-1",
            "labels": {"team": "a"},
            "managedFields": [_entry(FIELD_MANAGER)],
        },
    }


def test_no_entry_of_ours_keeps_no_managed_fields() -> None:
    obj = {"metadata": {"name": "x", "managedFields": [_entry("kubectl")]}}
    assert "managedFields" not in metadata_only(obj)["metadata"]
