"""The emulated API server: fault rules, the request log, the Python-side API, async use."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
import kubernetes.client as k
import pytest
import urllib3

from tests.apiserver import EmulatedAPIServer, Fault
from tests.apiserver.helpers import error_status
from tronador.api.constants import API_VERSION, EP_PLURAL, GROUP, VERSION

# -- faults ------------------------------------------------------------------------------------


def test_a_faulted_create_stores_nothing(apiserver: EmulatedAPIServer, core: k.CoreV1Api) -> None:
    apiserver.faults.add(Fault(method="POST", status=500))
    before = apiserver.resource_version
    with pytest.raises(k.ApiException) as caught:
        core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    assert caught.value.status == 500
    assert error_status(caught.value)["reason"] == "InternalError"
    assert apiserver.get("v1", "secrets", "s", "default") is None
    assert apiserver.resource_version == before
    # times=1: the next one goes through
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    assert apiserver.get("v1", "secrets", "s", "default") is not None


def test_faulted_updates_and_deletes_change_nothing(
    apiserver: EmulatedAPIServer, custom: k.CustomObjectsApi
) -> None:
    custom.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, {"metadata": {"name": "ep1"}})
    before = apiserver.get(API_VERSION, EP_PLURAL, "ep1")
    apiserver.faults.add(Fault(method="PATCH", status=409, times=None))
    apiserver.faults.add(Fault(method="DELETE", status=503))
    for _ in range(2):
        with pytest.raises(k.ApiException) as conflict:
            custom.patch_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1", {"spec": {"a": 1}})
        assert error_status(conflict.value)["reason"] == "Conflict"
    with pytest.raises(k.ApiException) as unavailable:
        custom.delete_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1")
    assert unavailable.value.status == 503
    assert error_status(unavailable.value)["reason"] == "ServiceUnavailable"
    assert apiserver.get(API_VERSION, EP_PLURAL, "ep1") == before


def test_faults_match_on_method_path_and_name(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "a"}})
    core.create_namespaced_secret("default", {"metadata": {"name": "b"}})
    rule = apiserver.faults.add(
        Fault(method="GET", path_regex=r"/secrets/", name="b", status=404, times=2)
    )
    assert core.read_namespaced_secret("a", "default").metadata.name == "a"
    assert len(core.list_namespaced_secret("default").items) == 2
    for _ in range(2):
        with pytest.raises(k.ApiException) as caught:
            core.read_namespaced_secret("b", "default")
        assert error_status(caught.value)["message"] == 'secrets "b" not found'
    assert core.read_namespaced_secret("b", "default").metadata.name == "b"
    assert rule.fired == 2
    assert rule.exhausted


def test_fault_on_create_matches_the_name_in_the_body(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    apiserver.faults.add(Fault(name="doomed", status=409))
    core.create_namespaced_secret("default", {"metadata": {"name": "fine"}})
    with pytest.raises(k.ApiException) as caught:
        core.create_namespaced_secret("default", {"metadata": {"name": "doomed"}})
    assert error_status(caught.value)["reason"] == "AlreadyExists"


def test_fault_answers_headers_and_a_custom_body(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    apiserver.faults.add(Fault(status=429, headers={"Retry-After": "3"}))
    with pytest.raises(k.ApiException) as throttled:
        core.list_namespaced_secret("default")
    assert throttled.value.status == 429
    assert throttled.value.headers["Retry-After"] == "3"
    body = error_status(throttled.value)
    assert body["reason"] == "TooManyRequests"
    assert body["details"]["retryAfterSeconds"] == 3

    apiserver.faults.add(Fault(status=500, body={"custom": True}))
    with pytest.raises(k.ApiException) as custom_body:
        core.list_namespaced_secret("default")
    assert error_status(custom_body.value) == {"custom": True}


def test_fault_delay_then_proceed_or_fail(apiserver: EmulatedAPIServer, core: k.CoreV1Api) -> None:
    apiserver.faults.add(Fault(method="POST", delay=0.3))
    started = time.monotonic()
    core.create_namespaced_secret("default", {"metadata": {"name": "slow"}})
    assert time.monotonic() - started >= 0.3
    assert apiserver.get("v1", "secrets", "slow", "default") is not None

    apiserver.faults.add(Fault(method="POST", delay=0.2, status=504))
    with pytest.raises(k.ApiException) as caught:
        core.create_namespaced_secret("default", {"metadata": {"name": "late"}})
    assert caught.value.status == 504
    assert apiserver.get("v1", "secrets", "late", "default") is None


def test_a_delayed_request_does_not_block_others(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    apiserver.faults.add(Fault(path_regex=r"/configmaps$", kind="delay", delay=0.5))
    with apiserver.api_client() as other:
        slow = k.CoreV1Api(other).list_namespaced_config_map("default", async_req=True)
        time.sleep(0.05)
        started = time.monotonic()
        core.list_namespaced_secret("default")
        assert time.monotonic() - started < 0.5
        slow.get(5)


def test_dropped_connection_is_a_transport_error(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    apiserver.faults.add(Fault(kind="drop"))
    with pytest.raises(urllib3.exceptions.ProtocolError):
        core.list_namespaced_secret("default")
    assert core.list_namespaced_secret("default").items == []


def test_faults_clear(apiserver: EmulatedAPIServer, core: k.CoreV1Api) -> None:
    apiserver.faults.add(Fault(status=500, times=None))
    apiserver.faults.clear()
    assert core.list_namespaced_secret("default").items == []


def test_fault_kind_is_checked() -> None:
    with pytest.raises(ValueError):
        Fault(kind="explode")


# -- request log -------------------------------------------------------------------------------


def test_request_log_records_every_request(apiserver: EmulatedAPIServer, core: k.CoreV1Api) -> None:
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    core.read_namespaced_secret("s", "default")
    core.list_namespaced_secret("default", label_selector="a=b")
    core.patch_namespaced_secret("s", "default", {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(k.ApiException):
        core.read_namespaced_secret("missing", "default")
    core.delete_namespaced_secret("s", "default")
    verbs = [(r.verb, r.name, r.status) for r in apiserver.requests]
    assert verbs == [
        ("create", None, 201),
        ("get", "s", 200),
        ("list", None, 200),
        ("patch", "s", 200),
        ("get", "missing", 404),
        ("delete", "s", 200),
    ]
    listed = apiserver.requests[2]
    assert (listed.method, listed.path, listed.query) == (
        "GET",
        "/api/v1/namespaces/default/secrets",
        {"labelSelector": "a=b"},
    )
    assert (listed.api_version, listed.plural, listed.namespace) == ("v1", "secrets", "default")
    patch = apiserver.requests[3]
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.body == {"metadata": {"labels": {"a": "b"}}}
    assert [r.verb for r in apiserver.writes()] == ["create", "patch", "delete"]
    apiserver.clear_requests()
    assert apiserver.requests == []


def test_request_log_records_faults_and_subresources(
    apiserver: EmulatedAPIServer, custom: k.CustomObjectsApi
) -> None:
    custom.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, {"metadata": {"name": "ep1"}})
    rule = apiserver.faults.add(Fault(status=500))
    with pytest.raises(k.ApiException):
        custom.patch_cluster_custom_object_status(
            GROUP, VERSION, EP_PLURAL, "ep1", {"status": {"a": 1}}
        )
    last = apiserver.requests[-1]
    assert (last.verb, last.subresource, last.status, last.fault) == ("patch", "status", 500, rule)
    assert last.api_version == API_VERSION


# -- the Python-side API -----------------------------------------------------------------------


def test_seed_get_list_and_set_status_bypass_http(
    apiserver: EmulatedAPIServer, custom: k.CustomObjectsApi
) -> None:
    seeded = apiserver.seed(
        {
            "apiVersion": API_VERSION,
            "kind": "EnvironmentProvisioner",
            "metadata": {"name": "ep1", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"a": 1},
            "status": {"phase": "Seeded"},
        }
    )
    assert seeded["metadata"]["uid"]
    assert seeded["metadata"]["creationTimestamp"] == "2020-01-01T00:00:00Z"
    assert seeded["status"] == {"phase": "Seeded"}
    updated = apiserver.set_status(API_VERSION, EP_PLURAL, "ep1", None, {"phase": "Ready"})
    assert updated["status"] == {"phase": "Ready"}
    assert custom.get_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1")["status"] == {
        "phase": "Ready"
    }
    assert [o["metadata"]["name"] for o in apiserver.list(API_VERSION, EP_PLURAL)] == ["ep1"]
    assert apiserver.get(API_VERSION, EP_PLURAL, "nope") is None
    # copies: editing them changes nothing stored
    updated["spec"]["a"] = 2
    assert apiserver.get(API_VERSION, EP_PLURAL, "ep1")["spec"] == {"a": 1}
    assert [r.verb for r in apiserver.requests] == ["get"]


def test_on_event_plays_another_controller(
    apiserver: EmulatedAPIServer, custom: k.CustomObjectsApi
) -> None:
    flux = "helm.toolkit.fluxcd.io"

    def mark_ready(type_: str, obj: dict) -> None:
        meta = obj["metadata"]
        ready = {"conditions": [{"type": "Ready", "status": "True"}]}
        apiserver.set_status(f"{flux}/v2", "helmreleases", meta["name"], meta["namespace"], ready)

    remove = apiserver.on_event(mark_ready, f"{flux}/v2", "helmreleases", types=["ADDED"])
    custom.create_namespaced_custom_object(
        flux, "v2", "default", "helmreleases", {"metadata": {"name": "hr"}}
    )
    status = custom.get_namespaced_custom_object_status(flux, "v2", "default", "helmreleases", "hr")
    assert status["status"]["conditions"][0]["status"] == "True"
    remove()
    custom.create_namespaced_custom_object(
        flux, "v2", "default", "helmreleases", {"metadata": {"name": "hr2"}}
    )
    assert "status" not in apiserver.get(f"{flux}/v2", "helmreleases", "hr2", "default")


def test_a_failing_hook_does_not_fail_the_request(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    def broken(type_: str, obj: dict) -> None:
        raise RuntimeError("hook bug")

    apiserver.on_event(broken, "v1", "secrets")
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    assert apiserver.get("v1", "secrets", "s", "default") is not None
    assert [str(e) for e in apiserver.hook_errors] == ["hook bug"]


def test_wait_for_polls_until_truthy(apiserver: EmulatedAPIServer) -> None:
    calls = []

    def ready() -> bool:
        calls.append(1)
        return len(calls) >= 3

    assert apiserver.wait_for(ready, timeout=1, interval=0.001) is True
    with pytest.raises(TimeoutError):
        apiserver.wait_for(lambda: None, timeout=0.05)


def test_direct_delete_and_the_clock() -> None:
    fixed = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    with EmulatedAPIServer(clock=lambda: fixed, namespaces=["only"]) as server:
        assert [n["metadata"]["name"] for n in server.list("v1", "namespaces")] == ["only"]
        seeded = server.seed(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "only"}}
        )
        assert seeded["metadata"]["creationTimestamp"] == "2024-05-06T07:08:09Z"
        server.delete("v1", "namespaces", "only")
        assert server.list("v1", "secrets") == []
        assert server.get("v1", "namespaces", "only") is None


def test_unknown_kinds_are_refused_by_the_python_api(apiserver: EmulatedAPIServer) -> None:
    with pytest.raises(KeyError):
        apiserver.get("v1", "widgets", "x")
    with pytest.raises(KeyError):
        apiserver.seed({"apiVersion": "v9", "kind": "Nothing", "metadata": {"name": "x"}})


# -- async use (pytest-aiohttp) ----------------------------------------------------------------


async def test_usable_from_async_tests(apiserver: EmulatedAPIServer, core: k.CoreV1Api) -> None:
    """The server runs its own loop in its own thread: the sync client goes through
    asyncio.to_thread, aiohttp straight to the URL."""
    await asyncio.to_thread(core.create_namespaced_secret, "default", {"metadata": {"name": "s"}})
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{apiserver.url}/api/v1/namespaces/default/secrets/s") as response,
    ):
        assert response.status == 200
        assert (await response.json())["metadata"]["name"] == "s"
