"""components/network-policy, through overlays/network-policy-example: off by default; when on,
it admits only the webhook's port on the webhook's pods, from the peers the overlay gives."""

from __future__ import annotations

import ipaddress

import pytest

from tests.manifests.checks import schema_problems
from tests.manifests.render import (
    MANIFESTS,
    Obj,
    containers,
    name_of,
    need_kubectl,
    of_kind,
    pod_labels,
    render,
    selector_matches,
    workloads,
)
from tronador.api.crd import all_crds

EXAMPLE_OVERLAY = MANIFESTS / "overlays" / "network-policy-example"
PLACEHOLDER = ipaddress.ip_network("192.0.2.0/24")


@pytest.fixture
def example() -> list[Obj]:
    need_kubectl()
    return render(EXAMPLE_OVERLAY)


def test_the_default_install_has_no_network_policy(variant: list[Obj]) -> None:
    assert of_kind(variant, "NetworkPolicy") == []


def test_the_example_overlay_renders_valid_objects(example: list[Obj]) -> None:
    assert schema_problems(example, list(all_crds().values())) == []


def test_the_policy_selects_only_the_webhook_pods(example: list[Obj]) -> None:
    (policy,) = of_kind(example, "NetworkPolicy")
    selected = [
        name_of(w) for w in workloads(example)
        if selector_matches(policy["spec"]["podSelector"], pod_labels(w))
    ]  # fmt: skip
    assert selected == ["tronador-webhook"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]


def test_the_policy_admits_only_the_webhook_port_from_the_overlays_peers(
    example: list[Obj],
) -> None:
    (policy,) = of_kind(example, "NetworkPolicy")
    (rule,) = policy["spec"]["ingress"]
    (webhook,) = [w for w in workloads(example) if name_of(w) == "tronador-webhook"]
    served = {
        port["name"]: port["containerPort"]
        for container, is_init in containers(webhook)
        if container["name"] == "webhook" and not is_init
        for port in container.get("ports", [])
    }
    assert rule["ports"] == [{"port": "https", "protocol": "TCP"}]
    assert served == {"https": 8443}
    peers = rule["from"]
    assert peers, "an empty `from` would admit everyone"
    cidrs = [ipaddress.ip_network(p["ipBlock"]["cidr"]) for p in peers if "ipBlock" in p]
    assert cidrs and not any(c.overlaps(PLACEHOLDER) for c in cidrs)
    assert any("namespaceSelector" in p for p in peers)
