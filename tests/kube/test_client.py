"""The one client setup: a missing or broken kubeconfig is one `NoCluster` line, never a trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from kube.client import NoCluster, load_api_client, pooled


def test_a_missing_or_broken_kubeconfig_is_no_cluster(tmp_path: Path) -> None:
    with pytest.raises(NoCluster):
        load_api_client(str(tmp_path / "absent"))
    broken = tmp_path / "config"
    broken.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    with pytest.raises(NoCluster) as caught:
        load_api_client(str(broken))
    assert "\n" not in str(caught.value)


def test_pooled_grows_the_connection_pool_only_when_too_small(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    api_client = load_api_client(str(config))
    bigger = pooled(api_client, 64)
    assert bigger is not None and bigger.configuration.connection_pool_maxsize == 64
    assert bigger.configuration.host == api_client.configuration.host
    assert pooled(bigger, 8) is None
