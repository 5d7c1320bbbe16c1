"""What an Environment's test environment should look like (pure: no I/O).

The namespace, the TronadorConfig secrets and the valuesFrom copies are the EP's
(`controller/desired.py`). The Flux objects come from the Environment's passthrough specs: its
`gitRepository` becomes a source.toolkit.fluxcd.io/v1 GitRepository named by the chart's
`sourceRef`, its `release` a helm.toolkit.fluxcd.io/v2 HelmRelease. Fields that
source.toolkit.fluxcd.io/v1 no longer has and fields that would take the release outside its
namespace are never passed on. An Environment is always provisioned with Flux v2, whatever
release flavour the controller uses for EPs.
"""

from __future__ import annotations

import copy
from typing import Any

from controller.desired import (
    DesiredObject,
    DesiredProvisioning,
    Subject,
    ValuesSourceRef,
    add_values_copies,
    confine,
    desired_base,
    desired_for_provisioner,
    flux_metadata,
    flux_values_from,
    release_policy,
)
from controller.settings import ReleaseOptions
from kube.resources import GIT_REPOSITORIES, HELM_RELEASES
from tronador.api import Environment, TronadorConfig
from tronador.api.environment import CONFINED_RELEASE_FIELDS, DROPPED_GIT_REPOSITORY_FIELDS
from tronador.rules.giturl import parse_git_url

ValuesSources = dict[ValuesSourceRef, dict[str, Any] | None]


def desired_objects(
    subject: Subject,
    config: TronadorConfig | None,
    options: ReleaseOptions,
    values_sources: ValuesSources | None = None,
) -> DesiredProvisioning:
    """Everything an EP or an Environment should have."""
    if isinstance(subject, Environment):
        return desired_for_environment(subject, config, options, values_sources)
    return desired_for_provisioner(subject, config, options, values_sources)


def desired_for_environment(
    env: Environment,
    config: TronadorConfig | None,
    options: ReleaseOptions,
    values_sources: ValuesSources | None = None,
) -> DesiredProvisioning:
    desired, auth = desired_base(env, config)
    url = parse_git_url(env.git_repository.url)
    if url is None:
        desired.release_problems.append(
            f"chart git URL {env.git_repository.url!r} cannot be used by a Flux GitRepository"
        )
        return desired
    add_values_copies(desired, env, values_sources)
    policy = release_policy(config)
    account = confine(desired, env.name, policy)
    source = git_repository(env, desired.release_name, auth, options, url.flux_url())
    release, warnings = helm_release(
        env, desired.release_name, source.name, options, account, policy.allow_post_renderers
    )
    desired.warnings.extend(warnings)
    desired.release = [source, release]
    return desired


def git_repository(
    env: Environment, release: str, auth_secret: str | None, options: ReleaseOptions, url: str
) -> DesiredObject:
    spec = env.git_repository.to_wire()
    for name in DROPPED_GIT_REPOSITORY_FIELDS:
        spec.pop(name, None)
    spec["url"] = url
    spec.setdefault("interval", options.source_interval)
    if "secretRef" not in spec and auth_secret:
        spec["secretRef"] = {"name": auth_secret}
    name = env.release.chart.spec.source_ref.name
    body = {
        "apiVersion": GIT_REPOSITORIES.api_version,
        "kind": "GitRepository",
        "metadata": flux_metadata(name, env.name, env.name, release),
        "spec": spec,
    }
    return DesiredObject(GIT_REPOSITORIES, body)


def helm_release(
    env: Environment,
    release: str,
    source_name: str,
    options: ReleaseOptions,
    service_account: str | None = None,
    allow_post_renderers: bool = False,
) -> tuple[DesiredObject, list[str]]:
    namespace = env.name
    spec = env.release.to_wire()
    warnings: list[str] = []
    for name in CONFINED_RELEASE_FIELDS:
        if name in spec and spec[name] != namespace:
            spec.pop(name)
            warnings.append(f"release.{name} is not allowed and was not passed to Flux")
    chart_spec = spec["chart"]["spec"]
    chart_spec["sourceRef"] = {"kind": "GitRepository", "name": source_name}
    values_from: list[dict[str, Any]] = []
    for source in env.release.values_from or []:
        items, warning = flux_values_from(
            source, namespace, chart_spec["chart"].strip("/"), chart_spec
        )
        values_from.extend(items)
        if warning:
            warnings.append(warning)
    spec.pop("valuesFrom", None)
    if values_from:
        spec["valuesFrom"] = values_from
    if env.release.values is not None:
        spec["values"] = copy.deepcopy(env.release.values)
    spec["releaseName"] = release
    for name in ("dependsOn", "postRenderers"):
        spec.pop(name, None)
    spec.update(confined_passthrough(env, allow_post_renderers))
    if service_account:
        spec["serviceAccountName"] = service_account
    spec.setdefault("interval", options.release_interval)
    retries = options.remediation_retries
    spec.setdefault("install", {"remediation": {"retries": retries}})
    spec.setdefault("upgrade", {"remediation": {"retries": retries, "remediateLastFailure": True}})
    body = {
        "apiVersion": HELM_RELEASES.api_version,
        "kind": "HelmRelease",
        "metadata": flux_metadata(release, namespace, env.name, release),
        "spec": spec,
    }
    return DesiredObject(HELM_RELEASES, body), warnings


def confined_passthrough(env: Environment, allow_post_renderers: bool) -> dict[str, Any]:
    """The passthrough fields that could reach past the environment, kept only where they stay
    inside it: `dependsOn` entries in its own namespace, `postRenderers` when the policy allows
    them. Admission denies the others; this holds for objects stored before the rule."""
    kept: dict[str, Any] = {}
    own = [
        dict(item)
        for item in env.release.depends_on or []
        if item.get("namespace") in (None, "", env.name)
    ]
    if own:
        kept["dependsOn"] = own
    if env.release.post_renderers and allow_post_renderers:
        kept["postRenderers"] = copy.deepcopy(env.release.post_renderers)
    return kept
