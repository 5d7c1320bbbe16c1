"""Fuzzing the real webhook application (its `create_app` factory, plain HTTP through
pytest-aiohttp's `aiohttp_client`): whatever arrives, the answer is a well-formed
AdmissionReview echoing the uid, or a 4xx with a metav1.Status JSON body; never a 500, never a
hang. Deterministic and bounded like the rule fuzzing."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
from typing import Any

import jsonpatch
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.fuzzcount import RUNS
from tests.reliability.strategies import (
    environment_provisioners,
    json_objects,
    json_values,
    maybe,
    one_in,
    policies,
)
from tests.webhook.helpers import StaticPolicySource
from tronador.api import Policy
from webhook import routes
from webhook.server import create_app

WEBHOOK_FUZZ = settings(
    max_examples=int(os.environ.get("TRONADOR_FUZZ_EXAMPLES", "300")),
    derandomize=os.environ.get("TRONADOR_FUZZ_RANDOM") != "1",
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
ANSWER_TIMEOUT = 5.0

STRICT_POLICY = Policy.model_validate(
    {
        "tenant": {"required": True, "allowedValues": ["veeru", "jai"]},
        "requiredNamespaceLabels": ["kind"],
        "defaultNamespaceLabels": {"kind": "pr"},
        "allowedChartGitPrefixes": ["https://github.com/stakater-lab/"],
        "imageRegistryRewrites": [{"from": "docker.io", "to": "nexus.example.com/dockerhub"}],
    }
)

GROUP = "tronador.stakater.com"
EP_KIND = {"group": GROUP, "version": "v1alpha1", "kind": "EnvironmentProvisioner"}
EP_RESOURCE = {"group": GROUP, "version": "v1alpha1", "resource": "environmentprovisioners"}
KINDS = st.sampled_from(
    [
        EP_KIND,
        {"group": GROUP, "version": "v1alpha1", "kind": "TronadorConfig"},
        {"group": "", "version": "v1", "kind": "Secret"},
    ]
)
RESOURCES = st.sampled_from(
    [EP_RESOURCE, {"group": GROUP, "version": "v1alpha1", "resource": "tronadorconfigs"}]
)
UIDS = st.sampled_from(["705ab4f5-6393-11e8-b7cc-42010a800002", "u"]) | st.text(
    min_size=1, max_size=40
)
OPERATIONS = st.sampled_from(
    ["CREATE"] * 4 + ["UPDATE"] * 4 + ["DELETE", "CONNECT", "create", "PATCH"]
)


@st.composite
def admission_reviews(draw: st.DrawFn) -> dict[str, Any]:
    """AdmissionReviews as the API server sends them; each part is wrong now and then (a wrong
    type, a wrong value, missing), so most reach the rules and some test the parser."""
    request: dict[str, Any] = {
        "uid": draw(maybe(UIDS, wrong_rate=12)),
        "kind": draw(maybe(KINDS, wrong_rate=12)),
        "resource": draw(maybe(RESOURCES, wrong_rate=12)),
        "operation": draw(maybe(OPERATIONS, wrong_rate=12)),
        "object": draw(maybe(environment_provisioners, wrong_rate=6)),
        "oldObject": draw(st.none() | maybe(environment_provisioners, wrong_rate=6)),
        "dryRun": draw(maybe(st.booleans(), wrong_rate=12)),
        "name": draw(st.text(max_size=10)),
        "userInfo": {"username": "ci-bot"},
    }
    if draw(one_in(8)):
        for key in draw(st.lists(st.sampled_from(sorted(request)), max_size=2, unique=True)):
            del request[key]
    if draw(one_in(10)):
        request["subResource"] = draw(st.sampled_from(["status", "scale", ""]))
    body: dict[str, Any] = {
        "apiVersion": draw(
            maybe(
                st.sampled_from(["admission.k8s.io/v1"] * 10 + ["admission.k8s.io/v1beta1", ""]),
                wrong_rate=12,
            )
        ),
        "kind": draw(maybe(st.just("AdmissionReview"), 12)),
        "request": request,
    }
    if draw(one_in(20)):
        body = draw(json_objects)
    return body


async def post(client: Any, path: str, data: bytes) -> tuple[int, Any]:
    async def send() -> tuple[int, bytes]:
        async with client.post(
            path, data=data, headers={"Content-Type": "application/json"}
        ) as resp:
            return resp.status, await resp.read()

    status, raw = await asyncio.wait_for(send(), ANSWER_TIMEOUT)  # never a hang
    assert status != 500, raw[:500]
    text = raw.decode("utf-8")
    assert "Traceback" not in text
    return status, json.loads(text)  # always JSON


def assert_answer(status: int, body: Any, sent: Any) -> dict[str, Any] | None:
    """The AdmissionReview response (uid echoed) or None for a 4xx metav1.Status."""
    if status == 200:
        assert body["apiVersion"] == "admission.k8s.io/v1"
        assert body["kind"] == "AdmissionReview"
        response = body["response"]
        request = sent.get("request") if isinstance(sent, dict) else None
        assert isinstance(request, dict)
        assert response["uid"] == request["uid"]
        assert isinstance(response["allowed"], bool)
        if not response["allowed"]:
            assert response["status"]["message"]
            assert 400 <= response["status"]["code"] < 600
            assert response["status"]["code"] != 500 or "failed to process" in str(response)
        return response
    assert 400 <= status < 500
    assert body["kind"] == "Status" and body["code"] == status and body["message"]
    return None


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    return await aiohttp_client(create_app(StaticPolicySource(STRICT_POLICY)))


@WEBHOOK_FUZZ
@given(body=json_values, path=st.sampled_from(routes.ADMISSION_PATHS))
async def test_any_json_body_gets_a_well_formed_answer(client: Any, body: Any, path: str) -> None:
    RUNS["webhook: arbitrary JSON bodies"] += 1
    status, answer = await post(client, path, json.dumps(body).encode())
    assert_answer(status, answer, body)


@WEBHOOK_FUZZ
@given(data=st.binary(max_size=200), path=st.sampled_from(routes.ADMISSION_PATHS))
async def test_any_bytes_get_a_well_formed_answer(client: Any, data: bytes, path: str) -> None:
    RUNS["webhook: arbitrary bytes"] += 1
    status, answer = await post(client, path, data)
    assert status in (200, 400, 413) or 400 <= status < 500
    if status != 200:
        assert answer["kind"] == "Status"


@WEBHOOK_FUZZ
@given(body=admission_reviews(), path=st.sampled_from(routes.ADMISSION_PATHS))
async def test_any_admission_review_gets_a_well_formed_answer(
    client: Any, body: dict[str, Any], path: str
) -> None:
    RUNS["webhook: arbitrary AdmissionReviews"] += 1
    status, answer = await post(client, path, json.dumps(body).encode())
    response = assert_answer(status, answer, body)
    if response is None:
        return
    RUNS["webhook: AdmissionReviews answered with a review"] += 1
    if "patch" in response:
        assert path == routes.MUTATE_ENVIRONMENT_PROVISIONERS
        RUNS["webhook: AdmissionReviews answered with a patch"] += 1
        assert response["patchType"] == "JSONPatch"
        patch = json.loads(base64.b64decode(response["patch"]))
        obj = body["request"]["object"]
        jsonpatch.apply_patch(copy.deepcopy(obj), patch)  # the patch applies to the object


@WEBHOOK_FUZZ
@given(obj=environment_provisioners, policy=policies)
async def test_mutate_then_validate_through_the_server(
    aiohttp_client: Any, obj: dict[str, Any], policy: Policy
) -> None:
    """The API server's order: the mutating webhook's patch, then the validating webhook."""
    RUNS["webhook: mutate then validate round trips"] += 1
    client = await aiohttp_client(create_app(StaticPolicySource(policy)))
    request = {
        "uid": "u-1",
        "kind": {"group": GROUP, "version": "v1alpha1", "kind": "EnvironmentProvisioner"},
        "resource": {"group": GROUP, "version": "v1alpha1", "resource": "environmentprovisioners"},
        "operation": "CREATE",
        "object": obj,
    }
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    status, answer = await post(
        client, routes.MUTATE_ENVIRONMENT_PROVISIONERS, json.dumps(review).encode()
    )
    response = assert_answer(status, answer, review)
    assert response is not None
    mutated = obj
    if "patch" in response:
        mutated = jsonpatch.apply_patch(
            copy.deepcopy(obj), json.loads(base64.b64decode(response["patch"]))
        )
    request["object"] = mutated
    status, answer = await post(
        client, routes.VALIDATE_ENVIRONMENT_PROVISIONERS, json.dumps(review).encode()
    )
    response = assert_answer(status, answer, review)
    assert response is not None and "patch" not in response
