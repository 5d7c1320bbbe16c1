"""EnvironmentProvisioner -> Environment, for teams moving to current Tronador's API.

The Environment provisions what the EP did: the same name (so the same namespace), namespace
labels, annotations (image, PR and repository, which choose the TronadorConfig secrets), chart
source and path, release name, values and valuesFrom. Its GitRepository is named after the
release, as the controller names the EP's. Server-owned metadata and status are not carried.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from tronador.api import EnvironmentProvisioner
from tronador.api.constants import ENV_API_VERSION, ENV_KIND, EP_KIND
from tronador.rules.findings import violations_from_pydantic
from tronador.rules.giturl import git_reference
from tronador.rules.mutate import default_release_name

LIST_KINDS = ("List", f"{EP_KIND}List")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class ConvertError(ValueError):
    """The input is not an EP that can be converted; the message names the field."""


def environments_from(document: Any, source: str = "input") -> list[dict[str, Any]]:
    """The Environments for one YAML document: an EP, or a List of EPs (`kubectl get -o yaml`)."""
    if isinstance(document, dict) and document.get("kind") in LIST_KINDS:
        items = document.get("items")
        if not isinstance(items, list):
            raise ConvertError(f"{source}: items: a List needs a list of items")
        return [environment_from_ep(item, f"{source}: items[{i}]") for i, item in enumerate(items)]
    return [environment_from_ep(document, source)]


def environment_from_ep(obj: Any, source: str = "input") -> dict[str, Any]:
    if not isinstance(obj, dict) or obj.get("kind") != EP_KIND:
        kind = obj.get("kind") if isinstance(obj, dict) else type(obj).__name__
        raise ConvertError(f"{source}: kind: {kind!r} is not {EP_KIND}")
    body = {k: v for k, v in obj.items() if k != "status"}
    try:
        ep = EnvironmentProvisioner.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(str(v) for v in violations_from_pydantic(exc))
        raise ConvertError(f"{source}: not a valid {EP_KIND}: {problems}") from None
    chart = ep.release.chart
    release_name = ep.release.release_name or default_release_name(chart.ref)
    git: dict[str, Any] = {"url": chart.git, "ref": git_reference(chart.ref)}
    if chart.secret_ref is not None:
        git["secretRef"] = {"name": chart.secret_ref.name}
    release: dict[str, Any] = {
        "chart": {
            "spec": {
                "chart": chart.path,
                "reconcileStrategy": "Revision",
                "sourceRef": {"kind": "GitRepository", "name": release_name},
            }
        },
        "releaseName": release_name,
    }
    if ep.release.values is not None:
        release["values"] = ep.release.values
    if ep.release.values_from is not None:
        release["valuesFrom"] = [source.to_wire() for source in ep.release.values_from]
    return {
        "apiVersion": ENV_API_VERSION,
        "kind": ENV_KIND,
        "metadata": _metadata(ep),
        "spec": {
            "namespaceLabels": dict(ep.spec.namespace_labels),
            "application": {"gitRepository": git, "release": release},
        },
    }


def _metadata(ep: EnvironmentProvisioner) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": ep.name}
    if ep.metadata.labels:
        metadata["labels"] = dict(ep.metadata.labels)
    annotations = {k: v for k, v in ep.metadata.annotations.items() if k != LAST_APPLIED}
    if annotations:
        metadata["annotations"] = annotations
    return metadata
