"""Our CRDs and the vendored Flux CRDs on a real API server; our short names against its
discovery (what `kubectl api-resources` lists)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tests.realapi.kube import FLUX_CRDS, OUR_CRDS, Rest, documents, established
from tests.test_short_names import BUILTIN_SHORT_NAMES_1_32
from tronador.api.constants import GROUP
from tronador.api.crd import all_crds

OUR_SHORT_NAMES = [s for crd in all_crds().values() for s in crd["spec"]["names"]["shortNames"]]

pytestmark = pytest.mark.realapi


def _condition(crd: Any, type_: str) -> str | None:
    for condition in (crd.status and crd.status.conditions) or []:
        if condition.type == type_:
            return str(condition.status)
    return None


def test_our_and_the_flux_crds_are_established_with_their_names_accepted(
    admin: client.ApiClient, crds: list[str]
) -> None:
    expected = {d["metadata"]["name"] for f in OUR_CRDS + FLUX_CRDS for d in documents(f)}
    assert set(crds) == expected
    extensions = client.ApiextensionsV1Api(admin)
    for name in crds:
        crd = extensions.read_custom_resource_definition(name)
        assert established(crd), name
        assert _condition(crd, "NamesAccepted") == "True", name


def discovery(api: client.ApiClient) -> list[tuple[str, str, list[str]]]:
    """(group, plural, shortNames) of every resource the server serves, all versions."""
    rest = Rest(api)
    found = []
    for resource in rest.get_path("/api/v1")["resources"]:
        found.append(("", resource["name"], resource.get("shortNames") or []))
    for group in rest.get_path("/apis")["groups"]:
        for version in group["versions"]:
            for resource in rest.get_path(f"/apis/{version['groupVersion']}")["resources"]:
                if "/" not in resource["name"]:
                    found.append(
                        (group["name"], resource["name"], resource.get("shortNames") or [])
                    )
    return found


def test_our_short_names_are_served_and_collide_with_nothing(
    admin: client.ApiClient, crds: list[str]
) -> None:
    ours = {plural: shorts for group, plural, shorts in discovery(admin) if group == GROUP}
    assert ours == {
        crd["spec"]["names"]["plural"]: crd["spec"]["names"]["shortNames"]
        for crd in all_crds().values()
    }
    taken = {
        name: f"{group or 'core'}/{plural}"
        for group, plural, shorts in discovery(admin)
        if group != GROUP
        for name in (plural, *shorts)
    }
    assert {s: taken[s] for s in OUR_SHORT_NAMES if s in taken} == {}


def test_the_pinned_built_in_short_names_are_the_real_servers(
    admin: client.ApiClient, crds: list[str]
) -> None:
    """tests/test_short_names.py checks offline against a pinned table; this keeps it true."""
    crd_groups = {name.split(".", 1)[1] for name in crds}
    built_in = {
        plural: sorted(shorts)
        for group, plural, shorts in discovery(admin)
        if shorts and group not in crd_groups
    }
    assert built_in == {k: sorted(v) for k, v in BUILTIN_SHORT_NAMES_1_32.items()}
