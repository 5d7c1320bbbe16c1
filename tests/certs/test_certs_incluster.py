"""The in-cluster loop against the emulated Kubernetes API (real HTTP, no client mocks)."""

from __future__ import annotations

import argparse
import base64
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from kubernetes import client

from certs import cli, defaults, pki
from certs.bundle import Outcome
from certs.incluster import CertSync, SyncConfig
from certs.pki import Policy, ServingSpec
from tests.apiserver import EmulatedAPIServer, Fault
from tests.certs.helpers import T0, https_get
from tests.waiting import wait_until

NS = defaults.NAMESPACE
SECRET = defaults.SECRET_NAME
ADMISSION = "admissionregistration.k8s.io/v1"
SPEC = ServingSpec(defaults.SERVICE_NAME, NS, ips=("127.0.0.1",))
SHORT = Policy(
    ca_lifetime=timedelta(days=30),
    leaf_lifetime=timedelta(days=3),
    ca_publish_delay=timedelta(hours=1),
    ca_retire_delay=timedelta(hours=6),
)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def webhook_configuration(kind: str, name: str, hooks: int = 2) -> dict[str, Any]:
    webhooks = []
    for i in range(hooks):
        hook: dict[str, Any] = {
            "name": f"hook{i}.tronador.stakater.com",
            "clientConfig": {
                "service": {"name": defaults.SERVICE_NAME, "namespace": NS, "path": f"/h{i}"}
            },
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": "Fail",
            "rules": [
                {
                    "apiGroups": ["tronador.stakater.com"],
                    "apiVersions": ["v1alpha1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["environmentprovisioners"],
                }
            ],
        }
        if kind == "MutatingWebhookConfiguration":
            hook["reinvocationPolicy"] = "Never"
        webhooks.append(hook)
    return {
        "apiVersion": ADMISSION,
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": webhooks,
    }


MUTATING = ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations")
VALIDATING = ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations")


def seed_webhooks(server: EmulatedAPIServer) -> None:
    server.seed(webhook_configuration(MUTATING[0], defaults.MUTATING_WEBHOOK_NAME))
    server.seed(webhook_configuration(VALIDATING[0], defaults.VALIDATING_WEBHOOK_NAME))


@pytest.fixture
def server(apiserver: EmulatedAPIServer) -> EmulatedAPIServer:
    apiserver.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return apiserver


def secret_data(server: EmulatedAPIServer) -> dict[str, bytes]:
    obj = server.get("v1", "secrets", SECRET, NS)
    assert obj is not None
    return {k: base64.b64decode(v) for k, v in obj["data"].items()}


def ca_bundles(server: EmulatedAPIServer) -> list[bytes]:
    """The decoded caBundle of every webhook of both configurations."""
    out = []
    for _, plural in (MUTATING, VALIDATING):
        name = (
            defaults.MUTATING_WEBHOOK_NAME
            if plural == MUTATING[1]
            else defaults.VALIDATING_WEBHOOK_NAME
        )
        obj = server.get(ADMISSION, plural, name, None)
        for hook in obj["webhooks"]:
            out.append(base64.b64decode(hook["clientConfig"].get("caBundle", "")))
    return out


def secret_writes(server: EmulatedAPIServer) -> list[Any]:
    return [r for r in server.writes() if "/secrets" in r.path]


def make_sync(
    k8s_client: client.ApiClient,
    clock: Callable[[], datetime] | None = None,
    out_dir: Path | None = None,
    policy: Policy = SHORT,
    spec: ServingSpec = SPEC,
) -> CertSync:
    config = SyncConfig(spec=spec, policy=policy, out_dir=str(out_dir) if out_dir else None)
    return CertSync(k8s_client, config, clock or Clock())


def certs_of(pem: bytes) -> list[x509.Certificate]:
    return pki.load_certs(pem)


# --- create / reuse / rotate ------------------------------------------------------------


async def test_creates_secret_injects_bundle_writes_files_and_serves_tls(
    server: EmulatedAPIServer, k8s_client: client.ApiClient, tmp_path: Path
) -> None:
    seed_webhooks(server)
    syncer = make_sync(k8s_client, lambda: datetime.now(UTC), tmp_path, Policy())  # real TLS
    result = syncer.sync_once()
    assert result.secret_written and result.files_written
    assert result.reasons == ["secret does not exist"]
    assert set(result.webhooks.values()) == {Outcome.UPDATED}

    obj = server.get("v1", "secrets", SECRET, NS)
    assert obj["type"] == "kubernetes.io/tls"
    data = secret_data(server)
    assert set(data) == {"tls.crt", "tls.key", "ca.crt", "ca.key"}
    assert ca_bundles(server) == [data["ca.crt"]] * 4
    assert (tmp_path / "tls.crt").read_bytes() == data["tls.crt"]
    assert (tmp_path / "tls.key").read_bytes() == data["tls.key"]

    # What the API server would do: trust only the caBundle of the webhook configuration.
    body = await https_get(tmp_path / "tls.crt", tmp_path / "tls.key", ca_bundles(server)[0])
    assert body == "hello over tls"
    body = await https_get(
        tmp_path / "tls.crt",
        tmp_path / "tls.key",
        ca_bundles(server)[0],
        server_hostname=f"{defaults.SERVICE_NAME}.{NS}.svc",
    )
    assert body == "hello over tls"


def test_valid_material_is_reused_without_writes(
    server: EmulatedAPIServer, k8s_client: client.ApiClient, tmp_path: Path
) -> None:
    seed_webhooks(server)
    clock = Clock()
    make_sync(k8s_client, clock, tmp_path).sync_once()
    before = secret_data(server)
    writes = len(server.writes())
    clock.advance(days=1)
    other_replica = make_sync(k8s_client, clock, tmp_path)
    result = other_replica.sync_once()
    assert not result.secret_written and not result.files_written
    assert set(result.webhooks.values()) == {Outcome.UNCHANGED}
    assert len(server.writes()) == writes
    assert secret_data(server) == before


def test_leaf_rotates_before_expiry(
    server: EmulatedAPIServer, k8s_client: client.ApiClient, tmp_path: Path
) -> None:
    seed_webhooks(server)
    clock = Clock()
    syncer = make_sync(k8s_client, clock, tmp_path)
    syncer.sync_once()
    first = secret_data(server)
    clock.advance(days=2)  # 2/3 of the 3-day leaf lifetime
    result = syncer.sync_once()
    assert result.secret_written and "rotation point" in result.reasons[0]
    second = secret_data(server)
    assert second["tls.crt"] != first["tls.crt"]
    assert second["ca.crt"] == first["ca.crt"]  # same CA, caBundle untouched
    assert set(result.webhooks.values()) == {Outcome.UNCHANGED}
    assert (tmp_path / "tls.crt").read_bytes() == second["tls.crt"]
    leaf = certs_of(second["tls.crt"])[0]
    assert pki.is_signed_by(leaf, certs_of(first["ca.crt"])[0])


def _realtime_rotation_policy(lead: timedelta) -> Policy:
    """A CA rotation due ``lead`` after it was issued, with one-minute steps: everything
    stays within the notBefore backdating, so real TLS handshakes work at every step."""
    lifetime = timedelta(days=1)
    fraction = (pki.BACKDATE + lead) / (lifetime + pki.BACKDATE)
    return Policy(
        ca_lifetime=lifetime,
        leaf_lifetime=lifetime,
        ca_rotate_fraction=fraction,
        ca_publish_delay=timedelta(seconds=60),
        ca_retire_delay=timedelta(seconds=60),
    )


async def test_ca_rotation_overlap_keeps_old_and_new_leaf_trusted(
    server: EmulatedAPIServer, k8s_client: client.ApiClient, tmp_path: Path
) -> None:
    seed_webhooks(server)
    clock = Clock(datetime.now(UTC))
    policy = _realtime_rotation_policy(timedelta(seconds=60))
    syncer = make_sync(k8s_client, clock, tmp_path / "live", policy)
    syncer.sync_once()
    start = secret_data(server)
    old_ca = certs_of(start["ca.crt"])[0]
    old_leaf_dir = tmp_path / "old"
    old_leaf_dir.mkdir()
    (old_leaf_dir / "tls.crt").write_bytes(start["tls.crt"])
    (old_leaf_dir / "tls.key").write_bytes(start["tls.key"])

    # Step 1: a new CA is published next to the old one; the leaf does not change yet.
    clock.advance(seconds=61)
    result = syncer.sync_once()
    assert any("published a new CA" in r for r in result.reasons)
    step1 = secret_data(server)
    assert "ca-next.key" in step1
    assert step1["tls.crt"] == start["tls.crt"]
    assert len(certs_of(step1["ca.crt"])) == 2
    assert certs_of(step1["ca.crt"])[0] == old_ca
    assert ca_bundles(server) == [step1["ca.crt"]] * 4  # published before anything signs

    # Step 2: the leaf moves to the new CA; the bundle still trusts both.
    clock.advance(seconds=61)
    result = syncer.sync_once()
    assert result.reasons == ["CA rotation: the serving certificate is now signed by the new CA"]
    step2 = secret_data(server)
    new_ca = certs_of(step1["ca.crt"])[1]
    assert certs_of(step2["ca.crt"]) == [new_ca, old_ca]
    assert pki.is_signed_by(certs_of(step2["tls.crt"])[0], new_ca)
    published = ca_bundles(server)[0]
    assert published == step2["ca.crt"]
    live = tmp_path / "live"
    # A replica still serving the old leaf and one serving the new: both handshakes succeed.
    assert await https_get(old_leaf_dir / "tls.crt", old_leaf_dir / "tls.key", published)
    assert await https_get(live / "tls.crt", live / "tls.key", published)
    # ...and the bundle published at step 1 (what a lagging API server has) trusts the new leaf.
    assert await https_get(live / "tls.crt", live / "tls.key", step1["ca.crt"])

    # Step 3: after the window the old CA is dropped (no new rotation: default policy now).
    clock.advance(seconds=61)
    finisher = make_sync(k8s_client, clock, live, Policy(ca_retire_delay=timedelta(seconds=60)))
    result = finisher.sync_once()
    assert result.reasons == ["removed 1 old CA from the bundle"]
    step3 = secret_data(server)
    assert certs_of(step3["ca.crt"]) == [new_ca]
    assert ca_bundles(server) == [step3["ca.crt"]] * 4
    assert await https_get(live / "tls.crt", live / "tls.key", ca_bundles(server)[0])
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await https_get(old_leaf_dir / "tls.crt", old_leaf_dir / "tls.key", ca_bundles(server)[0])


def test_new_ca_does_not_sign_until_the_bundle_is_published(
    server: EmulatedAPIServer, k8s_client: client.ApiClient
) -> None:
    seed_webhooks(server)
    clock = Clock()
    syncer = make_sync(k8s_client, clock)
    syncer.sync_once()
    clock.now = pki.rotate_at(certs_of(secret_data(server)["ca.crt"])[0], 2 / 3)
    syncer.sync_once()
    step1 = secret_data(server)
    assert "ca-next.key" in step1
    # Something resets the caBundle and every patch fails from now on.
    reset_bundle(k8s_client, MUTATING, defaults.MUTATING_WEBHOOK_NAME, b"")
    failing = Fault(method="PATCH", path_regex="webhookconfigurations", times=None)
    server.faults.add(failing)
    clock.advance(hours=2)
    syncer.sync_once()
    syncer.sync_once()
    assert failing.fired >= 2
    assert secret_data(server)["tls.crt"] == step1["tls.crt"]  # held back
    failing.times = failing.fired  # the API server recovers
    clock.advance(minutes=1)
    result = syncer.sync_once()  # publishes now; promotes on the next pass
    assert result.webhooks[f"{MUTATING[0]}/{defaults.MUTATING_WEBHOOK_NAME}"] is Outcome.UPDATED
    syncer.sync_once()
    assert secret_data(server)["tls.crt"] != step1["tls.crt"]


# --- concurrency ------------------------------------------------------------------------


def _race(syncers: list[CertSync]) -> list[Any]:
    barrier = threading.Barrier(len(syncers))
    results: list[Any] = [None] * len(syncers)

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = syncers[i].ensure_secret()
        except Exception as e:  # pragma: no cover - reported by the assertion below
            results[i] = e

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(syncers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not [r for r in results if isinstance(r, Exception)], results
    return results


def test_concurrent_first_start_ends_with_one_ca(
    server: EmulatedAPIServer, k8s_client: client.ApiClient
) -> None:
    # Every replica's first read is held so they all see "no Secret" and all try to create.
    server.faults.add(Fault(method="GET", path_regex="/secrets/", kind="delay", delay=0.3, times=4))
    clock = Clock()
    results = _race([make_sync(server.api_client(), clock) for _ in range(4)])
    creates = [w for w in secret_writes(server) if w.method == "POST"]
    assert len(creates) == 4  # they really raced: three lost with 409 AlreadyExists
    cas = {certs_of(material.bundle_pem)[0] for material, _, _ in results}
    assert len(cas) == 1
    assert certs_of(secret_data(server)["ca.crt"]) == list(cas)
    assert sum(1 for _, _, written in results if written) == 1


def test_concurrent_replacement_of_expired_material_ends_with_one_ca(
    server: EmulatedAPIServer, k8s_client: client.ApiClient
) -> None:
    clock = Clock()
    make_sync(k8s_client, clock).ensure_secret()
    clock.advance(days=40)  # CA and leaf expired
    server.faults.add(Fault(method="GET", path_regex="/secrets/", kind="delay", delay=0.3, times=3))
    results = _race([make_sync(server.api_client(), clock) for _ in range(3)])
    puts = [w for w in secret_writes(server) if w.method == "PUT"]
    assert len(puts) == 3  # all three replaced with the same resourceVersion; two got 409
    cas = {certs_of(material.bundle_pem)[0] for material, _, _ in results}
    assert len(cas) == 1
    assert certs_of(secret_data(server)["ca.crt"]) == list(cas)


def test_injected_conflicts_are_retried(
    server: EmulatedAPIServer, k8s_client: client.ApiClient
) -> None:
    seed_webhooks(server)
    clock = Clock()
    syncer = make_sync(k8s_client, clock)
    faults = [Fault(method="POST", path_regex="/secrets", status=409)]
    server.faults.add(faults[0])
    syncer.sync_once()
    clock.advance(days=40)  # everything expired: a new CA, so the caBundle must change too
    faults += [
        Fault(method="PUT", path_regex="/secrets/", status=409),
        Fault(method="PATCH", path_regex="mutatingwebhookconfigurations", status=409),
        Fault(method="PATCH", path_regex="validatingwebhookconfigurations", status=422),
    ]
    for fault in faults[1:]:
        server.faults.add(fault)
    result = syncer.sync_once()
    assert [f.fired for f in faults] == [1, 1, 1, 1]
    assert result.secret_written
    assert set(result.webhooks.values()) == {Outcome.UPDATED}
    assert ca_bundles(server) == [secret_data(server)["ca.crt"]] * 4
    assert len(certs_of(secret_data(server)["ca.crt"])) == 1


# --- caBundle upkeep ----------------------------------------------------------------------


def reset_bundle(
    k8s_client: client.ApiClient, which: tuple[str, str], name: str, value: bytes
) -> None:
    """What a GitOps sync does: put the manifest's caBundle back."""
    api = client.AdmissionregistrationV1Api(k8s_client)
    patch = (
        api.patch_mutating_webhook_configuration
        if which is MUTATING
        else api.patch_validating_webhook_configuration
    )
    ops = [
        {"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": value.decode()}
        for i in range(2)
    ]
    patch(name, ops, _content_type="application/json-patch+json")


def test_reset_ca_bundle_is_repatched(
    server: EmulatedAPIServer, k8s_client: client.ApiClient
) -> None:
    seed_webhooks(server)
    syncer = make_sync(k8s_client)
    syncer.sync_once()
    wanted = secret_data(server)["ca.crt"]
    reset_bundle(k8s_client, VALIDATING, defaults.VALIDATING_WEBHOOK_NAME, b"")
    reset_bundle(k8s_client, MUTATING, defaults.MUTATING_WEBHOOK_NAME, b"Zm9v")
    result = syncer.sync_once()
    assert result.webhooks == {
        f"{MUTATING[0]}/{defaults.MUTATING_WEBHOOK_NAME}": Outcome.UPDATED,
        f"{VALIDATING[0]}/{defaults.VALIDATING_WEBHOOK_NAME}": Outcome.UPDATED,
    }
    assert ca_bundles(server) == [wanted] * 4
    assert not result.secret_written


def test_loop_keeps_the_bundle_right_and_survives_api_errors(
    server: EmulatedAPIServer, k8s_client: client.ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    seed_webhooks(server)
    syncer = make_sync(k8s_client)
    passes: list[Any] = []
    stop = threading.Event()
    server.faults.add(Fault(method="GET", path_regex="/secrets/", status=500, times=1))
    thread = threading.Thread(
        target=syncer.run_forever, args=(0.05, stop), kwargs={"on_pass": passes.append}
    )
    with caplog.at_level(logging.INFO):
        thread.start()
        try:
            wait_until(lambda: len(passes) >= 1)
            wanted = secret_data(server)["ca.crt"]
            reset_bundle(k8s_client, MUTATING, defaults.MUTATING_WEBHOOK_NAME, b"")
            wait_until(lambda: ca_bundles(server) == [wanted] * 4)
        finally:
            stop.set()
            thread.join(5)
    assert not thread.is_alive()
    failed = [r for r in caplog.records if r.getMessage() == "certificate sync failed; will retry"]
    assert failed and "HTTP 500" in failed[0].fields["error"]


def test_missing_webhook_configuration_is_logged_once_and_fixed_later(
    server: EmulatedAPIServer, k8s_client: client.ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    syncer = make_sync(k8s_client)
    with caplog.at_level(logging.WARNING, logger="certs"):
        result = syncer.sync_once()
        syncer.sync_once()
    assert result.secret_written
    assert set(result.webhooks.values()) == {Outcome.MISSING}
    missing = [r for r in caplog.records if "not found" in r.getMessage()]
    assert len(missing) == 2  # once per configuration, not once per pass
    seed_webhooks(server)
    result = syncer.sync_once()
    assert set(result.webhooks.values()) == {Outcome.UPDATED}
    assert ca_bundles(server) == [secret_data(server)["ca.crt"]] * 4


# --- broken material ----------------------------------------------------------------------


def seed_secret(server: EmulatedAPIServer, data: dict[str, bytes]) -> None:
    server.seed(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": SECRET, "namespace": NS, "labels": {"team": "platform"}},
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
        }
    )


def _good_data(now: datetime = T0) -> dict[str, bytes]:
    ca = pki.generate_ca(now, SHORT.ca_lifetime)
    leaf = pki.issue_serving_cert(ca, SPEC, now, SHORT.leaf_lifetime)
    return {
        "ca.crt": ca.cert_pem,
        "ca.key": ca.key_pem,
        "tls.crt": leaf.cert_pem,
        "tls.key": leaf.key_pem,
    }


def _mismatched() -> dict[str, bytes]:
    data, other = _good_data(), _good_data()
    data["tls.key"] = other["tls.key"]
    return data


def _corrupt() -> dict[str, bytes]:
    data = _good_data()
    data["ca.crt"] = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    return data


def _expired() -> dict[str, bytes]:
    return _good_data(T0 - timedelta(days=400))


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (_mismatched, "serving key does not match serving certificate"),
        (_corrupt, "ca.crt: certificate PEM does not parse"),
        (_expired, "CA certificate expired"),
    ],
)
def test_broken_material_is_replaced_with_a_reason(
    server: EmulatedAPIServer,
    k8s_client: client.ApiClient,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[], dict[str, bytes]],
    why: str,
) -> None:
    seed_webhooks(server)
    broken = make()
    seed_secret(server, broken)
    syncer = make_sync(k8s_client)
    with caplog.at_level(logging.INFO, logger="certs"):
        result = syncer.sync_once()
    assert result.secret_written
    replaced = [
        r for r in caplog.records if r.getMessage() == "webhook certificate material replaced"
    ]
    assert len(replaced) == 1 and replaced[0].levelno == logging.WARNING
    assert any(why in reason for reason in replaced[0].fields["reasons"])
    data = secret_data(server)
    assert data["tls.crt"] != broken["tls.crt"]
    leaf = certs_of(data["tls.crt"])[0]
    assert (
        pki.leaf_problem(leaf, pki.load_key(data["tls.key"]), certs_of(data["ca.crt"])[0], SPEC, T0)
        is None
    )
    obj = server.get("v1", "secrets", SECRET, NS)
    assert obj["metadata"]["labels"]["team"] == "platform"  # others' metadata survives
    # never any key material in the logs
    text = " ".join(r.getMessage() + json.dumps(getattr(r, "fields", {})) for r in caplog.records)
    assert "PRIVATE KEY" not in text and "BEGIN" not in text


