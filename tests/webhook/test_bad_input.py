"""Whatever arrives gets a well-formed answer: never a 500, never a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.webhook.helpers import (
    CONFIG_KIND,
    CONFIG_RESOURCE,
    ENV_KIND,
    ENV_RESOURCE,
    Answer,
    RunningWebhook,
    review,
    running_webhook,
    seed_env,
    seed_ep,
)
from tronador.api import Policy
from webhook import routes

ADMISSION_PATHS = routes.ADMISSION_PATHS


def assert_well_formed(answer: Answer) -> None:
    assert answer.status != 500
    assert "Traceback" not in answer.text
    assert 'File "' not in answer.text
    json.loads(answer.text)


def assert_status(answer: Answer, code: int, *words: str) -> None:
    """An HTTP error with a metav1.Status body (no uid could be read)."""
    assert_well_formed(answer)
    assert answer.status == code
    body = answer.json
    assert body["kind"] == "Status"
    assert body["code"] == code
    for word in words:
        assert word in body["message"]


def assert_denied(answer: Answer, uid: str, code: int, *words: str) -> None:
    """An AdmissionReview denial echoing the uid."""
    assert_well_formed(answer)
    assert answer.status == 200
    response = answer.response
    assert response["uid"] == uid
    assert response["allowed"] is False
    assert response["status"]["code"] == code
    assert "patch" not in response
    for word in words:
        assert word in response["status"]["message"]


def without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


@pytest.mark.parametrize("path", ADMISSION_PATHS)
@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", ("empty",)),
        (b"{not json", ("not JSON",)),
        (b"\xff\xfe\x00garbage", ("not JSON",)),
        (b"[" * 100_000, ("not JSON",)),
        (b'["an", "array"]', ("array",)),
        (b'"a string"', ("string",)),
        (b"null", ("null",)),
        (b"{}", ("kind",)),
    ],
    ids=["empty", "broken", "binary", "deep", "array", "string", "null", "empty-object"],
)
async def test_body_that_is_not_a_review_gets_400(
    webhook: RunningWebhook, path: str, data: bytes, words: tuple[str, ...]
) -> None:
    assert_status(await webhook.post_raw(path, data), 400, *words)


@pytest.mark.parametrize("path", ADMISSION_PATHS)
async def test_review_without_request_or_uid_gets_400(webhook: RunningWebhook, path: str) -> None:
    body = review("CREATE", seed_ep())
    assert_status(await webhook.post(path, without(body, "request")), 400, "request")
    body = review("CREATE", seed_ep())
    assert_status(await webhook.post(path, without(body, "request", "uid")), 400, "uid")
    body = review("CREATE", seed_ep())
    body["request"]["uid"] = 42
    assert_status(await webhook.post(path, body), 400, "uid")


async def test_oversize_body_gets_400_unread(webhook: RunningWebhook) -> None:
    ep = seed_ep()
    ep["spec"]["application"]["release"]["values"]["blob"] = "x" * (routes.MAX_BODY_BYTES + 1)
    answer = await webhook.post(routes.VALIDATE_ENVIRONMENT_PROVISIONERS, review("CREATE", ep))
    assert_status(answer, 400, "larger than")


@pytest.mark.parametrize("path", ADMISSION_PATHS)
async def test_wrong_api_version_or_kind_is_denied_with_the_uid(
    webhook: RunningWebhook, path: str
) -> None:
    body = review("CREATE", seed_ep(), uid="u-1")
    body["apiVersion"] = "admission.k8s.io/v1beta1"
    assert_denied(await webhook.post(path, body), "u-1", 400, "admission.k8s.io/v1beta1")

    body = review("CREATE", seed_ep(), uid="u-2")
    body["kind"] = "ConversionReview"
    assert_denied(await webhook.post(path, body), "u-2", 400, "ConversionReview")


async def test_pod_sent_to_an_ep_route_is_denied(webhook: RunningWebhook) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    body = review(
        "CREATE",
        pod,
        uid="pod",
        kind={"group": "", "version": "v1", "kind": "Pod"},
        resource={"group": "", "version": "v1", "resource": "pods"},
    )
    for path in ADMISSION_PATHS:
        assert_denied(await webhook.post(path, body), "pod", 400, "pods")


async def test_ep_sent_to_the_config_route_and_back_is_denied(webhook: RunningWebhook) -> None:
    body = review("CREATE", seed_ep(), uid="ep")
    assert_denied(
        await webhook.post(routes.VALIDATE_TRONADOR_CONFIGS, body), "ep", 400, "tronadorconfigs"
    )
    body = review("CREATE", {}, uid="cfg", kind=CONFIG_KIND, resource=CONFIG_RESOURCE)
    for path in (routes.MUTATE_ENVIRONMENT_PROVISIONERS, routes.VALIDATE_ENVIRONMENT_PROVISIONERS):
        assert_denied(await webhook.post(path, body), "cfg", 400, "environmentprovisioners")


async def test_resource_and_kind_must_agree(webhook: RunningWebhook) -> None:
    body = review("CREATE", seed_ep(), uid="k", kind=CONFIG_KIND)
    assert_denied(
        await webhook.post(routes.VALIDATE_ENVIRONMENT_PROVISIONERS, body), "k", 400, "Config"
    )


@pytest.mark.parametrize("path", ADMISSION_PATHS)
@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("object", None, ("request.object is required",)),
        ("object", ["not", "an", "object"], ("request.object",)),
        ("oldObject", "text", ("request.oldObject",)),
        ("operation", "PATCH", ("request.operation",)),
        ("operation", None, ("request.operation",)),
        ("operation", ["CREATE"], ("request.operation",)),
        ("operation", {"CREATE": 1}, ("request.operation",)),
        ("resource", None, ("request.resource",)),
        ("kind", {"group": "x"}, ("request.kind",)),
        ("dryRun", "yes", ("dryRun",)),
        ("subResource", 7, ("subResource",)),
    ],
)
async def test_review_with_a_missing_or_wrong_field_is_denied_with_the_uid(
    webhook: RunningWebhook, path: str, field: str, value: Any, words: tuple[str, ...]
) -> None:
    body = review("CREATE", seed_ep(), uid="f")
    if path == routes.VALIDATE_TRONADOR_CONFIGS:
        body = review("CREATE", {}, uid="f", kind=CONFIG_KIND, resource=CONFIG_RESOURCE)
    if path in (routes.MUTATE_ENVIRONMENTS, routes.VALIDATE_ENVIRONMENTS):
        body = review("CREATE", seed_env(), uid="f", kind=ENV_KIND, resource=ENV_RESOURCE)
    body["request"][field] = value
    assert_denied(await webhook.post(path, body), "f", 400, *words)


async def test_update_without_old_object_is_denied(webhook: RunningWebhook) -> None:
    body = review("UPDATE", seed_ep(), None, uid="old")
    for path in ADMISSION_PATHS[:2]:
        assert_denied(await webhook.post(path, body), "old", 400, "oldObject")


async def test_ep_that_is_not_even_a_mapping_inside_is_denied_not_crashed(
    webhook: RunningWebhook,
) -> None:
    weird = {"apiVersion": 7, "kind": [], "metadata": "x", "spec": {"application": []}}
    for path in ADMISSION_PATHS[:2]:
        answer = await webhook.post(path, review("CREATE", weird, uid="w"))
        assert_well_formed(answer)
        if path == routes.VALIDATE_ENVIRONMENT_PROVISIONERS:
            assert_denied(answer, "w", 400, "apiVersion", "spec.application")


async def test_wrong_method_and_path_are_plain_4xx(webhook: RunningWebhook) -> None:
    async with webhook.session.get(webhook.url + routes.VALIDATE_TRONADOR_CONFIGS) as resp:
        assert resp.status == 405
    assert (await webhook.post_raw("/nowhere", b"{}")).status == 404


class _UnknownPolicy:
    policy: Policy | None = None
    synced = True

    def start(self) -> None: ...

    def stop(self) -> None: ...


class _BrokenPolicy(_UnknownPolicy):
    @property
    def policy(self) -> Policy | None:  # type: ignore[override]
        raise RuntimeError("secret-looking detail that must not leak")


async def test_no_valid_policy_denies_eps_503_but_configs_are_still_checked(
    tls_files: Any,
) -> None:
    async with running_webhook(
        _UnknownPolicy(), tls_files.cert, tls_files.key, tls_files.ca
    ) as webhook:
        for path in ADMISSION_PATHS[:2]:
            answer = await webhook.post(path, review("CREATE", seed_ep(), uid="p"))
            assert_denied(answer, "p", 503, "policy")
            assert answer.response["status"]["reason"] == "ServiceUnavailable"
        config = review("CREATE", {}, uid="c", kind=CONFIG_KIND, resource=CONFIG_RESOURCE)
        assert_denied(await webhook.post(routes.VALIDATE_TRONADOR_CONFIGS, config), "c", 400)


async def test_unexpected_exception_fails_closed_with_a_denial(
    tls_files: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_webhook(
        _BrokenPolicy(), tls_files.cert, tls_files.key, tls_files.ca
    ) as webhook:
        answer = await webhook.post(
            routes.VALIDATE_ENVIRONMENT_PROVISIONERS, review("CREATE", seed_ep(), uid="boom")
        )
    assert_denied(answer, "boom", 500, "RuntimeError")
    assert "secret-looking detail" not in answer.text
    logged = [r for r in caplog.records if r.name == "webhook.server"]
    assert any(getattr(r, "fields", {}).get("error") == "RuntimeError" for r in logged)
    assert all("stakater-nordmart" not in r.getMessage() for r in logged)


JUNK: tuple[Any, ...] = (None, True, 7, "x", [], {}, [{}], {"a": [None]})


def _node_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _node_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths += _node_paths(value, (*path, index))
    return paths


def _replaced(body: Any, path: tuple[Any, ...], junk: Any) -> Any:
    if not path:
        return junk
    copy_ = json.loads(json.dumps(body))
    node = copy_
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = junk
    return copy_


async def test_any_node_replaced_by_junk_never_gets_a_500(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Every node of an UPDATE review (and of the EPs in it), replaced by each kind of JSON value,
    on every route: always a 200 AdmissionReview or a 4xx Status, never a 500, and no exception
    anywhere (neither in the server nor in the rules)."""
    from tests.webhook.helpers import StaticPolicySource
    from webhook.server import create_app

    client = await aiohttp_client(create_app(StaticPolicySource(Policy())))
    old = seed_ep()
    body = review("UPDATE", seed_ep(), old, uid="junk")
    for path in _node_paths(body):
        for junk in JUNK:
            data = json.dumps(_replaced(body, path, junk)).encode()
            for route in ADMISSION_PATHS:
                resp = await client.post(route, data=data)
                text = await resp.text()
                assert resp.status in (200, 400), (path, junk, route, text)
                assert "Traceback" not in text
                answer = json.loads(text)
                if resp.status == 200:
                    assert answer["response"].get("status", {}).get("code") != 500, text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("spaces", [4000, 200_000])
async def test_an_unclosed_placeholder_with_a_long_run_of_spaces_is_answered(
    webhook: RunningWebhook, spaces: int
) -> None:
    """`{{` then thousands of spaces in a Helm value: the old placeholder pattern backtracked
    (4000 spaces: 49 s on the event loop, every admission and /healthz stalled meanwhile). Now
    both routes answer, and /healthz after them."""
    ep = seed_ep()
    ep["spec"]["application"]["release"]["values"]["note"] = "{{" + " " * spaces
    for path in (routes.MUTATE_ENVIRONMENT_PROVISIONERS, routes.VALIDATE_ENVIRONMENT_PROVISIONERS):
        answer = await webhook.post(path, review("CREATE", ep))
        assert_well_formed(answer)
        assert answer.response["allowed"] is True
    assert (await webhook.get("/healthz")).status == 200
