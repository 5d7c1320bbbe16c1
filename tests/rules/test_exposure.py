"""URLs from what a chart deployed: Ingress, Gateway API HTTPRoute, OpenShift Route."""

from __future__ import annotations

from typing import Any

from tronador.rules.exposure import MAX_URLS, exposure_only, urls_of


def _obj(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": spec}


def test_each_kind_gives_its_hosts_https_where_tls_is_configured() -> None:
    ingress = _obj(
        "networking.k8s.io/v1",
        "Ingress",
        {
            "tls": [{"hosts": ["a.example.com"]}],
            "rules": [
                {"host": "a.example.com", "http": {"paths": [{"path": "/shop"}]}},
                {"host": "b.example.com"},
                {"host": "*.example.com"},
                {"http": {"paths": [{"path": "/"}]}},
            ],
        },
    )
    route = _obj(
        "route.openshift.io/v1", "Route", {"host": "c.example.com", "tls": {"termination": "edge"}}
    )
    http_route = _obj(
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        {"hostnames": ["d.example.com"], "parentRefs": [{"name": "gw", "sectionName": "https"}]},
    )
    plain = _obj("gateway.networking.k8s.io/v1", "HTTPRoute", {"hostnames": ["e.example.com"]})
    service = _obj("v1", "Service", {"ports": []})
    assert urls_of([ingress, route, http_route, plain, service, route]) == [
        "http://b.example.com",
        "http://e.example.com",
        "https://a.example.com/shop",
        "https://c.example.com",
        "https://d.example.com",
    ]


def test_the_urls_are_bounded_and_garbage_is_ignored() -> None:
    many = _obj(
        "networking.k8s.io/v1",
        "Ingress",
        {"rules": [{"host": f"h{i:04d}.example.com"} for i in range(1000)]},
    )
    garbage = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "spec": {"rules": "x"}}
    assert len(urls_of([many, garbage])) == MAX_URLS


def test_the_cache_keeps_only_what_the_urls_need() -> None:
    obj = _obj("route.openshift.io/v1", "Route", {"host": "c.example.com", "to": {"name": "svc"}})
    obj["metadata"]["annotations"] = {"big": "x" * 1000}
    kept = exposure_only(obj)
    assert kept["spec"] == {"host": "c.example.com"}
    assert kept["metadata"] == {"name": "x"}
