"""TronadorConfig secrets go only where the config maps them: into the namespaces of the EPs
whose repository it names, never into an EP's status, any Event, or the logs (DEBUG included),
neither as given nor base64-encoded."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from controller.manager import Controller
from tests.apiserver import EmulatedAPIServer, Fault
from tests.controller.fleet import (
    OTHER_REPO,
    all_provisioned,
    ep,
    ep_body,
    seed_cluster,
    write_problems,
)
from tests.controller.harness import settings

MAPPED_VALUE = "mapped-pa55word-7f3a91"
ORG_VALUE = "org-level-pa55word-c2d4e8"
PULL_TOKEN = "c29hay10b2tlbi05OTE="
PULL_VALUE = json.dumps({"auths": {"nexus.example.com": {"auth": PULL_TOKEN}}})
MAPPED_EP, ORG_EP = "pr-mapped", "pr-org"


def _config(config: dict[str, Any]) -> None:
    for item in config["spec"]["secrets"]:
        name = item["metadata"]["name"]
        if name == "nordmart-git-auth":
            item["stringData"]["password"] = MAPPED_VALUE
        elif name == "org-git-auth":
            item["stringData"]["password"] = ORG_VALUE
        elif name == "nexus-pull-secret":
            item["stringData"][".dockerconfigjson"] = PULL_VALUE


def _forms(value: str) -> list[str]:
    """The value, its base64, and (inside JSON text) its escaped form and the token in it."""
    forms = [value, base64.b64encode(value.encode()).decode(), json.dumps(value)[1:-1]]
    return forms + ([PULL_TOKEN] if value == PULL_VALUE else [])


def _secret_values(server: EmulatedAPIServer, namespace: str) -> set[str]:
    values = set()
    for secret in server.list("v1", "secrets", namespace):
        for encoded in (secret.get("data") or {}).values():
            values.add(base64.b64decode(encoded).decode())
    return values


def test_secrets_land_only_where_mapped_and_are_never_shown(
    apiserver: EmulatedAPIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = apiserver
    seed_cluster(server, _config)
    server.seed(ep_body(MAPPED_EP))  # stakater-nordmart-inventory: the mapping
    server.seed(ep_body(ORG_EP, repo=OTHER_REPO))  # no mapping: orgLevelSecrets
    # Failures make the controller report (and log) more: a rejected secret write and a conflict.
    rejected = server.faults.add(Fault(method="PATCH", path_regex="/secrets/", status=422, times=1))
    conflict = server.faults.add(Fault(method="PATCH", path_regex="/secrets/", status=409, times=1))
    caplog.set_level(logging.DEBUG)
    client = server.api_client()
    controller = Controller(client, settings()).start(sync_timeout=10)
    try:
        server.wait_for(lambda: all_provisioned(server, [MAPPED_EP, ORG_EP]), timeout=30)
        # a secret edited in the namespace is repaired (and the repair is reported)
        server.patch("v1", "secrets", "nordmart-git-auth", MAPPED_EP, {"data": {"password": ""}})
        server.wait_for(lambda: MAPPED_VALUE in _secret_values(server, MAPPED_EP), timeout=30)
        server.wait_for(lambda: controller.queue.pending == 0, timeout=30)
        # the repair's Event is written after the Secret: wait for it, not for the queue alone
        server.wait_for(lambda: len(server.list("v1", "events")) >= 6, timeout=30)
    finally:
        controller.stop(timeout=5)
        client.close()

    assert rejected.fired == conflict.fired == 1
    assert _secret_values(server, MAPPED_EP) >= {MAPPED_VALUE, PULL_VALUE}
    assert ORG_VALUE not in _secret_values(server, MAPPED_EP)
    assert _secret_values(server, ORG_EP) >= {ORG_VALUE, PULL_VALUE}
    assert MAPPED_VALUE not in _secret_values(server, ORG_EP)
    for namespace in ("default", "tronador-system", "kube-system"):
        leaked = _secret_values(server, namespace) & {MAPPED_VALUE, ORG_VALUE, PULL_VALUE}
        assert not leaked, namespace
    assert write_problems(server) == []

    shown = {
        "status": json.dumps([(ep(server, n) or {}).get("status") for n in (MAPPED_EP, ORG_EP)]),
        "events": json.dumps(server.list("v1", "events")),
        "logs": "\n".join(
            f"{r.getMessage()} {getattr(r, 'fields', '')} {r.exc_text or ''}"
            for r in caplog.records
        ),
    }
    assert len(server.list("v1", "events")) >= 6
    assert any("Secret" in r.getMessage() for r in caplog.records)
    for where, text in shown.items():
        for value in (MAPPED_VALUE, ORG_VALUE, PULL_VALUE):
            for form in _forms(value):
                assert form not in text, f"a secret value is in the {where}"
