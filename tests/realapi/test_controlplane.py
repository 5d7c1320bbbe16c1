"""The fixture itself: a real API server that authenticates and authorizes."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.realapi.controlplane import ControlPlane

pytestmark = pytest.mark.realapi


def test_admin_is_a_cluster_admin(admin: client.ApiClient) -> None:
    assert client.VersionApi(admin).get_code().git_version.startswith("v1.32.")
    review = client.AuthenticationV1Api(admin).create_self_subject_review({})
    assert review.status.user_info.username == "admin"
    assert "system:masters" in review.status.user_info.groups


def test_service_account_client_is_that_account_and_its_403s_are_audited(
    control_plane: ControlPlane,
) -> None:
    with control_plane.service_account_client("default", "nobody") as api:
        review = client.AuthenticationV1Api(api).create_self_subject_review({})
        assert review.status.user_info.username == "system:serviceaccount:default:nobody"
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(api).list_namespace()
    assert denied.value.status == 403
    assert control_plane.denied_requests("system:serviceaccount:default:nobody") == [
        "list /api/v1/namespaces"
    ]
