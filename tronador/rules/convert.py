"""EnvironmentProvisioner -> Environment, for teams moving to current Tronador's API.

The Environment provisions what the EP did: namespace labels, annotations (image, PR and
repository, which choose the TronadorConfig secrets), chart source and path, release name, values
and valuesFrom. It is named as `tronador render --kind Environment` names it, `pr-<pr>-<repo>`,
with its GitRepository `dte-<branch>` (`rules/render.py`): the pipeline's next publish updates
the converted object instead of adding a second environment. The PR is the EP's annotation, or
the `<repo>-<pr>` its name was rendered as; an EP that has neither keeps its name. Its namespace
is its own (the EP's belongs to the EP, by UID, and goes with it).
Server-owned metadata and status are not carried.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from tronador.api import EnvironmentProvisioner
from tronador.api.constants import ENV_API_VERSION, ENV_KIND, EP_KIND, PULL_REQUEST_ANNOTATION
from tronador.rules.findings import violations_from_pydantic
from tronador.rules.giturl import git_reference
from tronador.rules.mutate import default_release_name
from tronador.rules.render import environment_name, source_name

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
    source = source_name(chart.ref)
    git: dict[str, Any] = {"url": chart.git, "ref": git_reference(chart.ref)}
    if chart.secret_ref is not None:
        git["secretRef"] = {"name": chart.secret_ref.name}
    release: dict[str, Any] = {
        "chart": {
            "spec": {
                "chart": chart.path,
                "reconcileStrategy": "Revision",
                "sourceRef": {"kind": "GitRepository", "name": source},
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


def _pull_request(ep: EnvironmentProvisioner) -> str | None:
    """The EP's PR number: its annotation, or the `<repo>-<pr>` its name was rendered as."""
    annotated = ep.metadata.annotations.get(PULL_REQUEST_ANNOTATION)
    if annotated and annotated.isdigit():
        return annotated
    suffix = ep.name.rpartition("-")[2]
    if suffix.isdigit() and environment_name(ep.release.chart.git, suffix) == ep.name:
        return suffix
    return None


def _metadata(ep: EnvironmentProvisioner) -> dict[str, Any]:
    pull_request = _pull_request(ep)
    name = (
        environment_name(ep.release.chart.git, pull_request, ENV_KIND)
        if pull_request is not None
        else ep.name
    )
    metadata: dict[str, Any] = {"name": name}
    if ep.metadata.labels:
        metadata["labels"] = dict(ep.metadata.labels)
    annotations = {k: v for k, v in ep.metadata.annotations.items() if k != LAST_APPLIED}
    if annotations:
        metadata["annotations"] = annotations
    return metadata
