"""The URLs an environment's namespace exposes (pure): from Ingresses (networking.k8s.io/v1),
Gateway API HTTPRoutes (gateway.networking.k8s.io/v1) and OpenShift Routes
(route.openshift.io/v1), whatever the chart deployed.

https when TLS is configured: an Ingress's `tls[].hosts` naming the host, a Route's `spec.tls`.
An HTTPRoute's TLS lives on its Gateway's listener, in another namespace the controller does not
read: its hostnames are reported as https when it attaches to a listener (`sectionName`) named
for https, else http. Wildcard hosts and routes without a host are left out: nobody can open
them. Sorted, without duplicates, and bounded (a namespace with a thousand hosts reports the
first MAX_URLS).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MAX_URLS = 20
INGRESS = ("networking.k8s.io/v1", "Ingress")
HTTP_ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")
ROUTE = ("route.openshift.io/v1", "Route")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _host_ok(host: Any) -> bool:
    return isinstance(host, str) and bool(host) and "*" not in host and len(host) <= 253


def _path(path: Any) -> str:
    return path if isinstance(path, str) and path.startswith("/") and path != "/" else ""


def _ingress(spec: Mapping[str, Any]) -> list[str]:
    secured = {host for tls in _list(spec.get("tls")) for host in _list(_mapping(tls).get("hosts"))}
    urls = []
    for rule in _list(spec.get("rules")):
        host = _mapping(rule).get("host")
        if not _host_ok(host):
            continue
        scheme = "https" if host in secured else "http"
        paths = _list(_mapping(_mapping(rule).get("http")).get("paths"))
        first = _path(_mapping(paths[0]).get("path")) if len(paths) == 1 else ""
        urls.append(f"{scheme}://{host}{first}")
    return urls


def _http_route(spec: Mapping[str, Any]) -> list[str]:
    sections = [
        str(_mapping(ref).get("sectionName") or "") for ref in _list(spec.get("parentRefs"))
    ]
    scheme = "https" if any("https" in section.lower() for section in sections) else "http"
    return [f"{scheme}://{host}" for host in _list(spec.get("hostnames")) if _host_ok(host)]


def _route(spec: Mapping[str, Any]) -> list[str]:
    host = spec.get("host")
    if not _host_ok(host):
        return []
    scheme = "https" if isinstance(spec.get("tls"), Mapping) else "http"
    return [f"{scheme}://{host}{_path(spec.get('path'))}"]


READERS = {INGRESS: _ingress, HTTP_ROUTE: _http_route, ROUTE: _route}


def urls_of(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """The URLs `objects` (Ingresses, HTTPRoutes, Routes; others are ignored) expose."""
    found: set[str] = set()
    for obj in objects:
        reader = READERS.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
        if reader is not None:
            found.update(reader(_mapping(obj.get("spec"))))
    return sorted(found)[:MAX_URLS]


def exposure_only(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What a cache needs of an Ingress, HTTPRoute or Route: identity and the fields above."""
    meta = _mapping(obj.get("metadata"))
    spec = _mapping(obj.get("spec"))
    kept = ("rules", "tls", "hostnames", "parentRefs", "host", "path")
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "resourceVersion", "uid") if k in meta
        },
        "spec": {k: spec[k] for k in kept if k in spec},
    }
