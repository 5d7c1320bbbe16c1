"""`status.urls` on a real API server, the controller under its shipped RBAC: an Ingress with TLS
and a Gateway API HTTPRoute created in an environment's namespace (playing the chart) appear
within seconds, https for the TLS host and the https listener, http for the other; deleting them
removes them. The cluster has no OpenShift Route CRD, and the other tests of the lane run before
the HTTPRoute CRD is installed: everything works unchanged without them."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from controller.settings import ReleaseFlavour
from tests.realapi.kube import Rest, open_crd, wait_for
from tests.realapi.test_config_secrets import an_ep
from tests.realapi.test_unavailable_kinds import install_crds_from
from tronador.api.constants import API_VERSION, EP_KIND

pytestmark = pytest.mark.realapi

NAME = "realapi-urls"
INGRESS_API = "networking.k8s.io/v1"


def _ingress() -> dict[str, Any]:
    backend = {"service": {"name": "app", "port": {"number": 80}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    return {
        "apiVersion": INGRESS_API,
        "kind": "Ingress",
        "metadata": {"name": "app", "namespace": NAME},
        "spec": {
            "tls": [{"hosts": ["app.pr.example.com"], "secretName": "app-tls"}],
            "rules": [
                {"host": "app.pr.example.com", "http": {"paths": [path]}},
                {"host": "admin.pr.example.com", "http": {"paths": [path]}},
                {"host": "*.pr.example.com", "http": {"paths": [path]}},
            ],
        },
    }


def _urls(rest: Rest) -> list[str] | None:
    status = (rest.get(API_VERSION, EP_KIND, NAME) or {}).get("status") or {}
    return status.get("urls")


HTTP_ROUTE_API = "gateway.networking.k8s.io/v1"
HTTP_ROUTE_CRD = open_crd(
    HTTP_ROUTE_API,
    "HTTPRoute",
    "httproutes",
    # *.k8s.io groups are protected; the Gateway API's own CRDs carry this approval
    {"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/2466"},
)
"""The Gateway API's HTTPRoute, its schema left open (the URLs read only hostnames and
parentRefs): installed before the controller starts, as on a cluster with the Gateway API."""


@pytest.fixture
def gateway_api(admin: client.ApiClient) -> None:
    install_crds_from([HTTP_ROUTE_CRD], admin)


def _http_route() -> dict[str, Any]:
    return {
        "apiVersion": HTTP_ROUTE_API,
        "kind": "HTTPRoute",
        "metadata": {"name": "app", "namespace": NAME},
        "spec": {
            "parentRefs": [{"name": "gateway", "namespace": "infra", "sectionName": "https"}],
            "hostnames": ["shop.pr.example.com"],
        },
    }


@pytest.mark.parametrize("replica", [ReleaseFlavour.FLUX_V2], indirect=True)
def test_an_ingress_and_an_httproute_are_in_status_urls(
    installed: Rest, gateway_api: None, replica: Any
) -> None:
    rest = installed
    an_ep(rest, NAME)
    try:
        wait_for(lambda: rest.get("v1", "Namespace", NAME), what="the namespace")
        wait_for(lambda: (rest.get(API_VERSION, EP_KIND, NAME) or {}).get("status"), what="status")
        assert not _urls(rest)
        rest.create(_ingress())
        rest.create(_http_route())
        wanted = [
            "http://admin.pr.example.com",
            "https://app.pr.example.com",
            "https://shop.pr.example.com",
        ]
        wait_for(lambda: _urls(rest) == wanted, what="status.urls")
        rest.delete(INGRESS_API, "Ingress", "app", NAME)
        rest.delete(HTTP_ROUTE_API, "HTTPRoute", "app", NAME)
        wait_for(lambda: not _urls(rest), what="status.urls emptied")
    finally:
        rest.delete(API_VERSION, EP_KIND, NAME)
        wait_for(lambda: rest.get(API_VERSION, EP_KIND, NAME) is None, 60, "the EP gone")
