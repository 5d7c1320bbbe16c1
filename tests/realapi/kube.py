"""Reading manifests and writing them to the real API server (test-side helpers)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from tests.seeds import REPO_ROOT, SCHEMAS
from tests.tools import need_tool

T = TypeVar("T")
Obj = dict[str, Any]

OUR_CRDS = sorted((REPO_ROOT / "manifests" / "crds").glob("*.yaml"))
FLUX_CRDS = sorted((SCHEMAS / "flux").glob("*.yaml"))
CRD_FILES = OUR_CRDS + FLUX_CRDS
RBAC_KINDS = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"}


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
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        time.sleep(0.1)


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


def dynamic(api: client.ApiClient) -> DynamicClient:
    return DynamicClient(api)


def create(dyn: DynamicClient, obj: Obj, *, dry_run: bool = False) -> Obj:
    resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    namespace = obj["metadata"].get("namespace") if resource.namespaced else None
    created = resource.create(body=obj, namespace=namespace, dry_run="All" if dry_run else None)
    return created.to_dict()  # type: ignore[no-any-return]


def ensure(dyn: DynamicClient, obj: Obj) -> Obj:
    """Create, or leave an existing object of that name alone."""
    try:
        return create(dyn, obj)
    except ApiException as e:
        if e.status != 409:
            raise
    resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    namespace = obj["metadata"].get("namespace") if resource.namespaced else None
    return resource.get(name=obj["metadata"]["name"], namespace=namespace).to_dict()  # type: ignore[no-any-return]


def get(
    dyn: DynamicClient, api_version: str, kind: str, name: str, namespace: str | None = None
) -> Obj | None:
    resource = dyn.resources.get(api_version=api_version, kind=kind)
    try:
        return resource.get(name=name, namespace=namespace).to_dict()  # type: ignore[no-any-return]
    except ApiException as e:
        if e.status == 404:
            return None
        raise