# --- in-process and CLI -------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tronador certs")
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_sync_and_status_in_cluster(
    server: EmulatedAPIServer,
    k8s_client: client.ApiClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed_webhooks(server)
    args = parse("sync", "--out", str(tmp_path), "--ip", "127.0.0.1")
    assert cli.run(args, api_client=k8s_client) == 0
    out = capsys.readouterr().out
    assert f"secret {NS}/{SECRET}: updated" in out
    assert "files in" in out and "written" in out
    assert (tmp_path / "tls.key").exists()

    assert cli.run(parse("status", "--ip", "127.0.0.1"), api_client=k8s_client) == 0
    out = capsys.readouterr().out
    assert f"Source: secret {NS}/{SECRET}" in out
    assert "[signing]" in out
    assert "caBundle up to date (2 webhooks)" in out
    assert "Status: OK" in out

    reset_bundle(k8s_client, MUTATING, defaults.MUTATING_WEBHOOK_NAME, b"")
    assert cli.run(parse("status", "--ip", "127.0.0.1"), api_client=k8s_client) == 3
    assert "caBundle OUT OF DATE" in capsys.readouterr().out
    args = parse("status", "--dir", str(tmp_path), "--ip", "127.0.0.1", "--check-webhooks")
    assert cli.run(args, api_client=k8s_client) == 3


def test_cli_sync_via_kubeconfig(
    server: EmulatedAPIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emu", "cluster": {"server": server.url}}],
                "users": [{"name": "emu", "user": {"token": "t"}}],
                "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "emu"}}],
                "current-context": "emu",
            }
        )
    )
    assert cli.run(parse("sync", "--kubeconfig", str(kubeconfig))) == 0
    out = capsys.readouterr().out
    assert f"{MUTATING[0]}/{defaults.MUTATING_WEBHOOK_NAME}: missing" in out
    assert server.get("v1", "secrets", SECRET, NS) is not None


