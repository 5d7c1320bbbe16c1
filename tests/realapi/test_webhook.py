"""The webhook behind the real admission chain: registered with `clientConfig.url` and our
caBundle, it is called by kube-apiserver on create, update and dry-run; what the server stores is
what our rules' patch makes of the object; a denial reaches the client with our message. The
webhook reads its policy from the cluster's TronadorConfig as its own ServiceAccount."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from tests.controller.helpers import seed_config_dict, seed_ep_dict
from tests.realapi.controlplane import ControlPlane
from tests.realapi.kube import Obj, Rest, wait_for
from tests.realapi.webhook import ThreadedWebhook, serving_webhook
from tronador.api import TronadorConfig
from tronador.api.constants import API_VERSION, DEFAULT_SYSTEM_NAMESPACE, EP_KIND, FINALIZER
from tronador.rules.review import review_environment_provisioner

pytestmark = pytest.mark.realapi

WEBHOOK_USER = f"system:serviceaccount:{DEFAULT_SYSTEM_NAMESPACE}:tronador-webhook"
POLICY = TronadorConfig.model_validate(seed_config_dict()).spec.policy


@pytest.fixture(scope="module")
def webhook(
    control_plane: ControlPlane, installed: Rest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadedWebhook]:
    with serving_webhook(control_plane, installed, tmp_path_factory.mktemp("webhook-tls")) as hook:
        yield hook


def delete_without_controller(rest: Rest, name: str) -> None:
    """Delete an EP and take its cleanup finalizer off, as an admin does with no controller
    running: the removal is an update the mutating webhook sees, and must let through."""
    rest.delete(API_VERSION, EP_KIND, name)
    if rest.get(API_VERSION, EP_KIND, name) is not None:
        rest.merge_patch(API_VERSION, EP_KIND, name, None, {"metadata": {"finalizers": None}})


@pytest.fixture
def rest(installed: Rest, webhook: ThreadedWebhook) -> Iterator[Rest]:
    yield installed
    for ep in installed.get_path(f"/apis/{API_VERSION}/environmentprovisioners")["items"]:
        if ep["metadata"]["name"].startswith("realapi-webhook-"):
            delete_without_controller(installed, ep["metadata"]["name"])


def an_ep(name: str, **spec: Any) -> Obj:
    ep = seed_ep_dict()
    ep["metadata"]["name"] = f"realapi-webhook-{name}"
    ep["spec"].update(spec)
    return ep


def ours(ep: Obj) -> Obj:
    """The parts of an EP our rules decide (the server adds uid, managedFields, ...)."""
    meta = ep["metadata"]
    return {
        "metadata": {k: meta.get(k) for k in ("name", "labels", "annotations", "finalizers")},
        "spec": ep["spec"],
    }


def test_create_stores_what_our_patch_makes_of_the_ep(rest: Rest) -> None:
    ep = an_ep("create")
    expected = review_environment_provisioner(copy.deepcopy(ep), POLICY)
    assert expected.patch, "the seed EP is mutated (else this test would prove nothing)"
    assert expected.findings.allowed
    stored = rest.create(ep)
    assert ours(stored) == ours(expected.result)
    assert rest.get(API_VERSION, EP_KIND, ep["metadata"]["name"]) == stored


def test_the_cleanup_finalizer_is_added_at_admission_and_can_be_taken_off_when_deleting(
    rest: Rest,
) -> None:
    name = an_ep("finalizer")["metadata"]["name"]
    stored = rest.create(an_ep("finalizer"))
    assert stored["metadata"]["finalizers"] == [FINALIZER]
    rest.delete(API_VERSION, EP_KIND, name)
    deleting = rest.get(API_VERSION, EP_KIND, name)
    assert deleting is not None and deleting["metadata"]["deletionTimestamp"]
    rest.merge_patch(API_VERSION, EP_KIND, name, None, {"metadata": {"finalizers": None}})
    wait_for(lambda: rest.get(API_VERSION, EP_KIND, name) is None, what="the EP gone")


def test_update_goes_through_both_webhooks(rest: Rest) -> None:
    stored = rest.create(an_ep("update"))
    changed = copy.deepcopy(stored)
    changed["spec"]["application"]["release"]["values"]["application"]["deployment"]["image"][
        "tag"
    ] = "SNAPSHOT-PR-74-0123abcd"
    del changed["metadata"]["labels"]["stakater.com/tenant"]
    expected = review_environment_provisioner(copy.deepcopy(changed), POLICY, stored)
    assert expected.patch, "the removed tenant label is put back by the mutating webhook"
    updated = rest.replace(changed)
    assert ours(updated) == ours(expected.result)
    assert updated["metadata"]["labels"]["stakater.com/tenant"] == "veeru"


def test_dry_run_is_admitted_and_patched_but_not_stored(rest: Rest) -> None:
    ep = an_ep("dry-run")
    answered = rest.create(ep, dry_run=True)
    assert ours(answered) == ours(review_environment_provisioner(copy.deepcopy(ep), POLICY).result)
    assert rest.get(API_VERSION, EP_KIND, ep["metadata"]["name"]) is None


@pytest.mark.parametrize("dry_run", [False, True], ids=["create", "dry-run"])
def test_a_denial_reaches_the_client_with_our_message(rest: Rest, dry_run: bool) -> None:
    ep = an_ep("denied")
    ep["spec"]["namespaceLabels"]["stakater.com/tenant"] = "gabbar"
    expected = review_environment_provisioner(copy.deepcopy(ep), POLICY)
    assert not expected.findings.allowed
    with pytest.raises(ApiException) as denied:
        rest.create(ep, dry_run=dry_run)
    assert denied.value.status == 403
    body = str(denied.value.body)
    assert (
        'admission webhook \\"validate.environmentprovisioners.tronador.stakater.com\\" denied'
        in body
    )
    assert "stakater.com/tenant" in body
    assert rest.get(API_VERSION, EP_KIND, ep["metadata"]["name"]) is None


def test_a_bad_tronador_config_is_denied(rest: Rest) -> None:
    config = seed_config_dict()
    config["metadata"]["name"] = "another-config"
    with pytest.raises(ApiException) as denied:
        rest.create(config, dry_run=True)
    assert denied.value.status == 400
    assert (
        'admission webhook \\"validate.tronadorconfigs.tronador.stakater.com\\" denied the '
        "request: metadata.name: must be 'tronador-config'"
    ) in str(denied.value.body)
    assert "(rule singleton)" in str(denied.value.body)
