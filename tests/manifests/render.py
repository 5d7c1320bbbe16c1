"""Rendering the kustomizations with `kubectl kustomize`, and reading what came out."""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.tools import need_tool

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
BASE = MANIFESTS
CERT_MANAGER_OVERLAY = MANIFESTS / "overlays" / "cert-manager"
SAMPLES = MANIFESTS / "samples"

KUBECTL = shutil.which("kubectl")


def need_kubectl() -> None:
    need_tool("kubectl", "the manifest tests render with `kubectl kustomize`")


Obj = dict[str, Any]


class RenderError(RuntimeError):
    pass


@cache
def _render(path: Path) -> tuple[Obj, ...]:
    if KUBECTL is None:
        raise RenderError("kubectl is not installed: rendering needs `kubectl kustomize`")
    done = subprocess.run(
        [KUBECTL, "kustomize", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RenderError(f"kubectl kustomize {path} failed:\n{done.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def render(path: Path) -> list[Obj]:
    """The objects `kubectl kustomize path` renders; a fresh copy on every call, to break."""
    return copy.deepcopy(list(_render(path)))


# --- reading objects -----------------------------------------------------------------------------


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Obj) -> str:
    return str(meta(obj).get("namespace", ""))


def describe(obj: Obj) -> str:
    ns = namespace_of(obj)
    return f"{obj.get('kind')}/{ns + '/' if ns else ''}{name_of(obj)}"


def group_of(obj: Obj) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.rpartition("/")[0]


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o.get("kind") == kind]


def find(objects: list[Obj], kind: str, name: str, namespace: str = "") -> Obj | None:
    for obj in of_kind(objects, kind):
        if name_of(obj) == name and namespace_of(obj) == namespace:
            return obj
    return None


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def workloads(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o.get("kind") in WORKLOAD_KINDS]


def pod_template(workload: Obj) -> Obj:
    return (workload.get("spec") or {}).get("template") or {}


def pod_spec(workload: Obj) -> Obj:
    return pod_template(workload).get("spec") or {}


def pod_labels(workload: Obj) -> dict[str, str]:
    return meta(pod_template(workload)).get("labels") or {}


def containers(workload: Obj) -> Iterator[tuple[Obj, bool]]:
    """(container, is an init container) for every container of the workload's pods."""
    spec = pod_spec(workload)
    for container in spec.get("initContainers") or []:
        yield container, True
    for container in spec.get("containers") or []:
        yield container, False


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector against labels; an empty or missing selector matches nothing here
    (a workload selecting everything is a mistake in these manifests)."""
    if not selector:
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expr in expressions:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def service_selects(service: Obj, labels: dict[str, str]) -> bool:
    """A Service's map selector (empty selects nothing: endpoints are then managed by hand)."""
    selector = (service.get("spec") or {}).get("selector") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def webhooks(objects: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    """(configuration, webhook) for every webhook of every webhook configuration."""
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for config in of_kind(objects, kind):
            for hook in config.get("webhooks") or []:
                yield config, hook