def test_cli_errors_are_one_line(
    server: EmulatedAPIServer, k8s_client: client.ApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run(parse("status"), api_client=k8s_client) == 1
    err = capsys.readouterr().err
    assert err == f"tronador certs: error: secret {NS}/{SECRET} does not exist\n"
    server.faults.add(Fault(method="GET", path_regex="/secrets/", status=403, times=None))
    assert cli.run(parse("sync"), api_client=k8s_client) == 1
    err = capsys.readouterr().err
    assert err.startswith("tronador certs: error:") and "403" in err and err.count("\n") == 1
    assert cli.run(parse("sync", "--kubeconfig", "/nonexistent/kubeconfig")) == 1
    assert "cannot load Kubernetes configuration" in capsys.readouterr().err


def test_cli_sync_loop_runs_until_stopped(
    server: EmulatedAPIServer, k8s_client: client.ApiClient, tmp_path: Path
) -> None:
    seed_webhooks(server)
    stop = threading.Event()
    args = parse("sync", "--loop", "--interval", "0.05", "--out", str(tmp_path))
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(cli.cmd_sync(args, k8s_client, stop)))
    thread.start()
    try:
        wait_until(lambda: (tmp_path / "tls.crt").exists())
        reset_bundle(k8s_client, VALIDATING, defaults.VALIDATING_WEBHOOK_NAME, b"")
        wait_until(lambda: ca_bundles(server) == [secret_data(server)["ca.crt"]] * 4)
    finally:
        stop.set()
        thread.join(5)
    assert codes == [0]
