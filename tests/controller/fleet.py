"""Many EPs on one emulated cluster: seeding, convergence, the final state as comparable data,
and the invariants every write must keep. Used by tests/reliability/test_controller_*.py and
bench/soak.py."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable
from typing import Any

from controller.manager import Controller
from kube.api import ApiError
from tests.apiserver import EmulatedAPIServer
from tests.controller.harness import EP_API, SYSTEM_NS
from tests.controller.helpers import seed_config_dict, seed_ep_dict
from tronador.api.constants import ENVIRONMENT_LABEL, FINALIZER, OWNER_UID_ANNOTATION

Obj = dict[str, Any]

OTHER_REPO = "https://github.com/stakater-lab/stakater-nordmart-gateway"
"""A repository no mapping names: its EPs get the orgLevelSecrets."""

VOLATILE_METADATA = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")


def ep_name(index: int) -> str:
    return f"pr-{index}"


def ep_body(name: str, *, repo: str | None = None, tag: str = "v1") -> Obj:
    ep = seed_ep_dict()
    ep["metadata"]["name"] = name
    release = ep["spec"]["application"]["release"]
    if repo is not None:
        release["chart"]["git"] = repo
    release["values"]["application"]["deployment"]["image"]["tag"] = tag
    return ep


def seed_cluster(
    server: EmulatedAPIServer, mutate_config: Callable[[Obj], None] | None = None
) -> None:
    server.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}})
    config = copy.deepcopy(seed_config_dict())
    if mutate_config is not None:
        mutate_config(config)
    server.seed(config)


def seed_eps(server: EmulatedAPIServer, names: Iterable[str], **kwargs: Any) -> None:
    for name in names:
        server.seed(ep_body(name, **kwargs))


def ep(server: EmulatedAPIServer, name: str) -> Obj | None:
    return server.get(EP_API, "environmentprovisioners", name)


def condition(obj: Obj | None, type_: str) -> Obj:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == type_:
            return item  # type: ignore[no-any-return]
    return {}


def provisioned(server: EmulatedAPIServer, name: str) -> bool:
    """Every object of the EP is there and its status says so (Flux is not played: the
    release stays pending)."""
    obj = ep(server, name)
    if obj is None or FINALIZER not in (obj["metadata"].get("finalizers") or []):
        return False
    if any(condition(obj, t).get("status") != "True" for t in ("NamespaceReady", "SecretsReady")):
        return False
    if condition(obj, "ReleaseReady").get("status") is None:
        return False
    if (obj.get("status") or {}).get("observedGeneration") != obj["metadata"].get("generation"):
        return False
    return (
        server.get("helm.toolkit.fluxcd.io/v2", "helmreleases", "run-pipeline", name) is not None
        and server.get("source.toolkit.fluxcd.io/v1", "gitrepositories", "run-pipeline", name)
        is not None
    )


def all_provisioned(server: EmulatedAPIServer, names: Iterable[str]) -> bool:
    return all(provisioned(server, name) for name in names)


def _clean(obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata") or {}
    for key in VOLATILE_METADATA:
        meta.pop(key, None)
    for owner in meta.get("ownerReferences") or []:
        owner.pop("uid", None)
    annotations = meta.get("annotations") or {}
    if OWNER_UID_ANNOTATION in annotations:
        annotations[OWNER_UID_ANNOTATION] = "(uid)"
    for item in (obj.get("status") or {}).get("conditions") or []:
        item.pop("lastTransitionTime", None)
    return obj


MANAGED_KINDS = (
    ("v1", "secrets"),
    ("v1", "serviceaccounts"),
    ("v1", "configmaps"),
    ("helm.toolkit.fluxcd.io/v2", "helmreleases"),
    ("source.toolkit.fluxcd.io/v1", "gitrepositories"),
    ("rbac.authorization.k8s.io/v1", "rolebindings"),
)


def final_state(server: EmulatedAPIServer, names: Iterable[str]) -> dict[str, Any]:
    """Each EP and everything in its namespace, without resourceVersions, uids and times."""
    state: dict[str, Any] = {}
    for name in names:
        state[f"ep/{name}"] = _clean(ep(server, name) or {})
        state[f"namespace/{name}"] = _clean(server.get("v1", "namespaces", name) or {})
        for api_version, plural in MANAGED_KINDS:
            for obj in server.list(api_version, plural, name):
                state[f"{plural}/{name}/{obj['metadata']['name']}"] = _clean(obj)
    return state


def write_problems(server: EmulatedAPIServer) -> list[str]:
    """Every write carrying an environment label X went to namespace X (or is namespace X)."""
    problems = []
    for request in server.requests:
        if not request.is_write or not isinstance(request.body, dict):
            continue
        labels = (request.body.get("metadata") or {}).get("labels") or {}
        owner = labels.get(ENVIRONMENT_LABEL)
        if owner is None:
            continue
        meta = request.body.get("metadata") or {}
        if request.plural == "namespaces":
            where = request.name or meta.get("name")
        else:
            where = request.namespace
            if meta.get("namespace") not in (None, where):
                problems.append(f"{request.method} {request.path}: body says {meta['namespace']}")
        if where != owner:
            problems.append(
                f"{request.method} {request.path}: labelled {owner}, written to {where}"
            )
    return problems


def duplicate_problems(server: EmulatedAPIServer, names: Iterable[str]) -> list[str]:
    """Exactly one namespace, HelmRelease, GitRepository and copy of each secret per EP, and
    nothing labelled for an EP outside its namespace."""
    names = list(names)
    problems = []
    for api_version, plural in MANAGED_KINDS:
        for obj in server.list(api_version, plural):
            owner = (obj["metadata"].get("labels") or {}).get(ENVIRONMENT_LABEL)
            if owner is not None and obj["metadata"].get("namespace") != owner:
                problems.append(f"{plural} {obj['metadata']['name']} of {owner} elsewhere")
    for name in names:
        for api_version, plural in MANAGED_KINDS[3:]:
            count = len(server.list(api_version, plural, name))
            if count != 1:
                problems.append(f"{name}: {count} {plural}")
        ours = [
            s["metadata"]["name"]
            for s in server.list("v1", "secrets", name)
            if (s["metadata"].get("labels") or {}).get(ENVIRONMENT_LABEL) == name
        ]
        if len(ours) != len(set(ours)) or len(ours) != 2:
            problems.append(f"{name}: secrets {sorted(ours)}")
    namespaces = [
        n["metadata"]["name"]
        for n in server.list("v1", "namespaces")
        if (n["metadata"].get("labels") or {}).get(ENVIRONMENT_LABEL)
    ]
    if sorted(namespaces) != sorted(names):
        problems.append(f"namespaces {sorted(namespaces)} != {sorted(names)}")
    return problems


class WriteCounter:
    """Counts one Controller's API writes at its REST layer (`Kube._request`): the writes that
    were sent, whatever the answer, and calls `after_write(n)` after the n-th successful one."""

    def __init__(
        self, controller: Controller, after_write: Callable[[int], None] | None = None
    ) -> None:
        self.sent = 0
        self.succeeded = 0
        self._lock = threading.Lock()
        self._after_write = after_write
        kube = controller.kube
        request = kube._request

        def counted(method: str, path: str, **kwargs: Any) -> Any:
            if method == "GET":
                return request(method, path, **kwargs)
            if not kube._write_allowed():
                return request(method, path, **kwargs)  # refused before sending (NotLeader)
            with self._lock:
                self.sent += 1
            try:
                result = request(method, path, **kwargs)
            except ApiError:
                raise
            with self._lock:
                self.succeeded += 1
                count = self.succeeded
            if self._after_write is not None:
                self._after_write(count)
            return result

        kube._request = counted  # type: ignore[method-assign]
