"""The emulated API server: routing, create and read, as the real API server does them."""

from __future__ import annotations

import json
import re
import time

import kubernetes.client as k
import pytest

from tests.apiserver import EmulatedAPIServer
from tests.apiserver.helpers import error_status
from tronador.api.constants import API_VERSION, EP_PLURAL, GROUP, VERSION

CONFIGS = "tronadorconfigs"


def ep(name: str, **spec: object) -> dict:
    return {
        "apiVersion": API_VERSION,
        "kind": "EnvironmentProvisioner",
        "metadata": {"name": name},
        "spec": spec,
    }


def secret(name: str, labels: dict[str, str] | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": {"k": "dg=="}}


# -- lifecycle ---------------------------------------------------------------------------------


def test_starts_fast_and_serves_on_a_random_local_port() -> None:
    started = time.perf_counter()
    with EmulatedAPIServer() as server:
        elapsed = time.perf_counter() - started
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        with server.api_client() as client:
            assert k.CoreV1Api(client).read_namespace("default").metadata.name == "default"
    assert elapsed < 0.1


def test_configuration_disables_client_retries(apiserver: EmulatedAPIServer) -> None:
    configuration = apiserver.configuration()
    assert configuration.host == apiserver.url
    assert configuration.retries is False


# -- routing -----------------------------------------------------------------------------------


def test_routes_core_group_namespaced_and_cluster_scoped_kinds(
    k8s_client: k.ApiClient, core: k.CoreV1Api, custom: k.CustomObjectsApi
) -> None:
    core.create_namespace({"metadata": {"name": "team"}})
    core.create_namespaced_secret("team", secret("s1"))
    core.create_namespaced_config_map("team", {"metadata": {"name": "cm"}, "data": {"a": "b"}})
    k.CoordinationV1Api(k8s_client).create_namespaced_lease("team", {"metadata": {"name": "l"}})
    k.AdmissionregistrationV1Api(k8s_client).create_mutating_webhook_configuration(
        {"metadata": {"name": "hook"}}
    )
    custom.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, ep("ep1"))
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "team", CONFIGS, {"metadata": {"name": "c"}}
    )
    custom.create_namespaced_custom_object(
        "helm.toolkit.fluxcd.io", "v2", "team", "helmreleases", {"metadata": {"name": "hr"}}
    )

    assert core.read_namespaced_config_map("cm", "team").data == {"a": "b"}
    assert k.CoordinationV1Api(k8s_client).read_namespaced_lease("l", "team").metadata.name == "l"
    hooks = k.AdmissionregistrationV1Api(k8s_client).list_mutating_webhook_configuration()
    assert [h.metadata.name for h in hooks.items] == ["hook"]
    assert (
        custom.get_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1")["metadata"]["name"]
        == "ep1"
    )
    assert (
        custom.get_namespaced_custom_object(GROUP, VERSION, "team", CONFIGS, "c")["metadata"][
            "namespace"
        ]
        == "team"
    )
    hr = custom.get_namespaced_custom_object(
        "helm.toolkit.fluxcd.io", "v2", "team", "helmreleases", "hr"
    )
    assert hr["kind"] == "HelmRelease"


def test_lists_namespaced_kinds_across_all_namespaces(core: k.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "a"}})
    core.create_namespaced_secret("a", secret("s"))
    core.create_namespaced_secret("default", secret("s"))
    found = core.list_secret_for_all_namespaces().items
    assert [(s.metadata.namespace, s.metadata.name) for s in found] == [
        ("a", "s"),
        ("default", "s"),
    ]


def test_unknown_routes_answer_404_with_a_status(
    apiserver: EmulatedAPIServer, custom: k.CustomObjectsApi
) -> None:
    with pytest.raises(k.ApiException) as unknown_kind:
        custom.list_cluster_custom_object(GROUP, VERSION, "nothings")
    assert unknown_kind.value.status == 404
    assert error_status(unknown_kind.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }
    # a cluster-scoped kind under a namespace, and a namespaced one without
    with pytest.raises(k.ApiException) as namespaced_ep:
        custom.get_namespaced_custom_object(GROUP, VERSION, "default", EP_PLURAL, "x")
    assert namespaced_ep.value.status == 404
    with pytest.raises(k.ApiException) as clustered_config:
        custom.get_cluster_custom_object(GROUP, VERSION, CONFIGS, "x")
    assert clustered_config.value.status == 404
    with pytest.raises(k.ApiException) as unknown_group:
        custom.list_cluster_custom_object("nope.example.com", "v1", "things")
    assert unknown_group.value.status == 404


