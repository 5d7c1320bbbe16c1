"""Environments and EPs in one emulated cluster, provisioned by one controller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controller.settings import ReleaseFlavour
from tests.controller.environments import (
    ENV_API,
    ENV_NAME,
    ENV_NS,
    ENV_RELEASE,
    ENV_SOURCE,
    create_environment,
    env_condition,
    env_release,
    env_status,
    environment,
    play_flux_for_environment,
)
from tests.controller.flux_schemas import validate
from tests.controller.harness import (
    EP_API,
    EP_NAME,
    FLUX_HR,
    GIT_REPO,
    NS,
    RELEASE,
    Cluster,
    flux_status,
    settings,
)

FLUX = ReleaseFlavour.FLUX_V2


def _both_deployed(cluster: Cluster, **changes: Any) -> None:
    cluster.seed_config()
    cluster.create_ep()
    create_environment(cluster)
    cluster.start(settings(**changes))
    cluster.wait(lambda: cluster.release(FLUX) and env_release(cluster))
    cluster.play_flux(FLUX)
    play_flux_for_environment(cluster)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "deployed")
    cluster.wait(lambda: env_status(cluster).get("applicationStatus") == "deployed")


def test_the_example_becomes_namespace_source_and_release_passing_flux_schemas(
    cluster: Cluster,
) -> None:
    _both_deployed(cluster)
    namespace = cluster.server.get("v1", "namespaces", ENV_NS)
    assert namespace is not None
    labels = namespace["metadata"]["labels"]
    assert labels["stakater.com/tenant"] == "veeru" and labels["owner"] == "stakater"
    assert labels["tronador.stakater.com/environment"] == ENV_NAME
    assert namespace["metadata"]["ownerReferences"][0]["kind"] == "Environment"
    source = cluster.server.get(*GIT_REPO, ENV_SOURCE, ENV_NS)
    release = env_release(cluster)
    assert source is not None and release is not None
    for obj in (source, release):
        validate({k: v for k, v in obj.items() if k != "status"})
    assert source["spec"]["secretRef"] == {"name": "nordmart-git-auth"}
    assert "gitImplementation" not in source["spec"]
    assert release["spec"]["chart"]["spec"]["sourceRef"]["name"] == ENV_SOURCE
    assert cluster.server.get("v1", "secrets", "nexus-pull-secret", ENV_NS) is not None
    status = env_status(cluster)
    assert status["namespaceLabels"]["owner"] == "stakater"
    assert env_condition(cluster, "Ready")["status"] == "True"
    # the EP beside it is provisioned as before, in its own namespace
    assert cluster.server.get(*FLUX_HR, RELEASE, NS) is not None
    assert cluster.status()["applicationStatus"] == "deployed"


def test_status_follows_the_release(cluster: Cluster) -> None:
    _both_deployed(cluster)
    generation = (env_release(cluster) or {})["metadata"].get("generation", 1)
    play_flux_for_environment(cluster, flux_status(generation, success=False))
    cluster.wait(lambda: env_status(cluster).get("applicationStatus") == "failed")
    assert env_condition(cluster, "Ready")["status"] == "False"
    progressing = {
        "observedGeneration": generation,
        "conditions": [
            {
                "type": "Ready",
                "status": "Unknown",
                "reason": "Progressing",
                "message": "Running 'upgrade' action",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
    }
    play_flux_for_environment(cluster, progressing)
    cluster.wait(lambda: env_status(cluster).get("applicationStatus") == "progressing")
    play_flux_for_environment(cluster)
    cluster.wait(lambda: env_status(cluster).get("applicationStatus") == "deployed")
    assert cluster.status()["applicationStatus"] == "deployed"  # the EP is untouched by it


def _deletion_order(cluster: Cluster, api: str, plural: str, name: str, ns: str, hr: str) -> list:
    cluster.server.patch(*FLUX_HR, hr, ns, {"metadata": {"finalizers": ["finalizers.fluxcd.io"]}})
    cluster.server.clear_requests()
    cluster.server.delete(api, plural, name)
    cluster.wait(
        lambda: (
            (cluster.server.get(*FLUX_HR, hr, ns) or {})
            .get("metadata", {})
            .get("deletionTimestamp")
        )
    )
    cluster.server.patch(*FLUX_HR, hr, ns, {"metadata": {"finalizers": None}})  # uninstalled
    cluster.wait(lambda: cluster.server.get(api, plural, name) is None)
    assert cluster.server.get("v1", "namespaces", ns) is None
    owner = {"environments", "environmentprovisioners"}
    return [
        (r.verb, "owner" if r.plural in owner else r.plural, r.subresource)
        for r in cluster.server.writes()
        if r.plural != "events" and (r.verb == "delete" or r.plural in owner)
    ]


def test_deletion_cleans_up_in_the_same_order_as_an_ep(cluster: Cluster) -> None:
    _both_deployed(cluster)
    ep_order = _deletion_order(cluster, EP_API, "environmentprovisioners", EP_NAME, NS, RELEASE)
    env_order = _deletion_order(cluster, ENV_API, "environments", ENV_NAME, ENV_NS, ENV_RELEASE)
    assert env_order == ep_order, (env_order, ep_order)
    deletes = [plural for verb, plural, _ in env_order if verb == "delete"]
    assert deletes.index("helmreleases") < deletes.index("namespaces")
    assert env_order[-1] == ("patch", "owner", None)  # the finalizer goes last


def test_a_policy_denial_reads_the_same_for_both_kinds(cluster: Cluster) -> None:
    _both_deployed(cluster)
    patch = {"spec": {"policy": {"tenant": {"allowedValues": ["jai"]}}}}
    cluster.server.patch(EP_API, "tronadorconfigs", "tronador-config", "tronador-system", patch)

    def denied(condition: dict[str, Any]) -> dict[str, Any] | None:
        return condition if condition.get("status") == "False" else None

    ep_condition = cluster.wait(lambda: denied(cluster.condition("PolicyCompliant")))
    env_cond = cluster.wait(lambda: denied(env_condition(cluster, "PolicyCompliant")))
    assert env_cond["reason"] == ep_condition["reason"] == "TenantAllowedFailed"
    assert env_cond["message"] == ep_condition["message"]
    assert "'veeru' is not one of the allowed tenants (jai)" in env_cond["message"]
    assert environment(cluster) is not None  # audited, not deleted


def test_an_invalid_environment_is_reported_not_provisioned(cluster: Cluster) -> None:
    cluster.seed_config()
    create_environment(
        cluster,
        lambda env: env["spec"]["application"]["gitRepository"].update(ref={}),
    )
    cluster.start(settings())
    cluster.wait(lambda: env_status(cluster).get("currentPhase") == "Invalid Spec")
    assert "rule git-ref" in env_condition(cluster, "Ready")["message"]
    assert cluster.server.get("v1", "namespaces", ENV_NS) is None


def test_an_environment_named_like_an_older_ep_leaves_its_namespace_alone(
    cluster: Cluster,
) -> None:
    now = datetime.now(UTC)
    older, newer = (f"{(now - timedelta(hours=h)):%Y-%m-%dT%H:%M:%SZ}" for h in (2, 1))
    cluster.seed_config()
    cluster.create_ep(lambda ep: ep["metadata"].update(creationTimestamp=older))

    def same_name(env: dict[str, Any]) -> None:
        env["metadata"].update(name=EP_NAME, creationTimestamp=newer)
        del env["spec"]["application"]["release"]["valuesFrom"]  # it named the old namespace

    create_environment(cluster, same_name)
    cluster.start(settings())
    cluster.wait(lambda: cluster.release(FLUX))

    def env_ready() -> dict[str, Any]:
        env = cluster.server.get(ENV_API, "environments", EP_NAME) or {}
        conditions = (env.get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "NamespaceReady"), {})

    conflict = cluster.wait(lambda: env_ready() or None)
    assert conflict["reason"] == "NameConflict"
    assert conflict["message"].startswith(f"EnvironmentProvisioner '{EP_NAME}' already provisions")
    env = cluster.server.get(ENV_API, "environments", EP_NAME) or {}
    assert "tronador.stakater.com/cleanup" not in env["metadata"].get("finalizers", [])
    assert cluster.server.get(*GIT_REPO, ENV_SOURCE, NS) is None

    cluster.server.delete(ENV_API, "environments", EP_NAME)
    cluster.wait(lambda: cluster.server.get(ENV_API, "environments", EP_NAME) is None)
    assert cluster.server.get("v1", "namespaces", NS) is not None
    assert cluster.release(FLUX) is not None and cluster.ep() is not None
