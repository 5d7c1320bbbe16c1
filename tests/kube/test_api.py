"""The Kubernetes layer's REST calls against the emulated API server."""

from __future__ import annotations

import pytest

from kube.api import ApiError, Kube
from kube.resources import NAMESPACES
from tests.apiserver import EmulatedAPIServer


def test_list_fetches_page_by_page_when_asked() -> None:
    names = [f"ns-{i}" for i in range(5)]
    with EmulatedAPIServer(namespaces=names) as server, server.api_client() as api_client:
        kube = Kube(api_client)
        paged, _ = kube.list(NAMESPACES, page_size=2)
        whole, version = kube.list(NAMESPACES)
        lists = [r for r in server.requests if r.verb == "list"]
    assert [o["metadata"]["name"] for o in paged] == [o["metadata"]["name"] for o in whole]
    assert set(names) <= {o["metadata"]["name"] for o in paged}
    assert len(lists) == (len(paged) + 1) // 2 + 1 and version
    assert all(o["kind"] == "Namespace" for o in paged)


def test_errors_carry_status_reason_and_predicates() -> None:
    with EmulatedAPIServer() as server, server.api_client() as api_client:
        kube = Kube(api_client)
        assert kube.get(NAMESPACES, "absent") is None
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "twice"}}
        kube.create(NAMESPACES, body)
        with pytest.raises(ApiError) as caught:
            kube.create(NAMESPACES, body)
    err = caught.value
    assert err.status == 409 and err.already_exists and not err.conflict
    assert not err.refused and "twice" in str(err)
