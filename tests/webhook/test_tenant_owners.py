"""The tenant owner check of the validating routes (pure admitters, no server): the requester
of a create, update or delete must own the tenant of the object as it is and as it will be."""

from __future__ import annotations

from typing import Any

import pytest

from tests.webhook.helpers import review, seed_config, seed_ep
from tronador.api import TronadorConfig
from webhook import routes
from webhook.admitters import admitters
from webhook.review import parse_admission_review

ROUTE = admitters("tronador-system")[routes.VALIDATE_ENVIRONMENT_PROVISIONERS]
CONTROLLER = "system:serviceaccount:tronador-system:tronador-controller"


def policy() -> Any:
    config = seed_config()
    config["spec"]["policy"]["tenant"]["owners"] = {
        "veeru": {"groups": ["team-a"], "serviceAccounts": ["ci/publisher"]},
        "jai": {"users": ["bob"]},
    }
    return TronadorConfig.model_validate(config).spec.policy


def as_user(body: dict[str, Any], username: str, *groups: str) -> Any:
    body["request"]["userInfo"] = {"username": username, "groups": list(groups)}
    return parse_admission_review(body)


def of_tenant(tenant: str) -> dict[str, Any]:
    ep = seed_ep()
    ep["spec"]["namespaceLabels"]["stakater.com/tenant"] = tenant
    return ep


@pytest.mark.parametrize(
    ("username", "groups", "allowed"),
    [
        ("alice", ("team-a",), True),
        ("system:serviceaccount:ci:publisher", (), True),
        ("bob", ("team-b",), False),
        ("admin", ("system:masters",), True),
        (CONTROLLER, (), True),
        ("", (), False),
    ],
)
def test_create_needs_an_owner_of_the_claimed_tenant(
    username: str, groups: tuple[str, ...], allowed: bool
) -> None:
    request = as_user(review("CREATE", of_tenant("veeru")), username, *groups)
    answer = ROUTE.admit(request, policy())
    assert answer.allowed is allowed
    if not allowed:
        assert "(rule tenant-owner)" in answer.message and "'veeru'" in answer.message


def test_update_needs_an_owner_of_both_the_old_and_the_new_tenant() -> None:
    old, new = of_tenant("veeru"), of_tenant("jai")
    bob = ROUTE.admit(as_user(review("UPDATE", new, old), "bob"), policy())
    assert not bob.allowed and "'veeru'" in bob.message
    alice = ROUTE.admit(as_user(review("UPDATE", new, old), "alice", "team-a"), policy())
    assert not alice.allowed and "'jai'" in alice.message


def test_delete_needs_an_owner_of_the_stored_tenant() -> None:
    stored = of_tenant("jai")
    denied = ROUTE.admit(as_user(review("DELETE", None, stored), "alice", "team-a"), policy())
    assert not denied.allowed and "may not delete" in denied.message
    assert ROUTE.admit(as_user(review("DELETE", None, stored), "bob"), policy()).allowed


def test_no_owners_binds_no_tenant() -> None:
    config = TronadorConfig.model_validate(seed_config()).spec.policy
    request = as_user(review("DELETE", None, of_tenant("jai")), "anyone")
    assert ROUTE.admit(request, config).allowed


def test_a_malformed_user_info_is_a_bad_request() -> None:
    body = review("CREATE", seed_ep())
    body["request"]["userInfo"] = {"username": 7}
    with pytest.raises(ValueError, match="userInfo"):
        parse_admission_review(body)
