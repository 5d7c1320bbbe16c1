from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.seeds import seed_environment_provisioner
from tronador.api import EnvironmentProvisioner, Policy
from tronador.api.constants import TTL_ANNOTATION
from tronador.rules.expiry import (
    LAST_UPDATE_ANNOTATION,
    ExpiryReason,
    TTLSource,
    decide,
    expires_at,
    format_duration,
    last_update,
    parse_timestamp,
    ttl_for,
)

CREATED = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
DAY = Policy.model_validate({"defaultTTL": "24h"})


def ep(annotations: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    obj = seed_environment_provisioner()
    obj.pop("status")
    obj["metadata"]["creationTimestamp"] = "2024-05-01T10:00:00Z"
    if annotations is not None:
        obj["metadata"]["annotations"] = annotations
    obj["metadata"].update(metadata)
    return obj


def spec_entry(time: str, manager: str = "kubectl", subresource: str | None = None) -> dict:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": "Apply",
        "time": time,
        "fieldsV1": {"f:spec": {"f:application": {}}},
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def test_no_ttl_anywhere_never_expires() -> None:
    decision = decide(ep(), Policy(), CREATED + timedelta(days=3650))
    assert not decision.expired
    assert decision.reason is ExpiryReason.NO_TTL
    assert expires_at(ep(), Policy()) is None


def test_policy_default_ttl_expires_after_creation_plus_ttl() -> None:
    assert expires_at(ep(), DAY) == CREATED + timedelta(hours=24)
    assert not decide(ep(), DAY, CREATED + timedelta(hours=23, minutes=59)).expired
    decision = decide(ep(), DAY, CREATED + timedelta(hours=25))
    assert decision.expired and decision.reason is ExpiryReason.EXPIRED
    assert "no update for 1d1h" in decision.message
    assert "TTL 24h from policy.defaultTTL" in decision.message


def test_expired_exactly_at_the_deadline() -> None:
    assert decide(ep(), DAY, CREATED + timedelta(hours=24)).expired


def test_annotation_overrides_the_policy_default() -> None:
    obj = ep({TTL_ANNOTATION: "72h"})
    assert ttl_for(obj, DAY).source is TTLSource.ANNOTATION
    assert not decide(obj, DAY, CREATED + timedelta(hours=48)).expired
    decision = decide(obj, DAY, CREATED + timedelta(hours=73))
    assert decision.expired
    assert f"annotation {TTL_ANNOTATION}" in decision.message


def test_annotation_applies_without_a_policy_default() -> None:
    assert decide(ep({TTL_ANNOTATION: "1h30m"}), Policy(), CREATED + timedelta(hours=2)).expired


@pytest.mark.parametrize("value", ["never", "NEVER", "off", "0", " never "])
def test_annotation_can_keep_an_ep_forever(value: str) -> None:
    decision = decide(ep({TTL_ANNOTATION: value}), DAY, CREATED + timedelta(days=999))
    assert not decision.expired and decision.reason is ExpiryReason.NO_TTL
    assert "kept forever" in decision.message


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_annotation_counts_as_absent(value: str) -> None:
    assert decide(ep({TTL_ANNOTATION: value}), DAY, CREATED + timedelta(hours=25)).expired


@pytest.mark.parametrize("value", ["72", "3 days", "-1h", "0h", "1y", "72h!"])
def test_bad_ttl_annotation_is_never_expired_and_warns(value: str) -> None:
    decision = decide(ep({TTL_ANNOTATION: value}), DAY, CREATED + timedelta(days=999))
    assert not decision.expired
    assert decision.reason is ExpiryReason.INVALID_TTL
    assert decision.warnings and TTL_ANNOTATION in decision.warnings[0]
    assert expires_at(ep({TTL_ANNOTATION: value}), DAY) is None


def test_bad_policy_ttl_is_never_expired_and_warns() -> None:
    policy = Policy.model_validate({"defaultTTL": "soon"})
    decision = decide(ep(), policy, CREATED + timedelta(days=999))
    assert not decision.expired and decision.reason is ExpiryReason.INVALID_TTL
    assert "policy.defaultTTL" in decision.message


def test_last_update_annotation_extends_the_life() -> None:
    obj = ep({LAST_UPDATE_ANNOTATION: "2024-05-03T10:00:00Z"})
    assert expires_at(obj, DAY) == datetime(2024, 5, 4, 10, 0, tzinfo=UTC)
    assert not decide(obj, DAY, datetime(2024, 5, 4, 9, 0, tzinfo=UTC)).expired


def test_bad_last_update_annotation_is_never_expired() -> None:
    obj = ep({LAST_UPDATE_ANNOTATION: "yesterday"})
    decision = decide(obj, DAY, CREATED + timedelta(days=999))
    assert not decision.expired and decision.reason is ExpiryReason.INVALID_LAST_UPDATE
    assert LAST_UPDATE_ANNOTATION in decision.message


def test_managed_fields_spec_changes_count_as_updates() -> None:
    obj = ep(managedFields=[spec_entry("2024-05-02T10:00:00Z")])
    assert expires_at(obj, DAY) == datetime(2024, 5, 3, 10, 0, tzinfo=UTC)


def test_status_writes_and_metadata_only_writes_do_not_count() -> None:
    status_write = spec_entry("2024-06-01T00:00:00Z", "tronador-controller", "status")
    finalizer = {
        "manager": "tronador-controller",
        "operation": "Update",
        "time": "2024-06-01T00:00:00Z",
        "fieldsV1": {"f:metadata": {"f:finalizers": {}}},
    }
    obj = ep(managedFields=[status_write, finalizer])
    assert expires_at(obj, DAY) == CREATED + timedelta(hours=24)


def test_ignored_managers_do_not_count() -> None:
    obj = ep(managedFields=[spec_entry("2024-06-01T00:00:00Z", "janitor")])
    assert expires_at(obj, DAY, ignore_managers={"janitor"}) == CREATED + timedelta(hours=24)


def test_latest_of_all_sources_wins() -> None:
    obj = ep(
        {LAST_UPDATE_ANNOTATION: "2024-05-02T00:00:00Z"},
        managedFields=[spec_entry("2024-05-05T00:00:00.123456Z"), spec_entry("garbage")],
    )
    moment, warnings = last_update(obj)
    assert moment == datetime(2024, 5, 5, 0, 0, 0, 123456, tzinfo=UTC)
    assert warnings == []


def test_being_deleted_is_not_expired() -> None:
    obj = ep(deletionTimestamp="2024-05-02T00:00:00Z")
    decision = decide(obj, DAY, CREATED + timedelta(days=9))
    assert not decision.expired and decision.reason is ExpiryReason.DELETING


def test_without_any_timestamp_it_is_kept() -> None:
    obj = ep()
    del obj["metadata"]["creationTimestamp"]
    decision = decide(obj, DAY, CREATED + timedelta(days=9))
    assert not decision.expired and decision.reason is ExpiryReason.NO_TIMESTAMP


def test_typed_ep_gives_the_same_answer() -> None:
    obj = ep({TTL_ANNOTATION: "2h"})
    typed = EnvironmentProvisioner.model_validate(obj)
    assert expires_at(typed, DAY) == expires_at(obj, DAY) == CREATED + timedelta(hours=2)


def test_naive_now_is_taken_as_utc() -> None:
    assert decide(ep(), DAY, datetime(2024, 5, 2, 10, 0)).expired


def test_recheck_after_is_the_time_left() -> None:
    now = CREATED + timedelta(hours=20)
    assert decide(ep(), DAY, now).recheck_after(now) == timedelta(hours=4)
    assert decide(ep(), Policy(), now).recheck_after(now) is None


@pytest.mark.parametrize(
    "obj", [None, [], "x", {"metadata": "x"}, {"metadata": {"annotations": 1}}]
)
def test_malformed_objects_are_kept(obj: Any) -> None:
    assert not decide(obj, DAY, CREATED + timedelta(days=9)).expired


def test_helpers() -> None:
    assert format_duration(timedelta(days=3, hours=2, seconds=5)) == "3d2h5s"
    assert format_duration(timedelta(0)) == "0s"
    assert parse_timestamp("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_timestamp("nope") is None


def test_the_keep_annotation_outlives_the_ttl_unless_the_policy_forbids_it() -> None:
    from tronador.api.constants import KEEP_ANNOTATION

    old = datetime(2024, 1, 1, tzinfo=UTC)
    ep = {"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z", "annotations": {}}}
    now = old + timedelta(days=30)
    allows = Policy.model_validate({"defaultTTL": "72h"})
    forbids = Policy.model_validate({"defaultTTL": "72h", "allowKeep": False})
    assert decide(ep, allows, now).expired
    ep["metadata"]["annotations"][KEEP_ANNOTATION] = "true"
    assert not decide(ep, allows, now).expired
    assert decide(ep, forbids, now).expired
    ep["metadata"]["annotations"] = {"tronador.stakater.com/ttl": "never"}
    assert not decide(ep, allows, now).expired
    assert decide(ep, forbids, now).expired
