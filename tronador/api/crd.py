"""CustomResourceDefinitions generated from the pydantic models: the one source of the schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tronador.api.constants import (
    CONFIG_KIND,
    CONFIG_PLURAL,
    CONFIG_SHORT_NAMES,
    CONFIG_SINGULAR,
    ENV_KIND,
    ENV_PLURAL,
    ENV_SHORT_NAMES,
    ENV_SINGULAR,
    ENV_VERSION,
    EP_KIND,
    EP_PLURAL,
    EP_SHORT_NAMES,
    EP_SINGULAR,
    GROUP,
    VERSION,
)
from tronador.api.environment import EnvironmentSpec, EnvironmentStatus
from tronador.api.environment_provisioner import (
    EnvironmentProvisionerSpec,
    EnvironmentProvisionerStatus,
)
from tronador.api.tronador_config import TronadorConfigSpec, TronadorConfigStatus

_DROP = {"title", "$defs"}


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A Kubernetes structural OpenAPI v3 schema for `model`: refs inlined, nullable instead of
    anyOf-null, free-form objects marked to preserve unknown fields."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _convert(raw, raw.get("$defs", {}))


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _convert(merged, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) != 1:
            raise ValueError(f"cannot express {node} in a structural schema")
        out = _convert({**options[0], **rest}, defs)
        if len(options) < len(node["anyOf"]):
            out["nullable"] = True
            if out.get("default") is None:
                out.pop("default", None)
        return out
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or (key == "default" and value is None):
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out["properties"] = {k: _convert(v, defs) for k, v in value.items()}
        elif key == "items":
            out["items"] = _convert(value, defs)
        elif key == "additionalProperties":
            if value is False:
                continue
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            else:
                out["additionalProperties"] = _convert(value, defs)
        else:
            out[key] = value
    if out.get("x-kubernetes-preserve-unknown-fields") or out.get("x-kubernetes-embedded-resource"):
        out["type"] = "object"
    if "type" not in out:
        raise ValueError(f"schema node without a type: {node}")
    return out


def _root_schema(spec: type[BaseModel], status: type[BaseModel], spec_required: bool) -> dict:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": structural_schema(spec),
            "status": structural_schema(status),
        },
    }
    if spec_required:
        schema["required"] = ["spec"]
    return schema


def _crd(
    *,
    kind: str,
    plural: str,
    singular: str,
    scope: str,
    short_names: list[str],
    schema: dict[str, Any],
    columns: list[dict[str, Any]],
    description: str,
    version: str = VERSION,
) -> dict[str, Any]:
    schema = {"description": description, **schema}
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": singular,
        "categories": ["tronador"],
    }
    if short_names:
        names["shortNames"] = short_names
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "tronador"},
        },
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": scope,
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


_STATUS_COLUMNS = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.currentPhase"},
    {"name": "Application", "type": "string", "jsonPath": ".status.applicationStatus"},
    {"name": "URL", "type": "string", "jsonPath": ".status.urls[0]"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {
        "name": "Message",
        "type": "string",
        "priority": 1,
        "jsonPath": ".status.applicationStatusMsg",
    },
]


def environment_crd() -> dict[str, Any]:
    return _crd(
        kind=ENV_KIND,
        plural=ENV_PLURAL,
        singular=ENV_SINGULAR,
        scope="Cluster",
        short_names=ENV_SHORT_NAMES,
        schema=_root_schema(EnvironmentSpec, EnvironmentStatus, True),
        columns=[
            *_STATUS_COLUMNS[:4],
            {
                "name": "Branch",
                "type": "string",
                "priority": 1,
                "jsonPath": ".spec.application.gitRepository.ref.branch",
            },
            _STATUS_COLUMNS[4],
            _AGE,
        ],
        description="A pull request's test environment (current Tronador API): a namespace "
        "with its secrets, a Flux GitRepository and a HelmRelease of the application's chart.",
        version=ENV_VERSION,
    )


def environment_provisioner_crd() -> dict[str, Any]:
    return _crd(
        kind=EP_KIND,
        plural=EP_PLURAL,
        singular=EP_SINGULAR,
        scope="Cluster",
        short_names=EP_SHORT_NAMES,
        schema=_root_schema(EnvironmentProvisionerSpec, EnvironmentProvisionerStatus, True),
        columns=[*_STATUS_COLUMNS, _AGE],
        description="A pull request's test environment: a namespace with its secrets and a "
        "Helm release of the application's chart.",
    )


def tronador_config_crd() -> dict[str, Any]:
    return _crd(
        kind=CONFIG_KIND,
        plural=CONFIG_PLURAL,
        singular=CONFIG_SINGULAR,
        scope="Namespaced",
        short_names=CONFIG_SHORT_NAMES,
        schema=_root_schema(TronadorConfigSpec, TronadorConfigStatus, False),
        columns=[
            {
                "name": "Valid",
                "type": "string",
                "jsonPath": '.status.conditions[?(@.type=="Valid")].status',
            },
            _AGE,
        ],
        description="Cluster-wide Tronador settings: secrets copied into EP namespaces and the "
        "admins' policy for EPs. Only the one named tronador-config is read.",
    )


def all_crds() -> dict[str, dict[str, Any]]:
    """File name -> CRD, as committed under manifests/crds/."""
    return {
        f"{GROUP}_{EP_PLURAL}.yaml": environment_provisioner_crd(),
        f"{GROUP}_{ENV_PLURAL}.yaml": environment_crd(),
        f"{GROUP}_{CONFIG_PLURAL}.yaml": tronador_config_crd(),
    }
