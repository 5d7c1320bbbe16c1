"""Environment (tronador.stakater.com/v1alpha2): current Tronador's kind for one pull request's
test environment. Cluster-scoped like the EP; the namespace it provisions carries its name.

`spec.application.gitRepository` and `spec.application.release` pass Flux's GitRepository and
HelmRelease specs through. Fields the rules look at are typed; the other fields of the Flux
specs are declared loosely so that any field Flux does not know is still an unknown field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tronador.api.base import ApiModel, ObjectMeta
from tronador.api.constants import ENV_API_VERSION, ENV_KIND
from tronador.api.environment_provisioner import (
    EnvironmentProvisionerStatus,
    NamespaceLabels,
    ValuesFromSource,
)
from tronador.api.formats import ReleaseName

_FREE_FORM = {"x-kubernetes-preserve-unknown-fields": True}

DROPPED_GIT_REPOSITORY_FIELDS = ("gitImplementation", "accessFrom")
"""GitRepository fields of source.toolkit.fluxcd.io/v1beta2 that v1 no longer has: accepted,
removed by the mutating webhook with a warning, never passed to Flux."""

CONFINED_RELEASE_FIELDS = (
    "targetNamespace",
    "storageNamespace",
    "kubeConfig",
    "serviceAccountName",
)
"""HelmRelease fields that would let a release act outside its environment's namespace."""


class GitReference(ApiModel):
    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    commit: str | None = None
    name: str | None = Field(default=None, description="A full git reference, e.g. refs/pull/1.")


class LocalReference(ApiModel):
    name: str = Field(min_length=1)


class GitRepositorySpec(ApiModel):
    """Flux's GitRepository spec (source.toolkit.fluxcd.io/v1), plus v1beta2's dropped fields."""

    url: str = Field(
        min_length=1,
        description="https://, ssh:// or scp-style git@host:org/repo URL of the repository.",
    )
    ref: GitReference | None = None
    interval: str | None = None
    timeout: str | None = None
    secret_ref: LocalReference | None = Field(
        default=None, description="Filled by Tronador from the TronadorConfig when absent."
    )
    ignore: str | None = None
    include: list[dict[str, Any]] | None = None
    provider: str | None = None
    proxy_secret_ref: LocalReference | None = None
    recurse_submodules: bool | None = None
    service_account_name: str | None = None
    sparse_checkout: list[str] | None = None
    suspend: bool | None = None
    verify: dict[str, Any] | None = Field(default=None, json_schema_extra=_FREE_FORM)
    git_implementation: str | None = Field(
        default=None, description="Gone from Flux v1: dropped by the webhook with a warning."
    )
    access_from: dict[str, Any] | None = Field(
        default=None,
        description="Gone from Flux v1: dropped by the webhook with a warning.",
        json_schema_extra=_FREE_FORM,
    )


class ChartSourceReference(ApiModel):
    kind: Literal["GitRepository"] = "GitRepository"
    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = Field(
        default=None, description="Only the environment's own namespace may be named."
    )
    api_version: str | None = None


class HelmChartSpec(ApiModel):
    chart: str = Field(min_length=1, description="Path of the chart inside the repository.")
    source_ref: ChartSourceReference
    version: str | None = None
    reconcile_strategy: Literal["ChartVersion", "Revision"] | None = None
    values_files: list[str] | None = None
    ignore_missing_values_files: bool | None = None
    interval: str | None = None
    verify: dict[str, Any] | None = Field(default=None, json_schema_extra=_FREE_FORM)


class HelmChartTemplate(ApiModel):
    spec: HelmChartSpec
    metadata: dict[str, Any] | None = Field(default=None, json_schema_extra=_FREE_FORM)


class HelmReleaseSpec(ApiModel):
    """Flux's HelmRelease spec (helm.toolkit.fluxcd.io/v2); `valuesFrom` in Tronador's form
    (configMapKeyRef / secretKeyRef with a namespace), as in the EP."""

    chart: HelmChartTemplate
    interval: str | None = None
    release_name: ReleaseName | None = Field(
        default=None, description="Helm release name; defaults to the sanitized git ref."
    )
    values: dict[str, Any] | None = Field(
        default=None, description="Helm values for the release.", json_schema_extra=_FREE_FORM
    )
    values_from: list[ValuesFromSource] | None = None
    timeout: str | None = None
    max_history: int | None = None
    suspend: bool | None = None
    persistent_client: bool | None = None
    depends_on: list[dict[str, Any]] | None = None
    post_renderers: list[dict[str, Any]] | None = None
    install: dict[str, Any] | None = Field(default=None, json_schema_extra=_FREE_FORM)
    upgrade: dict[str, Any] | None = Field(default=None, json_schema_extra=_FREE_FORM)
    rollback: dict[str, Any] | None = Field(default=None, json_schema_extra=_FREE_FORM)
    test: dict[str, Any] | None = Field(default=None, json_schema_extra=_FREE_FORM)
    uninstall: dict[str, Any] | None = Field(default=None, json_schema_extra=_FREE_FORM)
    drift_detection: dict[str, Any] | None = Field(default=None, json_schema_extra=_FREE_FORM)
    common_metadata: dict[str, Any] | None = Field(default=None, json_schema_extra=_FREE_FORM)
    target_namespace: str | None = Field(default=None, description="Only the own namespace.")
    storage_namespace: str | None = Field(default=None, description="Only the own namespace.")
    kube_config: dict[str, Any] | None = Field(
        default=None,
        description="Not allowed: releases stay in this cluster.",
        json_schema_extra=_FREE_FORM,
    )
    service_account_name: str | None = Field(
        default=None, description="Not allowed: releases run as the controller's account."
    )


class EnvironmentApplication(ApiModel):
    git_repository: GitRepositorySpec
    release: HelmReleaseSpec


class EnvironmentSpec(ApiModel):
    application: EnvironmentApplication
    namespace_labels: NamespaceLabels


EnvironmentStatus = EnvironmentProvisionerStatus
"""The same status as the EP: the controller's status mapping serves both kinds."""


class Environment(ApiModel):
    api_version: Literal["tronador.stakater.com/v1alpha2"] = ENV_API_VERSION
    kind: Literal["Environment"] = ENV_KIND
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: EnvironmentSpec
    status: EnvironmentStatus | None = None

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def git_repository(self) -> GitRepositorySpec:
        return self.spec.application.git_repository

    @property
    def release(self) -> HelmReleaseSpec:
        return self.spec.application.release