def test_answers_discovery_and_version(k8s_client: k.ApiClient) -> None:
    assert k.VersionApi(k8s_client).get_code().major == "1"
    assert k.CoreApi(k8s_client).get_api_versions().versions == ["v1"]
    groups = {g.name for g in k.ApisApi(k8s_client).get_api_versions().groups}
    assert {GROUP, "coordination.k8s.io", "helm.toolkit.fluxcd.io"} <= groups
    resources = k.CustomObjectsApi(k8s_client).get_api_resources(GROUP, VERSION).resources
    by_name = {r.name: r for r in resources}
    assert by_name[EP_PLURAL].namespaced is False
    assert "environmentprovisioners/status" in by_name


def test_extra_resources_extend_the_table() -> None:
    from tests.apiserver import Resource

    widget = Resource("example.com/v1", "Widget", "widgets", namespaced=True, custom=True)
    with EmulatedAPIServer(extra_resources=[widget]) as server, server.api_client() as client:
        api = k.CustomObjectsApi(client)
        api.create_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", {"metadata": {"name": "w"}}
        )
        assert server.get("example.com/v1", "widgets", "w", "default")["kind"] == "Widget"


# -- create ------------------------------------------------------------------------------------


def test_create_answers_201_and_fills_system_metadata(
    core: k.CoreV1Api, custom: k.CustomObjectsApi
) -> None:
    _, status, _ = custom.create_cluster_custom_object_with_http_info(
        GROUP, VERSION, EP_PLURAL, {"metadata": {"name": "ep1"}, "spec": {"a": 1}}
    )
    assert status == 201
    stored = custom.get_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "ep1")
    assert stored["apiVersion"] == API_VERSION
    assert stored["kind"] == "EnvironmentProvisioner"
    meta = stored["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["generation"] == 1
    assert "namespace" not in meta

    first = core.create_namespaced_secret("default", secret("a"))
    second = core.create_namespaced_secret("default", secret("b"))
    assert first.metadata.namespace == "default"
    assert (
        int(second.metadata.resource_version)
        > int(first.metadata.resource_version)
        > int(meta["resourceVersion"])
    )
    assert isinstance(first.metadata.resource_version, str)
    assert first.metadata.generation is None  # built-in kinds without spec carry no generation
    assert first.type == "Opaque"


def test_create_converts_secret_string_data(core: k.CoreV1Api) -> None:
    created = core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "stringData": {"a": "b"}}
    )
    assert created.data == {"a": "Yg=="}
    assert created.string_data is None


def test_create_existing_is_409_already_exists(custom: k.CustomObjectsApi) -> None:
    custom.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, ep("ep1"))
    with pytest.raises(k.ApiException) as caught:
        custom.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, ep("ep1"))
    assert caught.value.status == 409
    body = error_status(caught.value)
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'environmentprovisioners.tronador.stakater.com "ep1" already exists'
    assert body["details"] == {"name": "ep1", "group": GROUP, "kind": EP_PLURAL}


def test_generate_name_adds_a_random_suffix(core: k.CoreV1Api) -> None:
    names = {
        core.create_namespaced_secret(
            "default", {"metadata": {"generateName": "tok-"}}
        ).metadata.name
        for _ in range(3)
    }
    assert len(names) == 3
    assert all(re.fullmatch(r"tok-[a-z0-9]{5}", n) for n in names)


def test_create_with_a_mismatching_namespace_is_400(core: k.CoreV1Api) -> None:
    with pytest.raises(k.ApiException) as caught:
        core.create_namespaced_secret(
            "default", {"metadata": {"name": "s", "namespace": "kube-system"}}
        )
    assert caught.value.status == 400
    assert error_status(caught.value)["reason"] == "BadRequest"
    assert error_status(caught.value)["message"] == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )


