"""Every object the controller writes, in both release flavours, as the real API server judges
it: the vendored Flux CRDs' structural schemas and CEL rules, built-in validation, and pruning
(a field the schema does not know would be dropped silently, so what comes back must hold
everything we sent)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from controller.desired import (
    DesiredObject,
    DesiredProvisioning,
    ValuesSourceRef,
    desired_for_provisioner,
    service_account_pull_secret,
)
from controller.managed_fields import MANAGER
from controller.settings import ReleaseFlavour, ReleaseOptions
from kube.api import Kube
from kube.resources import NAMESPACES
from tests.controller.helpers import seed_config, seed_ep
from tests.realapi.kube import Obj, Rest

pytestmark = pytest.mark.realapi

VALUES_FROM = [
    {"configMapKeyRef": {"name": "common", "namespace": "team", "key": "extra.yaml"}},
    {"secretKeyRef": {"name": "local", "key": "values.yaml"}},
    {"chartFileRef": {"path": "values-pr.yaml", "optional": True}},
]


def environment(flavour: ReleaseFlavour) -> DesiredProvisioning:
    ep = seed_ep(
        metadata__name=f"realapi-objects-{flavour}",
        spec__application__release__valuesFrom=VALUES_FROM,
    )
    ref = ValuesSourceRef("ConfigMap", "team", "common", "extra.yaml", False)
    sources = {ref: {"data": {"extra.yaml": "replicas: 2"}}}
    return desired_for_provisioner(
        ep, seed_config(), ReleaseOptions(flavour=flavour, allow_unconfined=True), sources
    )


def written_objects(env: DesiredProvisioning) -> list[DesiredObject]:
    """What the reconciler applies for this environment, in its order."""
    return [
        *env.secrets,
        service_account_pull_secret(env.namespace.name, env.image_pull_secret),
        *env.values_copies,
        *env.release,
    ]


def lost_fields(sent: Any, stored: Any, path: str = "") -> list[str]:
    """Paths whose value we sent but the server does not hold (pruned or rewritten)."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        return [
            lost
            for key, value in sent.items()
            for lost in lost_fields(value, stored.get(key, _ABSENT), f"{path}.{key}")
        ]
    if isinstance(sent, list) and isinstance(stored, list) and len(sent) == len(stored):
        return [
            lost
            for i, (a, b) in enumerate(zip(sent, stored, strict=True))
            for lost in lost_fields(a, b, f"{path}[{i}]")
        ]
    return [] if sent == stored else [f"{path or '.'}: sent {sent!r}, stored {stored!r}"]


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


@pytest.fixture(scope="module")
def rest(admin: client.ApiClient, crds: list[str]) -> Rest:
    return Rest(admin)


@pytest.mark.parametrize("flavour", list(ReleaseFlavour))
def test_every_written_object_is_accepted_whole(
    rest: Rest, admin: client.ApiClient, flavour: ReleaseFlavour
) -> None:
    """Each object is applied as the controller applies it (`Kube.apply`, field manager
    `tronador`), in dry-run: the server judges it whole, its managedFields as they would be."""
    kube = Kube(admin)
    env = environment(flavour)
    assert env.secret_problems == env.release_problems == []
    namespace = env.namespace.body()
    accepted = kube.apply(NAMESPACES, namespace, dry_run=True)
    assert lost_fields(namespace, accepted) == []
    assert _apply_entry(accepted)
    # Namespaced objects are judged in an existing namespace; this one has no owner reference
    # (a garbage collector would remove a namespace owned by an EP that does not exist).
    rest.ensure({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": env.namespace.name}})
    objects = written_objects(env)
    kinds = [(o.body["apiVersion"], o.body["kind"]) for o in objects]
    release = (
        [("helm.fluxcd.io/v1", "HelmRelease")]
        if flavour is ReleaseFlavour.LEGACY
        else [
            ("v1", "ConfigMap"),
            ("source.toolkit.fluxcd.io/v1", "GitRepository"),
            ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
        ]
    )
    assert kinds == [("v1", "Secret"), ("v1", "Secret"), ("v1", "ServiceAccount"), *release]
    for obj in objects:
        accepted = kube.apply(obj.resource, obj.body, dry_run=True)
        assert lost_fields(obj.body, accepted) == [], obj.body["kind"]
        assert _apply_entry(accepted), obj.body["kind"]


def _apply_entry(obj: Obj) -> bool:
    return any(
        (e.get("manager"), e.get("operation")) == (MANAGER, "Apply")
        for e in obj["metadata"].get("managedFields") or []
    )


def test_the_flux_cel_rules_are_enforced(rest: Rest) -> None:
    """The negative control: the same HelmRelease with both chart and chartRef is refused by
    the CRD's CEL rule, so an accepted object above really passed CEL."""
    env = environment(ReleaseFlavour.FLUX_V2)
    rest.ensure({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": env.namespace.name}})
    release = env.helm_release.body
    broken = {
        **release,
        "spec": {**release["spec"], "chartRef": {"kind": "OCIRepository", "name": "x"}},
    }
    with pytest.raises(ApiException) as refused:
        rest.create(broken, dry_run=True)
    assert refused.value.status == 422
    assert "either chart or chartRef must be set" in str(refused.value.body)


def test_a_field_the_schema_does_not_know_is_pruned_and_named(rest: Rest) -> None:
    """The negative control of `lost_fields`: the server drops unknown fields silently."""
    env = environment(ReleaseFlavour.FLUX_V2)
    rest.ensure({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": env.namespace.name}})
    source = env.release[0].body
    unknown = {**source, "spec": {**source["spec"], "chartPath": "deploy"}}
    stored = rest.create(unknown, dry_run=True)
    assert lost_fields(unknown, stored) == [".spec.chartPath: sent 'deploy', stored <absent>"]
