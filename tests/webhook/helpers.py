"""Building AdmissionReviews, and running the real webhook over TLS on 127.0.0.1."""

from __future__ import annotations

import base64
import copy
import json
import logging
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from cryptography import x509

from tests.webhook.pki import CertificateAuthority
from tronador.api import Policy
from webhook.admitters import ServedKinds
from webhook.policy_source import PolicySource
from webhook.server import create_app
from webhook.tls import CertificateReloader

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"

EP_KIND = {
    "group": "tronador.stakater.com",
    "version": "v1alpha1",
    "kind": "EnvironmentProvisioner",
}
EP_RESOURCE = {
    "group": "tronador.stakater.com",
    "version": "v1alpha1",
    "resource": "environmentprovisioners",
}
ENV_KIND = {"group": "tronador.stakater.com", "version": "v1alpha2", "kind": "Environment"}
ENV_RESOURCE = {"group": "tronador.stakater.com", "version": "v1alpha2", "resource": "environments"}
CONFIG_KIND = {"group": "tronador.stakater.com", "version": "v1alpha1", "kind": "TronadorConfig"}
CONFIG_RESOURCE = {
    "group": "tronador.stakater.com",
    "version": "v1alpha1",
    "resource": "tronadorconfigs",
}


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    return document


def seed_ep() -> dict[str, Any]:
    return example("environment-provisioner.yaml")


def seed_env() -> dict[str, Any]:
    return example("environment.yaml")


def seed_config() -> dict[str, Any]:
    return example("tronador-config.yaml")


def review(
    operation: str,
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None = None,
    *,
    kind: dict[str, str] = EP_KIND,
    resource: dict[str, str] = EP_RESOURCE,
    sub_resource: str | None = None,
    dry_run: bool = False,
    uid: str | None = None,
) -> dict[str, Any]:
    """An AdmissionReview as the API server sends it."""
    metadata = (obj if obj is not None else old or {}).get("metadata")
    name = metadata.get("name", "") if isinstance(metadata, dict) else ""
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": kind,
        "resource": resource,
        "requestKind": kind,
        "requestResource": resource,
        "name": name,
        "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters"]},
        "object": copy.deepcopy(obj),
        "oldObject": copy.deepcopy(old),
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.title()}Options"},
    }
    if sub_resource:
        request["subResource"] = sub_resource
        request["requestSubResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def logged_text(records: list[logging.LogRecord]) -> str:
    """Log messages with their structured fields, as the JSON formatter would emit them."""
    return "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in records)


def decoded_patch(response: dict[str, Any]) -> list[dict[str, Any]]:
    assert response["patchType"] == "JSONPatch"
    patch: list[dict[str, Any]] = json.loads(base64.b64decode(response["patch"]))
    return patch


def client_context(*cas: CertificateAuthority) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for ca in cas:
        context.load_verify_locations(cadata=ca.cert_pem.decode("ascii"))
    return context


def peer_serial(ssl_object: ssl.SSLObject | None) -> int:
    assert ssl_object is not None
    der = ssl_object.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


@dataclass
class Answer:
    status: int
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def response(self) -> dict[str, Any]:
        body = self.json
        assert body["apiVersion"] == "admission.k8s.io/v1"
        assert body["kind"] == "AdmissionReview"
        response: dict[str, Any] = body["response"]
        return response


@dataclass
class RunningWebhook:
    url: str
    host: str
    port: int
    app: web.Application
    certificates: CertificateReloader
    session: aiohttp.ClientSession
    ssl_context: ssl.SSLContext

    async def post(self, path: str, body: Any) -> Answer:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.post_raw(path, data)

    async def post_raw(self, path: str, data: bytes) -> Answer:
        async with self.session.post(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        ) as resp:
            return Answer(resp.status, await resp.text())

    async def get(self, path: str) -> Answer:
        async with self.session.get(self.url + path) as resp:
            return Answer(resp.status, await resp.text())


@asynccontextmanager
async def running_webhook(
    source: PolicySource,
    cert_file: Path,
    key_file: Path,
    *cas: CertificateAuthority,
    certificate_check_seconds: float = 2.0,
    served_kinds: ServedKinds | None = None,
) -> AsyncIterator[RunningWebhook]:
    """The real app behind a real TLS listener on 127.0.0.1 (random port)."""
    certificates = CertificateReloader(cert_file, key_file)
    app = create_app(
        source,
        certificates=certificates,
        certificate_check_seconds=certificate_check_seconds,
        served_kinds=served_kinds,
    )
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=certificates.server_context)
    await site.start()
    host, port = runner.addresses[0][:2]
    context = client_context(*cas)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
    try:
        yield RunningWebhook(
            f"https://{host}:{port}", host, port, app, certificates, session, context
        )
    finally:
        await session.close()
        await runner.cleanup()


class StaticPolicySource:
    """A fixed policy (the webhook's `PolicySource` interface), in sync since it was made."""

    def __init__(self, policy: Policy | None = None) -> None:
        self._policy = Policy() if policy is None else policy
        self._since = time.time()

    @property
    def policy(self) -> Policy | None:
        return self._policy

    @property
    def synced(self) -> bool:
        return True

    @property
    def last_sync(self) -> float | None:
        return self._since

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
