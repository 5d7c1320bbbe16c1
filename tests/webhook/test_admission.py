"""Real AdmissionReviews over real TLS against the webhook under the example policy."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from tests.webhook.helpers import (
    CONFIG_KIND,
    CONFIG_RESOURCE,
    RunningWebhook,
    decoded_patch,
    review,
    seed_config,
    seed_ep,
)
from webhook import routes

MUTATE = routes.MUTATE_ENVIRONMENT_PROVISIONERS
VALIDATE = routes.VALIDATE_ENVIRONMENT_PROVISIONERS
VALIDATE_CONFIG = routes.VALIDATE_TRONADOR_CONFIGS


async def mutate_then_apply(webhook: RunningWebhook, obj: dict[str, Any]) -> dict[str, Any]:
    answer = await webhook.post(MUTATE, review("CREATE", obj))
    assert answer.status == 200
    response = answer.response
    assert response["allowed"] is True
    if "patch" not in response:
        return obj
    result: dict[str, Any] = jsonpatch.apply_patch(obj, decoded_patch(response))
    return result


async def test_seed_ep_is_defaulted_then_allowed_and_mutating_again_changes_nothing(
    webhook: RunningWebhook,
) -> None:
    ep = seed_ep()
    answer = await webhook.post(MUTATE, review("CREATE", ep, uid="seed-1"))
    response = answer.response
    assert response["uid"] == "seed-1"
    assert response["allowed"] is True
    result = jsonpatch.apply_patch(ep, decoded_patch(response))
    assert result["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "tronador.stakater.com",
        "stakater.com/tenant": "veeru",
    }
    assert result["spec"] == ep["spec"]

    again = (await webhook.post(MUTATE, review("CREATE", result))).response
    assert again["allowed"] is True
    assert "patch" not in again and "patchType" not in again

    validated = (await webhook.post(VALIDATE, review("CREATE", result))).response
    assert validated == {"uid": validated["uid"], "allowed": True}


async def test_mutation_fills_defaults_and_rewrites_images(webhook: RunningWebhook) -> None:
    ep = seed_ep()
    release = ep["spec"]["application"]["release"]
    del release["releaseName"]
    del ep["spec"]["namespaceLabels"]["kind"]
    ep["metadata"]["annotations"] = {
        "tronador.stakater.com/image-name": "docker.io/stakater/inventory",
        "tronador.stakater.com/image-tag": "SNAPSHOT-PR-74-1",
    }
    release["values"] = {
        "image": {"repository": "{{APPLICATION_IMAGE_NAME}}", "tag": "{{ APPLICATION_IMAGE_TAG }}"},
        "sidecar": {"image": "nginx:1.25"},
    }

    result = await mutate_then_apply(webhook, ep)

    patched = result["spec"]["application"]["release"]
    assert patched["releaseName"] == "run-pipeline"
    assert result["spec"]["namespaceLabels"]["kind"] == "pr"
    assert patched["values"] == {
        "image": {
            "repository": "nexus.example.com/dockerhub/stakater/inventory",
            "tag": "SNAPSHOT-PR-74-1",
        },
        "sidecar": {"image": "nexus.example.com/dockerhub/library/nginx:1.25"},
    }
    again = (await webhook.post(MUTATE, review("CREATE", result))).response
    assert "patch" not in again
    assert (await webhook.post(VALIDATE, review("CREATE", result))).response["allowed"] is True


async def test_malformed_ep_is_denied_400_naming_every_failing_field(
    webhook: RunningWebhook,
) -> None:
    ep = seed_ep()
    ep["metadata"]["name"] = "Not_A_Label"
    ep["spec"]["application"]["release"]["chart"]["git"] = "http://github.com/stakater-lab/x"
    ep["spec"]["application"]["release"]["chart"]["path"] = "../outside"
    ep["spec"]["surprise"] = True

    response = (await webhook.post(VALIDATE, review("CREATE", ep))).response

    assert response["allowed"] is False
    status = response["status"]
    assert status["code"] == 400
    assert status["reason"] == "BadRequest"
    for field in (
        "metadata.name",
        "spec.application.release.chart.git",
        "spec.application.release.chart.path",
        "spec.surprise",
    ):
        assert field in status["message"]


async def test_policy_violation_is_denied_403(webhook: RunningWebhook) -> None:
    ep = seed_ep()
    ep["spec"]["namespaceLabels"]["stakater.com/tenant"] = "gabbar"
    ep["spec"]["application"]["release"]["chart"]["git"] = "https://gitlab.com/other/repo"

    response = (await webhook.post(VALIDATE, review("CREATE", ep))).response

    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["reason"] == "Forbidden"
    assert "(rule tenant-allowed)" in response["status"]["message"]
    assert "(rule chart-url-allowed)" in response["status"]["message"]


async def test_update_may_not_change_chart_url_or_tenant(webhook: RunningWebhook) -> None:
    old = seed_ep()
    new = copy.deepcopy(old)
    new["spec"]["application"]["release"]["chart"]["git"] = (
        "https://github.com/stakater-lab/another-repo"
    )
    new["spec"]["namespaceLabels"]["stakater.com/tenant"] = "jai"

    response = (await webhook.post(VALIDATE, review("UPDATE", new, old))).response

    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    message = response["status"]["message"]
    assert "spec.application.release.chart.git" in message
    assert "(rule immutable-chart-url)" in message
    assert 'spec.namespaceLabels["stakater.com/tenant"]' in message
    assert "(rule immutable-tenant)" in message


async def test_update_of_other_fields_is_allowed_and_mutated(webhook: RunningWebhook) -> None:
    old = seed_ep()
    new = copy.deepcopy(old)
    new["spec"]["application"]["release"]["chart"]["ref"] = "another-branch"
    new["spec"]["application"]["release"]["values"]["replicas"] = 2

    validated = (await webhook.post(VALIDATE, review("UPDATE", new, old))).response
    mutated = (await webhook.post(MUTATE, review("UPDATE", new, old))).response

    assert validated["allowed"] is True
    assert mutated["allowed"] is True
    result = jsonpatch.apply_patch(new, decoded_patch(mutated))
    assert result["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tronador.stakater.com"


async def test_dry_run_gets_exactly_the_same_answer(webhook: RunningWebhook) -> None:
    ep = seed_ep()
    bad = seed_ep()
    bad["spec"]["namespaceLabels"]["stakater.com/tenant"] = "gabbar"
    for path, obj in ((MUTATE, ep), (VALIDATE, ep), (VALIDATE, bad)):
        real = await webhook.post(path, review("CREATE", obj, uid="same"))
        dry = await webhook.post(path, review("CREATE", obj, uid="same", dry_run=True))
        assert dry.status == real.status == 200
        assert dry.text == real.text


async def test_delete_and_connect_are_allowed_untouched(webhook: RunningWebhook) -> None:
    invalid = seed_ep()
    invalid["spec"]["namespaceLabels"]["stakater.com/tenant"] = "gabbar"
    for path in (MUTATE, VALIDATE):
        deleted = (await webhook.post(path, review("DELETE", None, invalid))).response
        connected = (await webhook.post(path, review("CONNECT", None))).response
        for response in (deleted, connected):
            assert response == {"uid": response["uid"], "allowed": True}


async def test_status_subresource_is_not_rechecked_nor_patched(webhook: RunningWebhook) -> None:
    old = seed_ep()
    old["spec"]["namespaceLabels"]["stakater.com/tenant"] = "no-longer-allowed"
    new = copy.deepcopy(old)
    new["status"] = {"currentPhase": "Deployed", "applicationStatus": "deployed"}
    for path in (MUTATE, VALIDATE):
        answer = await webhook.post(path, review("UPDATE", new, old, sub_resource="status"))
        assert answer.response == {"uid": answer.response["uid"], "allowed": True}


async def test_finalizer_removal_on_a_deleting_ep_is_allowed_under_a_newer_policy(
    webhook: RunningWebhook,
) -> None:
    old = seed_ep()
    old["spec"]["namespaceLabels"]["stakater.com/tenant"] = "no-longer-allowed"
    old["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z"
    old["metadata"]["finalizers"] = ["tronador.stakater.com/cleanup"]
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = []

    response = (await webhook.post(VALIDATE, review("UPDATE", new, old))).response
    assert response["allowed"] is True

    new["spec"]["application"]["release"]["chart"]["ref"] = "changed-while-deleting"
    response = (await webhook.post(VALIDATE, review("UPDATE", new, old))).response
    assert response["allowed"] is False


async def test_warnings_are_few_and_short(webhook: RunningWebhook) -> None:
    ep = seed_ep()
    ep["spec"]["application"]["release"]["values"] = {
        f"component-{i}-with-a-rather-long-name-to-make-the-path-long": {"tag": "latest"}
        for i in range(8)
    }

    response = (await webhook.post(VALIDATE, review("CREATE", ep))).response

    assert response["allowed"] is True
    warnings = response["warnings"]
    assert 1 < len(warnings) <= 5
    assert all(len(w) <= 120 for w in warnings)
    assert warnings[-1] == "... and 4 more warnings"


async def test_tronador_config_valid_is_allowed(webhook: RunningWebhook) -> None:
    config = seed_config()
    answer = await webhook.post(
        VALIDATE_CONFIG, review("CREATE", config, kind=CONFIG_KIND, resource=CONFIG_RESOURCE)
    )
    assert answer.response == {"uid": answer.response["uid"], "allowed": True}


async def test_tronador_config_invalid_is_denied_naming_fields(webhook: RunningWebhook) -> None:
    config = seed_config()
    config["metadata"]["name"] = "another-config"
    config["spec"]["secrets"].append(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "oops"}}
    )
    config["spec"]["mappings"][0]["authSecret"] = "missing-secret"
    config["spec"]["policy"]["defaultTTL"] = "forever"

    answer = await webhook.post(
        VALIDATE_CONFIG, review("CREATE", config, kind=CONFIG_KIND, resource=CONFIG_RESOURCE)
    )

    response = answer.response
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    message = response["status"]["message"]
    for field in (
        "metadata.name",
        "spec.secrets[3].kind",
        "spec.mappings[0].authSecret",
        "spec.policy.defaultTTL",
    ):
        assert field in message
    assert "replace-me" not in answer.text


async def test_tronador_config_in_another_namespace_is_denied(webhook: RunningWebhook) -> None:
    config = seed_config()
    config["metadata"]["namespace"] = "default"
    response = (
        await webhook.post(
            VALIDATE_CONFIG, review("CREATE", config, kind=CONFIG_KIND, resource=CONFIG_RESOURCE)
        )
    ).response
    assert response["allowed"] is False
    assert "metadata.namespace" in response["status"]["message"]


async def test_probes(webhook: RunningWebhook) -> None:
    assert (await webhook.get(routes.HEALTHZ)).status == 200
    assert (await webhook.get(routes.READYZ)).status == 200
    assert (await webhook.get(routes.METRICS)).status == 200
