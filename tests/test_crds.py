"""The committed CRDs are what the models generate, and they are structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tronador.api.crd import all_crds

CRD_DIR = Path(__file__).resolve().parents[1] / "manifests" / "crds"


def test_committed_crds_match_the_models() -> None:
    for name, crd in all_crds().items():
        committed = yaml.safe_load((CRD_DIR / name).read_text())
        assert committed == crd, f"{name} is stale: run `tronador crds --out manifests/crds`"
    assert sorted(p.name for p in CRD_DIR.glob("*.yaml")) == sorted(all_crds())


def _walk(node: dict[str, Any], path: str = "") -> list[str]:
    """Paths of schema nodes that break the structural-schema rules Kubernetes enforces."""
    problems = []
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{path}: no type")
    for forbidden in ("$ref", "anyOf", "oneOf", "allOf", "title", "const"):
        if forbidden in node:
            problems.append(f"{path}: {forbidden}")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{path}: properties with additionalProperties")
    for key, child in node.get("properties", {}).items():
        problems += _walk(child, f"{path}.{key}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            problems += _walk(node[key], f"{path}[{key}]")
    return problems


def test_crds_are_structural() -> None:
    for crd in all_crds().values():
        for version in crd["spec"]["versions"]:
            assert _walk(version["schema"]["openAPIV3Schema"]) == []
            assert version["subresources"] == {"status": {}}


def test_ep_is_cluster_scoped_with_phase_columns() -> None:
    crd = all_crds()["tronador.stakater.com_environmentprovisioners.yaml"]
    assert crd["spec"]["scope"] == "Cluster"
    columns = {
        c["name"]: c["jsonPath"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert columns["Phase"] == ".status.currentPhase"
    assert columns["Application"] == ".status.applicationStatus"


def test_schema_carries_model_constraints_and_defaults() -> None:
    crd = all_crds()["tronador.stakater.com_environmentprovisioners.yaml"]
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    release = spec["properties"]["application"]["properties"]["release"]
    assert release["properties"]["releaseName"]["maxLength"] == 53
    assert release["properties"]["values"]["x-kubernetes-preserve-unknown-fields"] is True
    assert spec["properties"]["namespaceLabels"]["additionalProperties"]["maxLength"] == 63
    config = all_crds()["tronador.stakater.com_tronadorconfigs.yaml"]
    policy = config["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["policy"]
    assert policy["properties"]["tenant"]["properties"]["labelKey"]["default"] == (
        "stakater.com/tenant"
    )
