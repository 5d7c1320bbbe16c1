"""Turning a method and URL path into what the request is about, as the API server does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.apiserver import errors
from tests.apiserver.resources import Resource, ResourceTable

TRUE = ("1", "true", "True")


@dataclass(frozen=True)
class Route:
    verb: str
    api_version: str | None = None
    resource: Resource | None = None
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    error: errors.APIError | None = None
    discovery: dict[str, Any] | None = None


def _default_verb(method: str) -> str:
    return {
        "GET": "get",
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete",
    }.get(method, method.lower())


def _verb(method: str, named: bool, watch: bool) -> str | None:
    if method == "GET":
        return "watch" if watch else ("get" if named else "list")
    if named:
        return {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
    return {"POST": "create", "DELETE": "deletecollection"}.get(method)


def parse(method: str, path: str, query: dict[str, str], table: ResourceTable) -> Route:
    parts = [p for p in path.split("/") if p]
    not_found = Route(_default_verb(method), error=errors.route_not_found())
    if parts[:2] == ["api", "v1"]:
        api_version, rest = "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    else:
        return _root_discovery(method, parts, table) or not_found
    if not table.in_group_version(api_version):
        return not_found
    if not rest:
        if method != "GET":
            return Route(_default_verb(method), api_version, error=errors.method_not_allowed())
        return Route("get", api_version, discovery=_resource_list(api_version, table))
    watch = query.get("watch") in TRUE
    if rest[0] == "watch":
        watch, rest = True, rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        candidate = table.lookup(api_version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return not_found
    resource = table.lookup(api_version, rest[0])
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    verb = _verb(method, name is not None, watch)
    base = Route(
        verb or _default_verb(method),
        api_version,
        resource,
        rest[0],
        namespace,
        name,
        subresource,
    )
    if resource is None or (resource.namespaced and name is not None and namespace is None):
        return _with_error(base, errors.route_not_found())
    if subresource is not None and (subresource != "status" or not resource.status_subresource):
        return _with_error(base, errors.route_not_found())
    if subresource is not None and verb not in ("get", "update", "patch"):
        return _with_error(base, errors.method_not_allowed())
    if verb is None or (verb == "create" and resource.namespaced and namespace is None):
        return _with_error(base, errors.method_not_allowed())
    return base


def _with_error(route: Route, error: errors.APIError) -> Route:
    return Route(
        route.verb,
        route.api_version,
        route.resource,
        route.plural,
        route.namespace,
        route.name,
        route.subresource,
        error=error,
    )


def _root_discovery(method: str, parts: list[str], table: ResourceTable) -> Route | None:
    if method != "GET":
        return None
    if parts == ["api"]:
        return Route(
            "get",
            discovery={
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}
                ],
            },
        )
    if parts == ["apis"]:
        return Route("get", discovery=_group_list(table))
    if parts == ["version"]:
        return Route(
            "get",
            discovery={
                "major": "1",
                "minor": "31",
                "gitVersion": "v1.31.0",
                "gitCommit": "emulated",
                "gitTreeState": "clean",
                "buildDate": "2024-08-13T07:28:49Z",
                "goVersion": "go1.22.5",
                "compiler": "gc",
                "platform": "linux/amd64",
            },
        )
    if len(parts) == 2 and parts[0] == "apis":
        for group in _group_list(table)["groups"]:
            if group["name"] == parts[1]:
                return Route("get", discovery={"kind": "APIGroup", "apiVersion": "v1", **group})
    return None


def _group_list(table: ResourceTable) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for api_version in table.group_versions():
        if "/" in api_version:
            group, version = api_version.split("/", 1)
            groups.setdefault(group, []).append(version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": group,
                "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                "preferredVersion": {
                    "groupVersion": f"{group}/{versions[0]}",
                    "version": versions[0],
                },
            }
            for group, versions in sorted(groups.items())
        ],
    }


def _resource_list(api_version: str, table: ResourceTable) -> dict[str, Any]:
    verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    resources: list[dict[str, Any]] = []
    for resource in sorted(table.in_group_version(api_version), key=lambda r: r.plural):
        resources.append(
            {
                "name": resource.plural,
                "singularName": resource.singular,
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": verbs,
            }
        )
        if resource.status_subresource:
            resources.append(
                {
                    "name": f"{resource.plural}/status",
                    "singularName": "",
                    "namespaced": resource.namespaced,
                    "kind": resource.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version,
        "resources": resources,
    }
