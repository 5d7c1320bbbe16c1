"""The emulated API server: watches, as kubernetes.watch.Watch consumes them."""

from __future__ import annotations

import json
import threading
import time

import kubernetes.client as k
import pytest
import urllib3
from kubernetes.watch import Watch

from tests.apiserver import EmulatedAPIServer
from tests.apiserver.helpers import WatchCollector, error_status, summary
from tronador.api.constants import EP_PLURAL, GROUP, VERSION


def secret(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": labels}}


def test_watch_without_resource_version_replays_then_streams_live(core: k.CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("a"))
    core.create_namespaced_secret("default", secret("b"))
    with WatchCollector(core.list_namespaced_secret, "default") as watch:
        assert [summary(e) for e in watch.take(2)] == [("ADDED", "a"), ("ADDED", "b")]
        core.patch_namespaced_secret("a", "default", {"metadata": {"labels": {"x": "1"}}})
        core.delete_namespaced_secret("b", "default")
        core.create_namespaced_secret("default", secret("c"))
        events = watch.take(3)
    assert [summary(e) for e in events] == [("MODIFIED", "a"), ("DELETED", "b"), ("ADDED", "c")]
    assert isinstance(events[0]["object"], k.V1Secret)
    assert events[0]["object"].metadata.labels == {"x": "1"}
    assert events[2]["raw_object"]["kind"] == "Secret"  # watch objects carry their kind


def test_watch_resumes_after_a_resource_version(core: k.CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("before"))
    listed = core.list_namespaced_secret("default")
    core.create_namespaced_secret("default", secret("after"))
    core.patch_namespaced_secret("before", "default", {"metadata": {"labels": {"x": "1"}}})
    with WatchCollector(
        core.list_namespaced_secret, "default", resource_version=listed.metadata.resource_version
    ) as watch:
        assert [summary(e) for e in watch.take(2)] == [("ADDED", "after"), ("MODIFIED", "before")]
        assert watch.pending() == []


def test_watch_timeout_ends_the_stream_cleanly(core: k.CoreV1Api) -> None:
    started = time.monotonic()
    events = list(Watch().stream(core.list_namespaced_secret, "default", timeout_seconds=1))
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.9 <= elapsed < 2.5


def test_watch_from_a_compacted_resource_version_gets_410_expired(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    old = core.list_namespaced_secret("default").metadata.resource_version
    core.create_namespaced_secret("default", secret("a"))
    apiserver.compact()
    with pytest.raises(k.ApiException) as caught:
        list(
            Watch().stream(
                core.list_namespaced_secret, "default", resource_version=old, timeout_seconds=5
            )
        )
    assert caught.value.status == 410
    assert caught.value.reason.startswith("Expired: too old resource version")

    # on the wire: a 200 stream whose only event is an ERROR carrying the Status
    response = core.list_namespaced_secret(
        "default", watch=True, resource_version=old, timeout_seconds=5, _preload_content=False
    )
    assert response.status == 200
    lines = [json.loads(line) for line in response.data.decode().splitlines()]
    assert lines == [
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"too old resource version: {old} ({apiserver.resource_version})",
                "reason": "Expired",
                "code": 410,
            },
        }
    ]


def test_the_event_window_is_bounded() -> None:
    with EmulatedAPIServer(event_window=3) as server, server.api_client() as client:
        core = k.CoreV1Api(client)
        start = core.list_namespaced_secret("default").metadata.resource_version
        for i in range(4):
            core.create_namespaced_secret("default", secret(f"s{i}"))
        with pytest.raises(k.ApiException) as caught:
            list(
                Watch().stream(
                    core.list_namespaced_secret,
                    "default",
                    resource_version=start,
                    timeout_seconds=5,
                )
            )
        assert caught.value.status == 410
        recent = str(int(server.resource_version) - 2)
        with WatchCollector(core.list_namespaced_secret, "default", resource_version=recent) as w:
            assert [summary(e) for e in w.take(2)] == [("ADDED", "s2"), ("ADDED", "s3")]


