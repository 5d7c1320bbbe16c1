"""TronadorConfig `secrets` items nothing names go to every environment, also when added by a
live edit; removing one removes it; one of a kind the cluster does not serve makes SecretsReady
False with KindNotServed on every environment while the rest keeps provisioning (issue 30)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from controller.settings import ReleaseFlavour
from tests.controller.harness import RELEASE
from tests.controller.helpers import seed_config_dict
from tests.realapi.kube import Obj, Rest, wait_for
from tests.realapi.test_controller import the_seed_ep
from tronador.api.constants import API_VERSION, CONFIG_NAME, DEFAULT_SYSTEM_NAMESPACE, EP_KIND

pytestmark = pytest.mark.realapi

CONFIG = (API_VERSION, "TronadorConfig", CONFIG_NAME, DEFAULT_SYSTEM_NAMESPACE)
FLUX_HR = ("helm.toolkit.fluxcd.io/v2", "HelmRelease")
SHARED = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "shared-db-creds"},
    "stringData": {"password": "replace-me"},
}
UNSERVED = {
    "apiVersion": "external-secrets.io/v1beta1",
    "kind": "ExternalSecret",
    "metadata": {"name": "db-creds"},
    "spec": {"target": {"name": "db-creds"}},
}


def set_secrets(rest: Rest, items: list[Obj]) -> None:
    config = rest.get(*CONFIG)
    assert config is not None
    config["spec"]["secrets"] = items
    rest.replace(config)


@pytest.fixture
def restored(installed: Rest) -> Iterator[Rest]:
    yield installed
    set_secrets(installed, seed_config_dict()["spec"]["secrets"])


def an_ep(rest: Rest, name: str, git: str | None = None) -> str:
    ep, _ = the_seed_ep()
    ep["metadata"]["name"] = name
    if git:
        ep["spec"]["application"]["release"]["chart"]["git"] = git
    rest.create(ep)
    return name


def secrets_ready(rest: Rest, name: str) -> dict[str, Any]:
    status = (rest.get(API_VERSION, EP_KIND, name) or {}).get("status") or {}
    found = {c["type"]: c for c in status.get("conditions") or []}
    return found.get("SecretsReady") or {}


@pytest.mark.parametrize("replica", [ReleaseFlavour.FLUX_V2], indirect=True)
def test_an_unmapped_item_reaches_every_environment_by_a_live_edit(
    restored: Rest, replica: Any
) -> None:
    rest = restored
    names = [
        an_ep(rest, "cfg-mapped"),
        an_ep(rest, "cfg-unmapped", git="https://gitlab.example.com/team/app"),
    ]
    try:
        for name in names:
            wait_for(lambda n=name: rest.get(*FLUX_HR, RELEASE, n), what=f"{name} release")
        set_secrets(rest, [*seed_config_dict()["spec"]["secrets"], SHARED])
        names.append(an_ep(rest, "cfg-new"))
        for name in names:
            wait_for(
                lambda n=name: rest.get("v1", "Secret", "shared-db-creds", n),
                what=f"the unmapped Secret in {name}",
            )
        assert rest.get("v1", "Secret", "nordmart-git-auth", "cfg-unmapped") is None

        set_secrets(rest, [*seed_config_dict()["spec"]["secrets"], UNSERVED])
        for name in names:
            wait_for(
                lambda n=name: rest.get("v1", "Secret", "shared-db-creds", n) is None,
                what=f"the removed Secret gone from {name}",
            )
            ready = wait_for(
                lambda n=name: (c := secrets_ready(rest, n)).get("reason") == "KindNotServed" and c,
                what=f"KindNotServed on {name}",
            )
            assert ready["status"] == "False" and "ExternalSecret 'db-creds'" in ready["message"]
            if name != "cfg-unmapped":  # every item is told, the copied ones too
                assert "nexus-pull-secret" in ready["message"].split("; copied ")[1]
            assert rest.get(*FLUX_HR, RELEASE, name) is not None  # the release is not held up
        assert rest.get("v1", "Secret", "nordmart-git-auth", "cfg-mapped") is not None
        refused = (
            'tronador_controller_kind_refused{reason="KindNotServed",'
            'resource="externalsecrets.external-secrets.io"} 1.0'
        )
        assert refused in replica.controller.render_metrics()

        set_secrets(rest, seed_config_dict()["spec"]["secrets"])
        wait_for(
            lambda: refused not in replica.controller.render_metrics(),
            what="the refused kind no longer reported once no item names it",
        )
    finally:
        for name in names:
            rest.delete(API_VERSION, EP_KIND, name)
        for name in names:
            wait_for(lambda n=name: rest.get(API_VERSION, EP_KIND, n) is None, 60, f"{name} gone")
