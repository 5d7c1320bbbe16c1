"""Reviews built to be expensive: answered correctly and quickly in process, a large one decided
off the event loop so the probes keep being answered, and a problem in every leaf listed only
up to a bound. bench/flood.py measures the same against the running webhook."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.webhook.helpers import RunningWebhook, StaticPolicySource, review, seed_ep
from tronador.api import Policy
from tronador.rules.findings import MAX_VIOLATIONS
from webhook import routes, verdict
from webhook.admitters import admitters
from webhook.collector import collector_paused
from webhook.metrics import WebhookMetrics
from webhook.review import AdmissionRequest
from webhook.server import INLINE_BODY_BYTES, AdmissionHandler, serve_healthz
from webhook.verdict import Verdict


def _with_values(values: Any) -> dict[str, Any]:
    ep = seed_ep()
    ep["spec"]["application"]["release"]["values"]["hostile"] = values
    return ep


async def test_a_placeholder_left_open_by_4000_spaces_is_answered_at_once(
    webhook: RunningWebhook,
) -> None:
    ep = _with_values("{{" + " " * 4000)
    for path in (routes.MUTATE_ENVIRONMENT_PROVISIONERS, routes.VALIDATE_ENVIRONMENT_PROVISIONERS):
        answer = await asyncio.wait_for(webhook.post(path, review("CREATE", ep)), timeout=5)
        assert answer.response["allowed"] is True, answer.response


async def test_a_problem_in_every_leaf_is_listed_up_to_the_bound(webhook: RunningWebhook) -> None:
    leaves = 5 * MAX_VIOLATIONS
    ep = _with_values({f"k{i}": "{{APPLICATION_IMAGE_TAG}}" for i in range(leaves)})
    answer = await webhook.post(routes.VALIDATE_ENVIRONMENT_PROVISIONERS, review("CREATE", ep))
    message = answer.response["status"]["message"]
    assert answer.response["allowed"] is False
    assert message.count("(rule unresolved-placeholder)") == MAX_VIOLATIONS
    assert message.endswith(f"(only the first {MAX_VIOLATIONS} problems are listed)")


class _Blocking:
    """An admitter that holds its thread until released, recording the thread it ran on."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.thread: str | None = None

    def admit(self, request: AdmissionRequest, policy: Policy | None) -> Verdict:
        self.thread = threading.current_thread().name
        self.entered.set()
        assert self.release.wait(10), "the test never released the admitter"
        return verdict.ALLOWED


async def test_a_large_review_is_decided_off_the_loop_while_healthz_answers() -> None:
    """The admitter of a large review blocks its thread; /healthz is still answered, so the
    review is not being decided on the event loop."""
    path = routes.VALIDATE_ENVIRONMENT_PROVISIONERS
    real = admitters("tronador-system", None)[path]
    blocking = _Blocking()
    real_admitter = type(real)(real.resource, real.kind, blocking.admit)
    app = web.Application(client_max_size=routes.MAX_BODY_BYTES)
    with ThreadPoolExecutor(1, thread_name_prefix="admission") as workers:
        handler = AdmissionHandler(
            path, real_admitter, StaticPolicySource(), WebhookMetrics(), workers
        )
        app.router.add_post(path, handler.handle)
        app.router.add_get(routes.HEALTHZ, serve_healthz)
        ep = _with_values("x" * (2 * INLINE_BODY_BYTES))
        body = json.dumps(review("CREATE", ep)).encode()
        async with TestClient(TestServer(app)) as client:
            posted = asyncio.create_task(
                client.post(path, data=body, headers={"Content-Type": "application/json"})
            )
            assert await asyncio.to_thread(blocking.entered.wait, 10)
            health = await asyncio.wait_for(client.get(routes.HEALTHZ), timeout=5)
            assert health.status == 200
            assert not posted.done()
            blocking.release.set()
            answer = await (await posted).json()
    assert answer["response"]["allowed"] is True
    assert blocking.thread is not None and blocking.thread.startswith("admission")


def test_the_collector_is_paused_while_nested_pauses_last_and_restored_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
