"""`status.urls` on a real API server, the controller under its shipped RBAC: an Ingress with TLS
created in an environment's namespace (playing the chart) appears within seconds, https for the
TLS host, http for the other; deleting it removes it. This cluster has no Gateway API or
OpenShift CRDs, and everything works unchanged without them."""

from __future__ import annotations

from typing import Any

import pytest

from controller.settings import ReleaseFlavour
from tests.realapi.kube import Rest, wait_for
from tests.realapi.test_config_secrets import an_ep
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


@pytest.mark.parametrize("replica", [ReleaseFlavour.FLUX_V2], indirect=True)
def test_an_ingress_in_the_namespace_is_in_status_urls(installed: Rest, replica: Any) -> None:
    rest = installed
    an_ep(rest, NAME)
    try:
        wait_for(lambda: rest.get("v1", "Namespace", NAME), what="the namespace")
        wait_for(lambda: (rest.get(API_VERSION, EP_KIND, NAME) or {}).get("status"), what="status")
        assert not _urls(rest)
        rest.create(_ingress())
        urls = wait_for(lambda: _urls(rest), what="status.urls")
        assert urls == ["http://admin.pr.example.com", "https://app.pr.example.com"]
        rest.delete(INGRESS_API, "Ingress", "app", NAME)
        wait_for(lambda: not _urls(rest), what="status.urls emptied")
    finally:
        rest.delete(API_VERSION, EP_KIND, NAME)
        wait_for(lambda: rest.get(API_VERSION, EP_KIND, NAME) is None, 60, "the EP gone")