def test_list_with_an_expired_continue_token_is_410(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    for i in range(3):
        core.create_namespaced_secret("default", secret(f"s{i}"))
    page = core.list_namespaced_secret("default", limit=1)
    core.create_namespaced_secret("default", secret("later"))
    apiserver.compact()
    with pytest.raises(k.ApiException) as caught:
        core.list_namespaced_secret("default", limit=1, _continue=page.metadata._continue)
    assert caught.value.status == 410
    assert error_status(caught.value)["reason"] == "Expired"


def test_watch_filters_by_namespace_labels_and_fields(core: k.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "other"}})
    rv = core.list_namespaced_secret("default").metadata.resource_version
    with (
        WatchCollector(
            core.list_namespaced_secret, "default", label_selector="app=web", resource_version=rv
        ) as by_label,
        WatchCollector(
            core.list_secret_for_all_namespaces,
            field_selector="metadata.name=target",
            resource_version=rv,
        ) as by_name,
    ):
        core.create_namespaced_secret("other", secret("target", app="web"))
        core.create_namespaced_secret("default", secret("plain"))
        core.create_namespaced_secret("default", secret("target", app="web"))
        # leaving and re-entering the selection shows up as DELETED and ADDED
        core.patch_namespaced_secret("target", "default", {"metadata": {"labels": {"app": "db"}}})
        core.patch_namespaced_secret("target", "default", {"metadata": {"labels": {"app": "web"}}})
        assert [summary(e) for e in by_label.take(3)] == [
            ("ADDED", "target"),
            ("DELETED", "target"),
            ("ADDED", "target"),
        ]
        named = by_name.take(4)
        assert [e["object"].metadata.namespace for e in named] == ["other"] + ["default"] * 3
        assert by_label.pending(0.1) == []


def test_noop_writes_emit_no_event(core: k.CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("a", x="1"))
    rv = core.list_namespaced_secret("default").metadata.resource_version
    with WatchCollector(core.list_namespaced_secret, "default", resource_version=rv) as watch:
        core.patch_namespaced_secret("a", "default", {"metadata": {"labels": {"x": "1"}}})
        core.patch_namespaced_secret("a", "default", {"metadata": {"labels": {"x": "2"}}})
        event = watch.next()
        assert event["object"].metadata.labels == {"x": "2"}
        assert watch.pending(0.1) == []


def test_finalizer_deletion_is_modified_then_deleted(custom: k.CustomObjectsApi) -> None:
    body = {"metadata": {"name": "ep1", "finalizers": ["a.io/x"]}, "spec": {}}
    custom.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, body)
    with WatchCollector(custom.list_cluster_custom_object, GROUP, VERSION, EP_PLURAL) as watch:
        assert summary(watch.next()) == ("ADDED", "ep1")
        custom.delete_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1")
        marked = watch.next()
        assert marked["type"] == "MODIFIED"
        assert marked["object"]["metadata"]["deletionTimestamp"]
        custom.patch_cluster_custom_object(
            GROUP, VERSION, EP_PLURAL, "ep1", {"metadata": {"finalizers": None}}
        )
        gone = watch.next()
        assert gone["type"] == "DELETED"
        assert int(gone["object"]["metadata"]["resourceVersion"]) > int(
            marked["object"]["metadata"]["resourceVersion"]
        )


def test_bookmarks_when_asked_for() -> None:
    with EmulatedAPIServer(bookmark_interval=0.05) as server, server.api_client() as client:
        core = k.CoreV1Api(client)
        rv = server.resource_version
        with WatchCollector(
            core.list_namespaced_secret, "default", resource_version=rv, allow_watch_bookmarks=True
        ) as watch:
            event = watch.next()
        assert event["type"] == "BOOKMARK"
        assert event["raw_object"]["metadata"]["resourceVersion"] == rv
        with WatchCollector(core.list_namespaced_secret, "default", resource_version=rv) as quiet:
            assert quiet.pending(0.2) == []  # none without allowWatchBookmarks


def test_many_concurrent_watches_do_not_block_the_server(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    watches = []
    clients = [apiserver.api_client() for _ in range(4)]
    try:
        for i in range(20):
            api = k.CoreV1Api(clients[i % 4])
            watches.append(WatchCollector(api.list_namespaced_secret, "default"))
        started = time.monotonic()
        core.create_namespaced_secret("default", secret("ping"))
        assert time.monotonic() - started < 0.5
        for watch in watches:
            assert summary(watch.next()) == ("ADDED", "ping")
    finally:
        for watch in watches:
            watch.stop()
        for client in clients:
            client.close()


def test_changes_made_from_the_test_thread_reach_watchers(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    apiserver.seed(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "default"}}
    )
    rv = apiserver.resource_version
    with WatchCollector(core.list_namespaced_secret, "default", resource_version=rv) as watch:
        threading.Thread(
            target=apiserver.patch,
            args=("v1", "secrets", "a", "default", {"metadata": {"labels": {"x": "y"}}}),
        ).start()
        assert summary(watch.next()) == ("MODIFIED", "a")


def test_dropped_watch_connection_surfaces_as_an_error(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    from tests.apiserver import Fault

    apiserver.faults.add(Fault(drop_watch=True))
    with pytest.raises(urllib3.exceptions.ProtocolError):
        list(Watch().stream(core.list_namespaced_secret, "default", timeout_seconds=5))
    # a list is not a watch: untouched by the rule
    assert core.list_namespaced_secret("default").items == []
