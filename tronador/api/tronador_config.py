"""TronadorConfig: the cluster's singleton with secrets to copy into EP namespaces and the admins'
policy for EPs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tronador.api.base import ApiModel, Conditions, ObjectMeta
from tronador.api.constants import API_VERSION, CONFIG_KIND, DEFAULT_TENANT_LABEL


class TenantPolicy(ApiModel):
    label_key: str = Field(
        default=DEFAULT_TENANT_LABEL, description="Namespace label that names the tenant."
    )
    required: bool = Field(default=False, description="Whether every EP must set the tenant label.")
    allowed_values: list[str] = Field(
        default_factory=list, description="Allowed tenants; empty allows any."
    )


class RegistryRewrite(ApiModel):
    from_: str = Field(
        alias="from",
        min_length=1,
        description="Registry host (optionally with a path prefix) to replace, e.g. docker.io.",
    )
    to: str = Field(min_length=1, description="Replacement, e.g. mirror.example.com/dockerhub.")


class Policy(ApiModel):
    """The admins' rules for EPs. Every field's default is what applies with no TronadorConfig."""

    tenant: TenantPolicy = Field(default_factory=TenantPolicy)
    required_namespace_labels: list[str] = Field(
        default_factory=list, description="Label keys every EP namespace must carry."
    )
    default_namespace_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels added to an EP's namespaceLabels when absent."
    )
    allowed_chart_git_prefixes: list[str] = Field(
        default_factory=list,
        description="Chart git URLs must start with one of these; empty allows any.",
    )
    image_registry_rewrites: list[RegistryRewrite] = Field(
        default_factory=list, description="Image registry rewrites applied to release values."
    )
    values_from_namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces whose ConfigMaps/Secrets an EP's valuesFrom may reference, "
        "besides the EP's own; empty allows none, so an EP cannot read other teams' secrets.",
    )
    default_ttl: str | None = Field(
        default=None,
        alias="defaultTTL",
        description="Time-to-live of an EP without updates, e.g. 72h; unset keeps EPs forever.",
    )


class RepoSecretMapping(ApiModel):
    repos: list[str] = Field(min_length=1, description="Bare repository names.")
    auth_secret: str | None = Field(
        default=None, description="Name of the secrets item giving git credentials."
    )
    image_pull_secret: str | None = Field(
        default=None, description="Name of the secrets item giving registry credentials."
    )


class OrgLevelSecrets(ApiModel):
    auth_secret: str | None = None
    image_pull_secret: str | None = None


class TronadorConfigSpec(ApiModel):
    mappings: list[RepoSecretMapping] = Field(default_factory=list)
    org_level_secrets: OrgLevelSecrets | None = Field(
        default=None, description="Secrets for repositories no mapping names."
    )
    secrets: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Namespaced manifests copied into EP namespaces: Secrets, or resources that "
        "generate a Secret of the same name.",
        json_schema_extra={
            "items": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            }
        },
    )
    policy: Policy = Field(default_factory=Policy)


class TronadorConfigStatus(ApiModel):
    conditions: Conditions = Field(default_factory=list)
    observed_generation: int | None = None


class TronadorConfig(ApiModel):
    api_version: Literal["tronador.stakater.com/v1alpha1"] = API_VERSION
    kind: Literal["TronadorConfig"] = CONFIG_KIND
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: TronadorConfigSpec = Field(default_factory=TronadorConfigSpec)
    status: TronadorConfigStatus | None = None
