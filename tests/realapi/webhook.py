"""The real webhook app on 127.0.0.1, run on its own event loop in a thread (the API server
calls it while the test blocks in the synchronous `kubernetes` client), and its registration
with the API server through `clientConfig.url` and our caBundle."""

from __future__ import annotations

import asyncio
import base64
import copy
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kube.api import Kube
from tests.realapi.controlplane import ControlPlane
from tests.realapi.kube import Obj, Rest, rendered_manifests, wait_for
from tests.webhook.helpers import RunningWebhook, running_webhook
from tests.webhook.pki import CertificateAuthority, install_pair, issue_serving_pair, make_ca
from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE
from webhook.policy_source import PolicySource
from webhook.policy_watch import KubernetesPolicySource

T = TypeVar("T")
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


class ThreadedWebhook:
    def __init__(self, running: RunningWebhook, loop: asyncio.AbstractEventLoop) -> None:
        self.running = running
        self.loop = loop

    @property
    def url(self) -> str:
        return self.running.url

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def ready(self) -> bool:
        return self.run(self.running.get("/readyz")).status == 200


@contextmanager
def webhook_in_thread(
    source: PolicySource, cert_file: Path, key_file: Path, ca: CertificateAuthority
) -> Iterator[ThreadedWebhook]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="realapi-webhook", daemon=True)
    thread.start()
    context = running_webhook(source, cert_file, key_file, ca, certificate_check_seconds=0.2)
    try:
        running = asyncio.run_coroutine_threadsafe(context.__aenter__(), loop).result(30)
        try:
            yield ThreadedWebhook(running, loop)
        finally:
            asyncio.run_coroutine_threadsafe(context.__aexit__(None, None, None), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def webhook_configurations(url: str, ca_bundle: bytes | None) -> list[Obj]:
    """The webhook configurations of `kubectl kustomize manifests/`, calling `url` instead of
    the in-cluster Service, trusting `ca_bundle` (none: as installed, before certs sync)."""
    configurations = []
    for doc in rendered_manifests():
        if doc["kind"] not in WEBHOOK_KINDS:
            continue
        doc = copy.deepcopy(doc)
        for hook in doc["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {"url": f"{url}{path}"}
            if ca_bundle is not None:
                hook["clientConfig"]["caBundle"] = base64.b64encode(ca_bundle).decode()
        configurations.append(doc)
    return configurations


@contextmanager
def registered(rest: Rest, configurations: list[Obj]) -> Iterator[list[Obj]]:
    """Create the configurations; delete them afterwards (failurePolicy is Fail: left behind,
    they would refuse every EP once the webhook is gone)."""
    try:
        yield [rest.create(c) for c in configurations]
    finally:
        for c in configurations:
            rest.delete(c["apiVersion"], c["kind"], c["metadata"]["name"])


WEBHOOK_USER = f"system:serviceaccount:{DEFAULT_SYSTEM_NAMESPACE}:tronador-webhook"


@contextmanager
def serving_webhook(
    control_plane: ControlPlane, installed: Rest, folder: Path
) -> Iterator[ThreadedWebhook]:
    """The webhook as its own ServiceAccount (policy read from the cluster's TronadorConfig),
    registered with the configurations of the install; fails the test if the API server ever
    refused the webhook's account."""
    ca = make_ca()
    install_pair(issue_serving_pair(ca), folder / "tls.crt", folder / "tls.key")
    as_webhook = control_plane.service_account_client(
        DEFAULT_SYSTEM_NAMESPACE, "tronador-webhook", create=False
    )
    source = KubernetesPolicySource(Kube(as_webhook), DEFAULT_SYSTEM_NAMESPACE)
    denied_before = len(control_plane.denied_requests(WEBHOOK_USER))
    with as_webhook, webhook_in_thread(source, folder / "tls.crt", folder / "tls.key", ca) as hook:
        wait_for(hook.ready, what="the webhook ready (policy read as its ServiceAccount)")
        with registered(installed, webhook_configurations(hook.url, ca.cert_pem)):
            yield hook
    denied = control_plane.denied_requests(WEBHOOK_USER)[denied_before:]
    if denied:
        pytest.fail(f"the API server refused the webhook's account: {denied}", pytrace=False)