def test_create_in_a_missing_namespace_is_404(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    with pytest.raises(k.ApiException) as caught:
        core.create_namespaced_secret("ghost", secret("s"))
    assert caught.value.status == 404
    assert error_status(caught.value)["message"] == 'namespaces "ghost" not found'
    assert error_status(caught.value)["details"] == {"name": "ghost", "kind": "namespaces"}
    assert apiserver.list("v1", "secrets") == []


def test_create_in_a_terminating_namespace_is_403(core: k.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "old"}})
    core.create_namespaced_secret(
        "old", {"metadata": {"name": "held", "finalizers": ["x.io/hold"]}}
    )
    core.delete_namespace("old")
    with pytest.raises(k.ApiException) as caught:
        core.create_namespaced_secret("old", secret("new"))
    assert caught.value.status == 403
    body = error_status(caught.value)
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        'secrets "new" is forbidden: unable to create new content in namespace old because it is '
        "being terminated"
    )
    assert body["details"]["causes"][0]["reason"] == "NamespaceTerminating"


def test_dry_run_create_validates_but_stores_nothing(
    apiserver: EmulatedAPIServer, core: k.CoreV1Api
) -> None:
    before = apiserver.resource_version
    answered = core.create_namespaced_secret("default", secret("dry"), dry_run="All")
    assert answered.metadata.name == "dry"
    assert apiserver.get("v1", "secrets", "dry", "default") is None
    assert apiserver.resource_version == before
    with pytest.raises(k.ApiException) as caught:
        core.create_namespaced_secret("default", secret("Not_Valid"), dry_run="All")
    assert caught.value.status == 422


def test_invalid_names_are_422_with_causes(core: k.CoreV1Api, custom: k.CustomObjectsApi) -> None:
    with pytest.raises(k.ApiException) as missing:
        custom.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, {"metadata": {}})
    body = error_status(missing.value)
    assert missing.value.status == 422
    assert body["reason"] == "Invalid"
    assert body["message"] == (
        'EnvironmentProvisioner.tronador.stakater.com "" is invalid: metadata.name: Required '
        "value: name or generateName is required"
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: name or generateName is required",
            "field": "metadata.name",
        }
    ]

    with pytest.raises(k.ApiException) as bad:
        core.create_namespaced_secret("default", secret("Bad_Name"))
    assert bad.value.status == 422
    assert error_status(bad.value)["message"].startswith(
        'Secret "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC '
        "1123 subdomain"
    )
    # namespaces must be DNS labels: no dots
    with pytest.raises(k.ApiException) as dotted:
        core.create_namespace({"metadata": {"name": "a.b"}})
    assert dotted.value.status == 422
    assert "RFC 1123 label" in error_status(dotted.value)["message"]


def test_create_with_a_resource_version_fails(core: k.CoreV1Api) -> None:
    with pytest.raises(k.ApiException) as caught:
        core.create_namespaced_secret(
            "default", {"metadata": {"name": "s", "resourceVersion": "3"}}
        )
    assert caught.value.status == 500
    assert error_status(caught.value)["message"] == (
        "resourceVersion should not be set on objects to be created"
    )


def test_new_namespaces_are_active_with_the_kubernetes_finalizer(core: k.CoreV1Api) -> None:
    ns = core.create_namespace({"metadata": {"name": "fresh"}})
    assert ns.status.phase == "Active"
    assert ns.spec.finalizers == ["kubernetes"]
    assert ns.metadata.labels == {"kubernetes.io/metadata.name": "fresh"}


# -- read --------------------------------------------------------------------------------------


def test_get_missing_is_404_with_the_real_message(
    core: k.CoreV1Api, custom: k.CustomObjectsApi
) -> None:
    with pytest.raises(k.ApiException) as caught:
        custom.get_cluster_custom_object(GROUP, VERSION, EP_PLURAL, "x")
    assert caught.value.status == 404
    assert error_status(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'environmentprovisioners.tronador.stakater.com "x" not found',
        "reason": "NotFound",
        "details": {"name": "x", "group": GROUP, "kind": EP_PLURAL},
        "code": 404,
    }
    with pytest.raises(k.ApiException) as core_missing:
        core.read_namespaced_secret("x", "default")
    assert error_status(core_missing.value)["message"] == 'secrets "x" not found'


