"""Our CRDs' short names reach our kinds: none is taken by a Kubernetes 1.32 built-in resource or
by a CRD we ship or create (Flux, Tekton, prometheus-operator). `kubectl get ep` shows Endpoints,
which is why the EP's short name is not `ep`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.seeds import REPO_ROOT, SCHEMAS
from tronador.api.crd import all_crds

# `kubectl api-resources` of a v1.32 kube-apiserver with its default API groups: every short name.
BUILTIN_SHORT_NAMES_1_32 = {
    "componentstatuses": ["cs"],
    "configmaps": ["cm"],
    "endpoints": ["ep"],
    "events": ["ev"],
    "limitranges": ["limits"],
    "namespaces": ["ns"],
    "nodes": ["no"],
    "persistentvolumeclaims": ["pvc"],
    "persistentvolumes": ["pv"],
    "pods": ["po"],
    "replicationcontrollers": ["rc"],
    "resourcequotas": ["quota"],
    "serviceaccounts": ["sa"],
    "services": ["svc"],
    "customresourcedefinitions": ["crd", "crds"],
    "daemonsets": ["ds"],
    "deployments": ["deploy"],
    "replicasets": ["rs"],
    "statefulsets": ["sts"],
    "horizontalpodautoscalers": ["hpa"],
    "cronjobs": ["cj"],
    "certificatesigningrequests": ["csr"],
    "ingresses": ["ing"],
    "networkpolicies": ["netpol"],
    "poddisruptionbudgets": ["pdb"],
    "priorityclasses": ["pc"],
    "storageclasses": ["sc"],
}


def _crd_documents(folder: Path) -> list[dict]:
    documents: list[dict] = []
    for path in sorted(folder.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                documents.append(doc)
    return documents


def taken_names() -> dict[str, str]:
    """Every plural, singular and short name used by something other than our CRDs."""
    taken = {}
    for plural, shorts in BUILTIN_SHORT_NAMES_1_32.items():
        taken[plural] = plural
        for short in shorts:
            taken[short] = f"built-in {plural}"
    for crd in _crd_documents(SCHEMAS):
        names = crd["spec"]["names"]
        for name in [names["plural"], names.get("singular", ""), *names.get("shortNames", [])]:
            if name:
                taken[name] = crd["metadata"]["name"]
    return taken


def collisions(crds: list[dict], taken: dict[str, str]) -> list[str]:
    found = []
    for crd in crds:
        for short in crd["spec"]["names"].get("shortNames", []):
            if short in taken:
                found.append(f"{crd['metadata']['name']}: {short} is {taken[short]}")
    return found


def test_each_of_our_crds_has_a_short_name() -> None:
    for crd in all_crds().values():
        assert crd["spec"]["names"].get("shortNames"), crd["metadata"]["name"]


def test_no_short_name_of_ours_is_taken() -> None:
    assert collisions(list(all_crds().values()), taken_names()) == []


def test_the_check_catches_a_built_in_collision() -> None:
    crd = {"metadata": {"name": "x"}, "spec": {"names": {"shortNames": ["ep", "hr", "fine"]}}}
    assert collisions([crd], taken_names()) == [
        "x: ep is built-in endpoints",
        "x: hr is helmreleases.helm.toolkit.fluxcd.io",
    ]


@pytest.mark.parametrize("crd_file", sorted((REPO_ROOT / "manifests" / "crds").glob("*.yaml")))
def test_the_committed_crds_carry_the_same_short_names(crd_file: Path) -> None:
    committed = yaml.safe_load(crd_file.read_text(encoding="utf-8"))
    generated = {c["metadata"]["name"]: c for c in all_crds().values()}[
        committed["metadata"]["name"]
    ]
    assert committed["spec"]["names"]["shortNames"] == generated["spec"]["names"]["shortNames"]
