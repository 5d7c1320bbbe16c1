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
    DesiredEnvironment,
    ValuesSourceRef,
    desired_environment,
    service_account_with_pull_secret,
)
from controller.settings import ReleaseFlavour, ReleaseOptions
from tests.controller.helpers import seed_config, seed_ep
from tests.realapi.kube import Obj, Rest

pytestmark = pytest.mark.realapi

VALUES_FROM = [
    {"configMapKeyRef": {"name": "shared", "namespace": "team", "key": "extra.yaml"}},
    {"secretKeyRef": {"name": "local", "key": "values.yaml"}},
    {"chartFileRef": {"path": "values-pr.yaml", "optional": True}},
]


def environment(flavour: ReleaseFlavour) -> DesiredEnvironment:
    ep = seed_ep(
        metadata__name=f"realapi-objects-{flavour}",
        spec__application__release__valuesFrom=VALUES_FROM,
    )
    ref = ValuesSourceRef("ConfigMap", "team", "shared", "extra.yaml", False)
    sources = {ref: {"data": {"extra.yaml": "replicas: 2"}}}
    return desired_environment(ep, seed_config(), ReleaseOptions(flavour=flavour), sources)


def written_objects(env: DesiredEnvironment) -> list[Obj]:
    """What the reconciler writes for this environment, in its order."""
    service_account = service_account_with_pull_secret(
        None, env.namespace.name, env.image_pull_secret
    )
    assert service_account is not None
    return [
        *(o.body for o in env.secrets),
        service_account,
        *(o.body for o in env.values_copies),
        *(o.body for o in env.release),
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
def test_every_written_object_is_accepted_whole(rest: Rest, flavour: ReleaseFlavour) -> None:
    env = environment(flavour)
    assert env.secret_problems == env.release_problems == []
    namespace = env.namespace.body()
    accepted = rest.create(namespace, dry_run=True)
    assert lost_fields(namespace, accepted) == []
    # Namespaced objects are judged in an existing namespace; this one has no owner reference
    # (a garbage collector would remove a namespace owned by an EP that does not exist).
    rest.ensure({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": env.namespace.name}})
    objects = written_objects(env)
    kinds = [(o["apiVersion"], o["kind"]) for o in objects]
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
        sent, accepted = judge(rest, obj, env)
        assert lost_fields(sent, accepted) == [], obj["kind"]


def judge(rest: Rest, obj: Obj, env: DesiredEnvironment) -> tuple[Obj, Obj]:
    """Dry-run the write the controller would make: a create, or for the `default`
    ServiceAccount (created by the controller manager when it runs) an update of it.
    What was sent, and what the server answered."""
    meta = obj["metadata"]
    existing = rest.get(obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"])
    if obj["kind"] != "ServiceAccount" or existing is None:
        return obj, rest.create(obj, dry_run=True)
    updated = service_account_with_pull_secret(existing, meta["namespace"], env.image_pull_secret)
    assert updated is not None
    return updated, rest.replace(updated, dry_run=True)


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
