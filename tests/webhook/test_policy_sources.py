"""Policy sources: defaults, last-good-policy, file reloads, and the server applying a changed
TronadorConfig without a restart."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube.resources import TRONADOR_CONFIGS
from tests.waiting import wait_until
from tests.webhook.conftest import TLSFiles
from tests.webhook.helpers import (
    EXAMPLES,
    logged_text,
    review,
    running_webhook,
    seed_config,
    seed_ep,
)
from tests.webhook.pki import write_atomically
from tronador.api import Policy
from webhook import routes
from webhook.policy_file import FilePolicySource
from webhook.policy_source import PolicyHolder
from webhook.policy_watch import KubernetesPolicySource

SECRET_VALUE = "replace-me"
"""A password in the example TronadorConfig: must never reach a log line."""


def config_with(**policy: Any) -> dict[str, Any]:
    config = seed_config()
    config["spec"]["policy"] = policy
    return config


def test_no_tronador_config_means_the_documented_defaults() -> None:
    holder = PolicyHolder("tronador-system", "test")
    assert holder.policy is None and not holder.synced
    assert holder.apply(None)
    assert holder.policy == Policy()
    assert holder.synced


def test_a_valid_config_replaces_the_policy() -> None:
    holder = PolicyHolder("tronador-system", "test")
    holder.apply(None)
    assert holder.apply(seed_config())
    assert holder.policy is not None
    assert holder.policy.tenant.allowed_values == ["veeru", "jai"]


def test_an_invalid_config_keeps_the_last_good_policy_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    holder = PolicyHolder("tronador-system", "test")
    holder.apply(seed_config())
    good = holder.policy

    broken = seed_config()
    broken["spec"]["policy"]["defaultTTL"] = "forever"
    with caplog.at_level(logging.INFO):
        assert not holder.apply(broken, "42")

    assert holder.policy is good
    text = logged_text(caplog.records)
    assert "spec.policy.defaultTTL" in text
    assert "keeping the last good policy" in text
    assert SECRET_VALUE not in text


def test_an_invalid_config_first_leaves_no_policy_but_synced() -> None:
    holder = PolicyHolder("tronador-system", "test")
    broken = config_with(tenant={"labelKey": "not a key!"})
    assert not holder.apply(broken)
    assert holder.policy is None
    assert holder.synced


def test_a_config_for_another_namespace_is_not_used() -> None:
    holder = PolicyHolder("tronador-system", "test")
    config = seed_config()
    config["metadata"]["namespace"] = "elsewhere"
    assert not holder.apply(config)


def test_file_source_reloads_a_changed_file_and_survives_a_broken_edit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes((EXAMPLES / "tronador-config.yaml").read_bytes())
    source = FilePolicySource(path, check_interval=3600)
    source.load()
    assert source.policy is not None and source.policy.tenant.required

    write_atomically(path, yaml.safe_dump(config_with(tenant={"required": False})).encode())
    source.reload_if_changed()
    assert source.policy is not None and not source.policy.tenant.required

    good = source.policy
    write_atomically(path, b"spec: [unclosed\n")
    source.reload_if_changed()
    assert source.policy is good
    write_atomically(path, yaml.safe_dump(config_with(defaultTTL="soon")).encode())
    source.reload_if_changed()
    assert source.policy is good
    assert "spec.policy.defaultTTL" in logged_text(caplog.records)
    assert SECRET_VALUE not in logged_text(caplog.records)


def test_file_source_thread_applies_changes_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_with(tenant={"required": True})))
    source = FilePolicySource(path, check_interval=0.01)
    source.start()
    try:
        assert source.synced and source.policy is not None and source.policy.tenant.required
        write_atomically(path, yaml.safe_dump(config_with(tenant={"required": False})).encode())
        wait_until(lambda: source.policy is not None and not source.policy.tenant.required)
    finally:
        source.stop()


class _FakeKube:
    """The one list call `KubernetesPolicySource`'s informer makes when it relists."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.calls: list[tuple[Any, ...]] = []

    def list(self, *args: Any) -> tuple[list[dict[str, Any]], str]:
        self.calls.append(args)
        return copy.deepcopy(self.items), "7"


def test_watcher_relist_and_events_apply_only_the_singleton() -> None:
    other = seed_config()
    other["metadata"]["name"] = "not-the-singleton"
    api = _FakeKube([other, seed_config()])
    source = KubernetesPolicySource(api, "tronador-system")  # type: ignore[arg-type]

    assert source.informer.relist() == "7"
    assert api.calls == [
        (TRONADOR_CONFIGS, "tronador-system", None, "metadata.name=tronador-config")
    ]
    assert TRONADOR_CONFIGS.collection_path("tronador-system") == (
        "/apis/tronador.stakater.com/v1alpha1/namespaces/tronador-system/tronadorconfigs"
    )
    assert source.synced and source.policy is not None
    assert source.policy.tenant.allowed_values == ["veeru", "jai"]

    source.handle_event("MODIFIED", config_with(tenant={"allowedValues": ["jai"]}))
    assert source.policy.tenant.allowed_values == ["jai"]
    other["spec"]["policy"] = {"tenant": {"allowedValues": ["ignored"]}}
    source.handle_event("MODIFIED", other)
    assert source.policy.tenant.allowed_values == ["jai"]
    source.handle_event("MODIFIED", config_with(defaultTTL="never"))
    assert source.policy.tenant.allowed_values == ["jai"]
    source.handle_event("BOOKMARK", {"metadata": {"resourceVersion": "9"}})
    source.handle_event("DELETED", seed_config())
    assert source.policy == Policy()


class SwitchablePolicySource:
    """A policy source the test changes while the server runs (as a watch event would)."""

    def __init__(self) -> None:
        self.holder = PolicyHolder("tronador-system", "test")
        self.holder.apply(seed_config())

    @property
    def policy(self) -> Policy | None:
        return self.holder.policy

    @property
    def synced(self) -> bool:
        return self.holder.synced

    @property
    def last_sync(self) -> float | None:
        return self.holder.last_sync

    def start(self) -> None: ...

    def stop(self) -> None: ...


async def test_server_applies_a_changed_config_without_restart(tls_files: TLSFiles) -> None:
    ep = seed_ep()
    ep["spec"]["namespaceLabels"]["stakater.com/tenant"] = "basanti"
    source = SwitchablePolicySource()
    path = routes.VALIDATE_ENVIRONMENT_PROVISIONERS
    async with running_webhook(source, tls_files.cert, tls_files.key, tls_files.ca) as webhook:
        before = (await webhook.post(path, review("CREATE", ep))).response
        config = seed_config()
        config["spec"]["policy"]["tenant"]["allowedValues"].append("basanti")
        source.holder.apply(config)
        after = (await webhook.post(path, review("CREATE", ep))).response
    assert before["allowed"] is False
    assert "(rule tenant-allowed)" in before["status"]["message"]
    assert after["allowed"] is True
