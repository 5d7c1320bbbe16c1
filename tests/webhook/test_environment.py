"""Environments through the real webhook over TLS, under the example policy, beside EPs."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest

from tests.webhook.helpers import (
    ENV_KIND,
    ENV_RESOURCE,
    RunningWebhook,
    decoded_patch,
    review,
    seed_env,
    seed_ep,
)
from webhook import routes

GIT = ("spec", "application", "gitRepository")
RELEASE = ("spec", "application", "release")


def env_review(obj: dict[str, Any], old: dict[str, Any] | None = None, **kw: Any) -> dict:
    operation = "UPDATE" if old is not None else "CREATE"
    return review(operation, obj, old, kind=ENV_KIND, resource=ENV_RESOURCE, **kw)


def at(obj: dict[str, Any], *path: str) -> dict[str, Any]:
    for part in path:
        obj = obj[part]
    return obj


async def test_example_is_defaulted_with_a_warning_then_allowed(webhook: RunningWebhook) -> None:
    env = seed_env()
    answer = await webhook.post(routes.MUTATE_ENVIRONMENTS, env_review(env, uid="e-1"))
    response = answer.response
    assert response["uid"] == "e-1" and response["allowed"] is True
    assert response["warnings"] == [
        "spec.application.gitRepository.gitImplementation: "
        "source.toolkit.fluxcd.io/v1 no longer has this field; it was dropped"
    ]
    result = jsonpatch.apply_patch(env, decoded_patch(response))
    assert "gitImplementation" not in at(result, *GIT)
    assert result["metadata"]["labels"]["stakater.com/tenant"] == "veeru"

    again = (await webhook.post(routes.MUTATE_ENVIRONMENTS, env_review(result))).response
    assert "patch" not in again and "warnings" not in again
    validated = (await webhook.post(routes.VALIDATE_ENVIRONMENTS, env_review(result))).response
    assert validated == {"uid": validated["uid"], "allowed": True}


def _unknown_field(env: dict[str, Any]) -> None:
    at(env, *GIT)["branch"] = "main"


def _bad_url(env: dict[str, Any]) -> None:
    at(env, *GIT)["url"] = "https://user:secret@github.com/stakater-lab/app"


def _no_branch_or_tag(env: dict[str, Any]) -> None:
    at(env, *GIT)["ref"] = {}


def _other_namespace(env: dict[str, Any]) -> None:
    at(env, *RELEASE, "chart", "spec", "sourceRef")["namespace"] = "flux-system"


@pytest.mark.parametrize(
    ("edit", "field", "rule"),
    [
        (_unknown_field, "spec.application.gitRepository.branch", "unknown-field"),
        (_bad_url, "spec.application.gitRepository.url", "chart-url"),
        (_no_branch_or_tag, "spec.application.gitRepository.ref", "git-ref"),
        (
            _other_namespace,
            "spec.application.release.chart.spec.sourceRef.namespace",
            "source-namespace",
        ),
    ],
    ids=["unknown-field", "bad-url", "no-branch-or-tag", "source-in-another-namespace"],
)
async def test_bad_input_is_denied_naming_field_and_rule(
    webhook: RunningWebhook, edit: Any, field: str, rule: str
) -> None:
    env = seed_env()
    del at(env, *GIT)["gitImplementation"]
    env["spec"]["namespaceLabels"]["kind"] = "pr"
    edit(env)
    response = (await webhook.post(routes.VALIDATE_ENVIRONMENTS, env_review(env))).response
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    message = response["status"]["message"]
    assert message.startswith(f"{field}: ") and message.endswith(f"(rule {rule})")


async def test_a_policy_denial_reads_the_same_for_both_kinds(webhook: RunningWebhook) -> None:
    ep, env = seed_ep(), seed_env()
    for obj in (ep, env):
        obj["spec"]["namespaceLabels"].update({"kind": "pr", "stakater.com/tenant": "gabbar"})
    del at(env, *GIT)["gitImplementation"]
    ep_answer = (
        await webhook.post(routes.VALIDATE_ENVIRONMENT_PROVISIONERS, review("CREATE", ep))
    ).response
    env_answer = (await webhook.post(routes.VALIDATE_ENVIRONMENTS, env_review(env))).response
    for answer in (ep_answer, env_answer):
        assert answer["allowed"] is False
        assert answer["status"]["code"] == 403
        assert answer["status"]["reason"] == "Forbidden"
    assert (
        ep_answer["status"]["message"]
        == env_answer["status"]["message"]
        == (
            "spec.namespaceLabels[\"stakater.com/tenant\"]: tenant 'gabbar' is not one of the "
            "allowed tenants (veeru, jai) (rule tenant-allowed)"
        )
    )


async def test_an_ep_sent_to_an_environment_route_is_refused(webhook: RunningWebhook) -> None:
    for path in (routes.MUTATE_ENVIRONMENTS, routes.VALIDATE_ENVIRONMENTS):
        response = (await webhook.post(path, review("CREATE", seed_ep(), uid="x"))).response
        assert response["allowed"] is False
        assert "environments" in response["status"]["message"]
