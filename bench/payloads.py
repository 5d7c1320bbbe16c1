"""The AdmissionReview bodies the webhook benchmark sends, built from realistic EPs.

The `environment` cases send the docs' Environment (`examples/environment.yaml`) to its own
routes, for the in-process figures next to the EP's (the kopf and limit peers serve EPs only).

Two EPs: the seed (`examples/environment-provisioner.yaml`) and a large one whose Helm `values`
are ~200 KiB of nested maps, lists and strings, as a real umbrella chart's overrides can be. Each
EP is sent to the mutating route as written and to the validating route as the mutating webhook
left it (the API server calls mutating webhooks first).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

from tronador.api import Policy
from tronador.api.constants import (
    ENV_KIND,
    ENV_PLURAL,
    ENV_VERSION,
    EP_KIND,
    EP_PLURAL,
    GROUP,
    VERSION,
)
from tronador.config_loading import load_policy
from tronador.rules.mutate import mutate_environment, mutate_environment_provisioner

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_EP_FILE = REPO_ROOT / "examples" / "environment-provisioner.yaml"
ENVIRONMENT_FILE = REPO_ROOT / "examples" / "environment.yaml"
CONFIG_FILE = REPO_ROOT / "examples" / "tronador-config.yaml"

LARGE_VALUES_BYTES = 200 * 1024

MUTATE_PATH = "/mutate/environmentprovisioners"
VALIDATE_PATH = "/validate/environmentprovisioners"
ENV_MUTATE_PATH = "/mutate/environments"
ENV_VALIDATE_PATH = "/validate/environments"
"""The routes of webhook/routes.py (spelled here too so the limit and kopf servers need no
import of webhook/)."""


def policy() -> Policy:
    return load_policy(CONFIG_FILE)


def seed_ep() -> dict[str, Any]:
    return yaml.safe_load(SEED_EP_FILE.read_text(encoding="utf-8"))


def _component(index: int) -> dict[str, Any]:
    """One sub-chart's overrides: image, env, resources, probes, a config file, ingress."""
    hub_images = ["nginx", "redis", "bitnami/postgresql", "docker.io/library/busybox"]
    return {
        "enabled": True,
        "replicaCount": 1 + index % 3,
        "image": {
            "repository": hub_images[index % len(hub_images)],
            "tag": f"1.{index}.{index * 7 % 10}",
            "pullPolicy": "IfNotPresent",
        },
        "env": [
            {"name": f"COMPONENT_{index}_SETTING_{n}", "value": f"value-{index}-{n}-" + "x" * 24}
            for n in range(24)
        ],
        "resources": {
            "limits": {"cpu": "500m", "memory": "512Mi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "livenessProbe": {
            "httpGet": {"path": "/health/live", "port": 8080},
            "initialDelaySeconds": 15,
            "periodSeconds": 10,
        },
        "readinessProbe": {
            "httpGet": {"path": "/health/ready", "port": 8080},
            "initialDelaySeconds": 5,
            "periodSeconds": 5,
        },
        "config": {
            "application.yaml": "\n".join(
                f"component{index}.property{n}: some-setting-value-{n}" for n in range(40)
            )
        },
        "ingress": {
            "enabled": index % 2 == 0,
            "hosts": [{"host": f"component-{index}.pr-74.example.com", "paths": ["/"]}],
            "annotations": {"kubernetes.io/ingress.class": "nginx"},
        },
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "pr", "effect": "NoSchedule"}
        ],
    }


def large_ep(target_bytes: int = LARGE_VALUES_BYTES) -> dict[str, Any]:
    """The seed EP with ~`target_bytes` of JSON in `values` (components added until reached)."""
    ep = seed_ep()
    values = ep["spec"]["application"]["release"]["values"]
    components: dict[str, Any] = {}
    values["components"] = components
    size = len(json.dumps(values))
    while size < target_bytes:
        name = f"component-{len(components):03d}"
        components[name] = _component(len(components))
        size += len(json.dumps({name: components[name]}))
    return ep


def environment() -> dict[str, Any]:
    return yaml.safe_load(ENVIRONMENT_FILE.read_text(encoding="utf-8"))


def is_environment(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == ENV_KIND


def mutate_patch(obj: dict[str, Any], pol: Policy) -> list[dict[str, Any]]:
    if is_environment(obj):
        return mutate_environment(obj, pol).patch
    return mutate_environment_provisioner(obj, pol)


def mutated(ep: dict[str, Any], pol: Policy) -> dict[str, Any]:
    patch = mutate_patch(ep, pol)
    return jsonpatch.apply_patch(copy.deepcopy(ep), patch) if patch else ep


def admission_review(obj: dict[str, Any], uid: str) -> dict[str, Any]:
    """A CREATE AdmissionReview as the API server sends it."""
    kind, version, plural = (
        (ENV_KIND, ENV_VERSION, ENV_PLURAL)
        if is_environment(obj)
        else (EP_KIND, VERSION, EP_PLURAL)
    )
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": GROUP, "version": version, "kind": kind},
            "resource": {"group": GROUP, "version": version, "resource": plural},
            "requestKind": {"group": GROUP, "version": version, "kind": kind},
            "requestResource": {"group": GROUP, "version": version, "resource": plural},
            "name": obj["metadata"]["name"],
            "operation": "CREATE",
            "userInfo": {
                "username": "system:serviceaccount:argocd:argocd-application-controller",
                "uid": "5a4c7f3e-0d0e-4e8b-9f8e-3b1c2d4e5f60",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:argocd"],
            },
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


@dataclass(frozen=True)
class Case:
    """One kind of request: an EP size and a route, with its body and the expected answer."""

    name: str
    """e.g. `mutate/seed`."""
    path: str
    uid: str
    body: bytes
    expect_patch: list[dict[str, Any]] | None
    """For mutate cases: our rules' patch; a server's patch must give the same object."""
    obj: dict[str, Any]


def cases(pol: Policy | None = None) -> list[Case]:
    pol = pol or policy()
    out = []
    ep_routes = (("mutate", MUTATE_PATH), ("validate", VALIDATE_PATH))
    env_routes = (("mutate", ENV_MUTATE_PATH), ("validate", ENV_VALIDATE_PATH))
    for size, ep, routes in (
        ("seed", seed_ep(), ep_routes),
        ("large", large_ep(), ep_routes),
        ("environment", environment(), env_routes),
    ):
        for route, path in routes:
            obj = ep if route == "mutate" else mutated(ep, pol)
            uid = f"bench-{route}-{size}-0000-0000-000000000000"
            body = json.dumps(admission_review(obj, uid), separators=(",", ":")).encode()
            patch = mutate_patch(obj, pol) if route == "mutate" else None
            out.append(Case(f"{route}/{size}", path, uid, body, patch, obj))
    return out
