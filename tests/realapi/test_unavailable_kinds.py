"""On a real API server, as the controller's ServiceAccount with the shipped RBAC: an unmapped
TronadorConfig `secrets` item (it goes to every environment) of a kind that is not installed,
added by a live edit while the controller runs, says KindNotServed on the provisioned
environment; once its CRD is installed, KindForbidden with the rule to grant (the shipped RBAC
does not cover it); once that exact rule is granted (an aggregated ClusterRole), the item is
created and SecretsReady turns True, without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client

from controller.leaderelection import LeaderElectionConfig
from controller.runtime import Replica
from controller.settings import ReleaseFlavour
from tests.controller.harness import settings
from tests.controller.helpers import seed_config_dict
from tests.controller.test_extras import external_secret
from tests.realapi.controlplane import ControlPlane
from tests.realapi.kube import Rest, open_crd, wait_for
from tests.seeds import seed_environment_provisioner
from tronador.api.constants import API_VERSION, CONFIG_KIND, DEFAULT_SYSTEM_NAMESPACE, EP_KIND

pytestmark = pytest.mark.realapi

CONTROLLER = "tronador-controller"
UNMAPPED = external_secret("db-creds", "apps/db")
"""No mapping names it: it goes to every environment."""
NAME = "realapi-unavailable-kinds"
ES_API = "external-secrets.io/v1beta1"
GRANT = "tronador-controller-externalsecrets-test"
ELECTION = LeaderElectionConfig(
    identity="realapi-kinds", lease_duration=4.0, renew_deadline=3.0, retry_period=0.5
)
EXTERNAL_SECRET_CRD = open_crd(ES_API, "ExternalSecret", "externalsecrets")


@pytest.fixture
def replica(controller_manager: ControlPlane, installed: Rest) -> Iterator[Replica]:
    rbac = client.RbacAuthorizationV1Api(installed.api)
    wait_for(lambda: rbac.read_cluster_role(CONTROLLER).rules, what="the aggregated ClusterRole")
    try:
        with controller_manager.service_account_client(
            DEFAULT_SYSTEM_NAMESPACE, CONTROLLER, create=False
        ) as api:
            replica = Replica(api, settings(ReleaseFlavour.FLUX_V2), election=ELECTION).start(30)
            try:
                wait_for(replica.is_leader, what="the controller leading")
                yield replica
            finally:
                replica.stop()
    finally:
        current = installed.get(
            API_VERSION, CONFIG_KIND, "tronador-config", DEFAULT_SYSTEM_NAMESPACE
        )
        assert current is not None
        current["spec"] = seed_config_dict()["spec"]
        installed.replace(current)
        installed.delete("rbac.authorization.k8s.io/v1", "ClusterRole", GRANT)


def _secrets_ready(rest: Rest) -> dict[str, Any]:
    ep = rest.get(API_VERSION, EP_KIND, NAME) or {}
    for condition in (ep.get("status") or {}).get("conditions") or []:
        if condition["type"] == "SecretsReady":
            return condition  # type: ignore[no-any-return]
    return {}


def _reason_is(rest: Rest, reason: str) -> dict[str, Any] | None:
    condition = _secrets_ready(rest)
    return condition if condition.get("reason") == reason else None


def test_a_kind_not_served_then_forbidden_then_granted(
    installed: Rest, admin: client.ApiClient, replica: Replica
) -> None:
    rest = installed
    ep = seed_environment_provisioner()
    ep.pop("status")
    ep["metadata"]["name"] = NAME
    rest.create(ep)
    try:
        wait_for(lambda: _secrets_ready(rest).get("status") == "True", 60, "provisioned first")
        config = rest.get(API_VERSION, CONFIG_KIND, "tronador-config", DEFAULT_SYSTEM_NAMESPACE)
        assert config is not None
        config["spec"]["secrets"].append(UNMAPPED)  # the live edit
        rest.replace(config)
        not_served = wait_for(lambda: _reason_is(rest, "KindNotServed"), what="KindNotServed")
        assert "install its CustomResourceDefinition" in not_served["message"]
        assert rest.get("v1", "Secret", "nexus-pull-secret", NAME) is not None  # the others

        install_crds_from([EXTERNAL_SECRET_CRD], admin)
        forbidden = wait_for(lambda: _reason_is(rest, "KindForbidden"), what="KindForbidden")
        rule_text = forbidden["message"].split("with the rule ", 1)[1].split("; retried", 1)[0]
        rule = yaml.safe_load(rule_text)
        assert rule["apiGroups"] == ["external-secrets.io"]
        assert rule["resources"] == ["externalsecrets"]

        rest.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {
                    "name": GRANT,
                    "labels": {"tronador.stakater.com/aggregate-to-controller": "true"},
                },
                "rules": [rule],
            }
        )
        wait_for(
            lambda: rest.get(ES_API, "ExternalSecret", "db-creds", NAME),
            60,
            "the ExternalSecret created once granted",
        )
        wait_for(lambda: _secrets_ready(rest).get("status") == "True", 60, "SecretsReady")
    finally:
        rest.delete(API_VERSION, EP_KIND, NAME)
        wait_for(lambda: rest.get(API_VERSION, EP_KIND, NAME) is None, 60, "the EP gone")


def install_crds_from(crds: list[dict[str, Any]], admin: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(admin)
    for crd in crds:
        try:
            extensions.create_custom_resource_definition(crd)
        except client.ApiException as exc:
            if exc.status != 409:
                raise
    wait_for(
        lambda: all(
            any(
                c.type == "Established" and c.status == "True"
                for c in (
                    extensions.read_custom_resource_definition(
                        crd["metadata"]["name"]
                    ).status.conditions
                    or []
                )
            )
            for crd in crds
        ),
        what="the CRD Established",
    )
