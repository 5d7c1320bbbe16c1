"""Reading manifests and writing them to the real API server (test-side helpers)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.seeds import REPO_ROOT, SCHEMAS
from tests.tools import need_tool
from tests.waiting import wait_until

T = TypeVar("T")
Obj = dict[str, Any]

OUR_CRDS = sorted((REPO_ROOT / "manifests" / "crds").glob("*.yaml"))
FLUX_CRDS = sorted((SCHEMAS / "flux").glob("*.yaml"))
CRD_FILES = OUR_CRDS + FLUX_CRDS
INSTALLED_KINDS = {
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}


def documents(path: Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def rendered_manifests() -> list[Obj]:
    """`kubectl kustomize manifests/`, as a user installs Tronador."""
    kubectl = need_tool("kubectl", "renders manifests/ (kubectl kustomize)")
    out = subprocess.run(
        [kubectl, "kustomize", str(REPO_ROOT / "manifests")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def wait_for(predicate: Callable[[], T | None], timeout: float = 30.0, what: str = "") -> T:
    return wait_until(predicate, timeout=timeout, interval=0.1, what=what)  # type: ignore[return-value]


def open_crd(
    api_version: str, kind: str, plural: str, annotations: dict[str, str] | None = None
) -> Obj:
    """A namespaced CRD serving `kind` with its schema left open: enough to stand in for a
    third party's kind (External Secrets, the Gateway API) that the tests only store and read."""
    group, _, version = api_version.rpartition("/")
    metadata: Obj = {"name": f"{plural}.{group}"}
    if annotations:
        metadata["annotations"] = annotations
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "listKind": f"{kind}List"},
            "scope": "Namespaced",
            "versions": [{"name": version, "served": True, "storage": True, "schema": schema}],
        },
    }


def established(crd: Any) -> bool:
    conditions = (crd.status and crd.status.conditions) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def install_crds(api: client.ApiClient, files: Iterable[Path]) -> list[str]:
    """Create the CRDs (an existing one is replaced) and wait until each is Established."""
    extensions = client.ApiextensionsV1Api(api)
    names = []
    for path in files:
        for crd in documents(path):
            crd["metadata"].pop("creationTimestamp", None)
            crd.pop("status", None)
            name = crd["metadata"]["name"]
            try:
                extensions.create_custom_resource_definition(crd)
            except ApiException as e:
                if e.status != 409:
                    raise
            names.append(name)
    for name in names:
        wait_for(
            lambda name=name: established(extensions.read_custom_resource_definition(name)),
            what=f"CRD {name} Established",
        )
    return names


class Rest:
    """Plain dicts in and out over an ApiClient (its TLS, client certificate or token), for
    any kind; a refused request raises ApiException with the server's Status as body."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._plurals: dict[tuple[str, str], tuple[str, bool]] = {}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        _, url, headers, body, _ = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(method, url, header_params=headers, body=body)
        data = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(status=response.status, reason=response.reason, body=data.decode())
        return json.loads(data) if data else None

    def get_path(self, path: str) -> Any:
        return self.request("GET", path)

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        key = (api_version, kind)
        if key not in self._plurals:
            prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            for resource in self.get_path(prefix)["resources"]:
                if "/" not in resource["name"]:
                    found = (resource["name"], bool(resource["namespaced"]))
                    self._plurals[(api_version, resource["kind"])] = found
        return self._plurals[key]

    def path(self, api_version: str, kind: str, namespace: str | None, name: str = "") -> str:
        plural, namespaced = self._resource(api_version, kind)
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        where = f"/namespaces/{namespace}" if namespaced and namespace else ""
        return f"{prefix}{where}/{plural}" + (f"/{name}" if name else "")

    def create(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        meta = obj["metadata"]
        path = self.path(obj["apiVersion"], obj["kind"], meta.get("namespace"))
        query = [("dryRun", "All")] if dry_run else []
        created: Obj = self.request("POST", path, obj, query)
        return created

    def ensure(self, obj: Obj) -> Obj:
        """Create, or leave an existing object of that name as it is."""
        try:
            return self.create(obj)
        except ApiException as e:
            if e.status != 409:
                raise
        meta = obj["metadata"]
        existing = self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        assert existing is not None
        return existing

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        try:
            found: Obj = self.get_path(self.path(api_version, kind, namespace, name))
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return found

    def replace(self, obj: Obj, *, subresource: str = "", dry_run: bool = False) -> Obj:
        meta = obj["metadata"]
        path = self.path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        query = [("dryRun", "All")] if dry_run else []
        replaced: Obj = self.request(
            "PUT", path + (f"/{subresource}" if subresource else ""), obj, query
        )
        return replaced

    def apply(self, obj: Obj, manager: str, *, force: bool = False) -> Obj:
        """A server-side apply of `obj` as `manager` (kubectl apply --server-side)."""
        meta = obj["metadata"]
        path = self.path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        query = [("fieldManager", manager)] + ([("force", "true")] if force else [])
        applied: Obj = self.request(
            "PATCH", path, json.dumps(obj), query, content_type="application/apply-patch+yaml"
        )
        return applied

    def merge_patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: Obj
    ) -> Obj:
        path = self.path(api_version, kind, namespace, name)
        patched: Obj = self.request(
            "PATCH", path, patch, content_type="application/merge-patch+json"
        )
        return patched

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        try:
            self.request("DELETE", self.path(api_version, kind, namespace, name))
        except ApiException as e:
            if e.status != 404:
                raise