def test_list_is_empty_not_404_and_carries_a_resource_version(
    apiserver: EmulatedAPIServer, custom: k.CustomObjectsApi
) -> None:
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, "default", CONFIGS)
    assert listed["items"] == []
    assert listed["kind"] == "TronadorConfigList"
    assert listed["metadata"]["resourceVersion"] == apiserver.resource_version


def test_list_items_carry_kind_for_custom_resources_only(
    core: k.CoreV1Api, custom: k.CustomObjectsApi
) -> None:
    custom.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, ep("ep1"))
    core.create_namespaced_secret("default", secret("s"))
    eps = custom.list_cluster_custom_object(GROUP, VERSION, EP_PLURAL)["items"]
    assert (eps[0]["apiVersion"], eps[0]["kind"]) == (API_VERSION, "EnvironmentProvisioner")
    raw = json.loads(core.list_namespaced_secret("default", _preload_content=False).data)
    assert raw["kind"] == "SecretList"
    assert "kind" not in raw["items"][0]  # as the real server: typed list items omit it


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", {"web", "web-prod"}),
        ("app==web", {"web", "web-prod"}),
        ("app!=web", {"db", "bare"}),
        ("app in (web,db)", {"web", "web-prod", "db"}),
        ("app notin (web)", {"db", "bare"}),
        ("tier", {"web-prod", "db"}),
        ("!tier", {"web", "bare"}),
        ("app=web,tier=prod", {"web-prod"}),
        ("app in (db), tier", {"db"}),
    ],
)
def test_label_selectors(core: k.CoreV1Api, selector: str, expected: set[str]) -> None:
    core.create_namespaced_secret("default", secret("web", {"app": "web"}))
    core.create_namespaced_secret("default", secret("web-prod", {"app": "web", "tier": "prod"}))
    core.create_namespaced_secret("default", secret("db", {"app": "db", "tier": "prod"}))
    core.create_namespaced_secret("default", secret("bare"))
    found = core.list_namespaced_secret("default", label_selector=selector).items
    assert {s.metadata.name for s in found} == expected


def test_field_selectors(core: k.CoreV1Api, custom: k.CustomObjectsApi) -> None:
    core.create_namespace({"metadata": {"name": "other"}})
    for namespace in ("default", "other"):
        core.create_namespaced_secret(namespace, secret("a"))
        core.create_namespaced_secret(namespace, secret("b"))
    by_name = core.list_secret_for_all_namespaces(field_selector="metadata.name=a").items
    assert {(s.metadata.namespace, s.metadata.name) for s in by_name} == {
        ("default", "a"),
        ("other", "a"),
    }
    by_ns = core.list_secret_for_all_namespaces(field_selector="metadata.namespace=other").items
    assert {s.metadata.name for s in by_ns} == {"a", "b"}
    both = core.list_secret_for_all_namespaces(
        field_selector="metadata.name!=a,metadata.namespace==other"
    )
    assert [s.metadata.name for s in both.items] == ["b"]
    custom.create_cluster_custom_object(GROUP, VERSION, EP_PLURAL, ep("ep1"))
    with pytest.raises(k.ApiException) as caught:
        custom.list_cluster_custom_object(GROUP, VERSION, EP_PLURAL, field_selector="spec.x=1")
    assert caught.value.status == 400
    assert error_status(caught.value)["message"] == "field label not supported: spec.x"


def test_bad_label_selector_is_400(core: k.CoreV1Api) -> None:
    with pytest.raises(k.ApiException) as caught:
        core.list_namespaced_secret("default", label_selector="a in b")
    assert caught.value.status == 400


def test_list_pages_with_limit_and_continue(core: k.CoreV1Api) -> None:
    for i in range(5):
        core.create_namespaced_secret("default", secret(f"s{i}"))
    first = core.list_namespaced_secret("default", limit=2)
    assert [s.metadata.name for s in first.items] == ["s0", "s1"]
    assert first.metadata.remaining_item_count == 3
    rest = core.list_namespaced_secret("default", limit=10, _continue=first.metadata._continue)
    assert [s.metadata.name for s in rest.items] == ["s2", "s3", "s4"]
    assert rest.metadata._continue is None
