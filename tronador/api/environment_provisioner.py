"""EnvironmentProvisioner (EP): one pull request's test environment. Cluster-scoped; the namespace
it provisions carries the EP's name."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from tronador.api.base import ApiModel, Conditions, ObjectMeta, SecretReference
from tronador.api.constants import API_VERSION, EP_KIND
from tronador.api.formats import LabelValue, ReleaseName


def _null_is_empty(value: Any) -> Any:
    return {} if value is None else value


NamespaceLabels = Annotated[
    dict[str, LabelValue],
    BeforeValidator(_null_is_empty),
    Field(default_factory=dict, description="Labels of the provisioned namespace."),
]
"""`spec.namespaceLabels` of the EP and of the Environment; null reads as no labels."""


class ChartSource(ApiModel):
    git: str = Field(
        min_length=1,
        description="Git URL of the repository holding the chart: https://, ssh:// or "
        "scp-style git@host:org/repo.",
    )
    path: str = Field(min_length=1, description="Path of the chart inside the repository.")
    ref: str = Field(min_length=1, description="Git branch (or other ref) to deploy.")
    secret_ref: SecretReference | None = Field(
        default=None, description="Secret with credentials for the git repository."
    )


class KeyReference(ApiModel):
    name: str = Field(min_length=1)
    namespace: str | None = None
    key: str | None = None
    optional: bool | None = None


class ChartFileReference(ApiModel):
    path: str = Field(min_length=1)
    optional: bool | None = None


class ExternalSourceReference(ApiModel):
    url: str = Field(min_length=1)
    optional: bool | None = None


class ValuesFromSource(ApiModel):
    """Exactly one source of release values (the Helm Operator's `valuesFrom` item)."""

    config_map_key_ref: KeyReference | None = None
    secret_key_ref: KeyReference | None = None
    chart_file_ref: ChartFileReference | None = None
    external_source_ref: ExternalSourceReference | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ValuesFromSource:
        given = [name for name, value in self if value is not None]
        if len(given) != 1:
            raise ValueError(
                "exactly one of configMapKeyRef, secretKeyRef, chartFileRef, "
                f"externalSourceRef must be set (found {len(given)})"
            )
        return self


class Release(ApiModel):
    chart: ChartSource
    release_name: ReleaseName | None = Field(
        default=None, description="Helm release name; defaults to the sanitized chart ref."
    )
    values: dict[str, Any] | None = Field(
        default=None,
        description="Helm values for the release.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    values_from: list[ValuesFromSource] | None = None


class Application(ApiModel):
    release: Release


class EnvironmentProvisionerSpec(ApiModel):
    application: Application
    namespace_labels: NamespaceLabels


class EnvironmentProvisionerStatus(ApiModel):
    application_status: str | None = Field(
        default=None, description="The Helm release's state, e.g. deployed or failed."
    )
    application_status_msg: str | None = None
    current_phase: str | None = None
    namespace_labels: dict[str, str] | None = Field(
        default=None, description="Labels the controller applied to the namespace."
    )
    conditions: Conditions = Field(default_factory=list)
    observed_generation: int | None = None
    urls: list[str] | None = Field(
        default=None,
        description="URLs the environment's namespace exposes (its Ingresses, Gateway API "
        "HTTPRoutes and OpenShift Routes), https where TLS is configured; sorted.",
    )


class EnvironmentProvisioner(ApiModel):
    api_version: Literal["tronador.stakater.com/v1alpha1"] = API_VERSION
    kind: Literal["EnvironmentProvisioner"] = EP_KIND
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: EnvironmentProvisionerSpec
    status: EnvironmentProvisionerStatus | None = None

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def release(self) -> Release:
        return self.spec.application.release
