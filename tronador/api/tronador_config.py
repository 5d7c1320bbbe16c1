"""TronadorConfig: the cluster's singleton with secrets to copy into EP namespaces and the admins'
policy for EPs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tronador.api.base import ApiModel, Conditions, ObjectMeta
from tronador.api.constants import API_VERSION, CONFIG_KIND, DEFAULT_TENANT_LABEL

DEFAULT_DENIED_LABEL_KEYS = [
    "kubernetes.io/*",
    "*.kubernetes.io/*",
    "k8s.io/*",
    "*.k8s.io/*",
    "*.x-k8s.io/*",
    "tronador.stakater.com/*",
    "capsule.clastix.io/*",
    "*.capsule.clastix.io/*",
    "kiosk.sh/*",
    "loft.sh/*",
    "argocd.argoproj.io/*",
    "openshift.io/*",
    "*.openshift.io/*",
]
"""Namespace label keys an environment may not set by default: Pod Security
(`pod-security.kubernetes.io/*`) and every other Kubernetes-reserved prefix, Tronador's own, and
the ownership keys of multi-tenancy operators (Capsule, HNC, kiosk, vcluster/loft, Argo CD's
`managed-by`, OpenShift projects); docs/security.md explains each."""


class NamespaceLabelPolicy(ApiModel):
    """What an environment may put on its namespace. A label the admin gives (enforced, or a
    default) is never denied."""

    denied_keys: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DENIED_LABEL_KEYS),
        description="Label key globs no environment may set (the default lists Kubernetes' and "
        "multi-tenancy operators' keys; see docs/security.md).",
    )
    allowed_keys: list[str] = Field(
        default_factory=list,
        description="Label key globs an environment may set; empty allows any key not denied.",
    )
    allowed_values: dict[str, list[str]] = Field(
        default_factory=dict, description="Per label key, the values allowed (globs)."
    )
    enforced: dict[str, str] = Field(
        default_factory=dict,
        description="Labels forced on every environment namespace; they win over the "
        "environment's own.",
    )


class TenantOwners(ApiModel):
    users: list[str] = Field(default_factory=list, description="User names.")
    groups: list[str] = Field(default_factory=list, description="Group names.")
    service_accounts: list[str] = Field(
        default_factory=list, description="ServiceAccounts, as namespace/name."
    )


class EnvironmentCap(ApiModel):
    default: int | None = Field(
        default=None, ge=0, description="Live environments a tenant may hold; unset: no cap."
    )
    per_tenant: dict[str, int] = Field(
        default_factory=dict, description="Caps for named tenants, over the default."
    )


class TenantPolicy(ApiModel):
    label_key: str = Field(
        default=DEFAULT_TENANT_LABEL, description="Namespace label that names the tenant."
    )
    required: bool = Field(default=False, description="Whether every EP must set the tenant label.")
    allowed_values: list[str] = Field(
        default_factory=list, description="Allowed tenants; empty allows any."
    )
    owners: dict[str, TenantOwners] = Field(
        default_factory=dict,
        description="Per tenant, who may create, update and delete its environments (matched "
        "against the admission request's user); a tenant not listed may be claimed by anyone "
        "while this is empty, by nobody but admins once any tenant is listed.",
    )
    admin_groups: list[str] = Field(
        default_factory=lambda: ["system:masters"],
        description="Groups exempt from the owner check.",
    )
    max_environments: EnvironmentCap = Field(
        default_factory=EnvironmentCap,
        description="Caps on live environments (EPs and Environments together) per tenant.",
    )


class RegistryRewrite(ApiModel):
    from_: str = Field(
        alias="from",
        min_length=1,
        description="Registry host (optionally with a path prefix) to replace, e.g. docker.io.",
    )
    to: str = Field(min_length=1, description="Replacement, e.g. mirror.example.com/dockerhub.")


DEFAULT_RELEASE_CLUSTER_ROLE = "tronador-environment"
DEFAULT_RELEASE_SERVICE_ACCOUNT = "tronador-release"


class ReleasePolicy(ApiModel):
    """How far a chart reaches: by default it runs as a ServiceAccount of its own environment,
    bound in that namespace only to `clusterRole`."""

    confined: bool = Field(
        default=True,
        description="Run every HelmRelease as the environment's own ServiceAccount "
        "(spec.serviceAccountName), bound only in its namespace to clusterRole. false runs charts "
        "with the Flux controller's own account (usually cluster-admin); every environment's "
        "status then says so (ReleaseConfined=False).",
    )
    cluster_role: str = Field(
        default=DEFAULT_RELEASE_CLUSTER_ROLE,
        min_length=1,
        max_length=253,
        description="ClusterRole bound (by a RoleBinding in the environment's namespace) to the "
        "release's ServiceAccount.",
    )
    service_account_name: str = Field(
        default=DEFAULT_RELEASE_SERVICE_ACCOUNT,
        min_length=1,
        max_length=63,
        description="Name of the ServiceAccount the controller creates in each environment's "
        "namespace for its release.",
    )
    allow_post_renderers: bool = Field(
        default=False,
        description="Whether an Environment's release may pass postRenderers to Flux.",
    )
    external_source_prefixes: list[str] = Field(
        default_factory=list,
        alias="externalSourceURLPrefixes",
        description="URL prefixes (https://host/path) an EP's valuesFrom externalSourceRef may "
        "name (legacy flavour only); empty denies externalSourceRef.",
    )


class Policy(ApiModel):
    """The admins' rules for EPs. Every field's default is what applies with no TronadorConfig."""

    tenant: TenantPolicy = Field(default_factory=TenantPolicy)
    namespace_labels: NamespaceLabelPolicy = Field(default_factory=NamespaceLabelPolicy)
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
    release: ReleasePolicy = Field(default_factory=ReleasePolicy)
    default_ttl: str | None = Field(
        default=None,
        alias="defaultTTL",
        description="Time-to-live of an EP without updates, e.g. 72h; unset keeps EPs forever.",
    )
    allow_keep: bool = Field(
        default=True,
        alias="allowKeep",
        description="Whether an environment may outlive defaultTTL: the annotation "
        'tronador.stakater.com/keep: "true", or a tronador.stakater.com/ttl of never. False: '
        "the webhook denies both and defaultTTL applies to every environment.",
    )


class RepoSecretMapping(ApiModel):
    repos: list[str] = Field(
        min_length=1,
        description="Repositories these secrets are for: host/owner/name (e.g. "
        "github.com/stakater/nordmart-inventory) or a git URL; a bare name needs organisation. "
        "Matched on the chart's git URL (host, owner, name), never on an annotation.",
    )
    organisation: str | None = Field(
        default=None,
        description="host/owner that qualifies bare names in repos (e.g. github.com/stakater).",
    )
    auth_secret: str | None = Field(
        default=None, description="Name of the secrets item giving git credentials."
    )
    image_pull_secret: str | None = Field(
        default=None, description="Name of the secrets item giving registry credentials."
    )


class OrgLevelSecrets(ApiModel):
    organisation: str | None = Field(
        default=None,
        description="host/owner these secrets are given for (e.g. github.com/stakater): only "
        "repositories under it that no mapping names get them; unset gives them to none.",
    )
    auth_secret: str | None = None
    image_pull_secret: str | None = None


class TronadorConfigSpec(ApiModel):
    mappings: list[RepoSecretMapping] = Field(default_factory=list)
    org_level_secrets: OrgLevelSecrets | None = Field(
        default=None, description="Secrets for repositories no mapping names."
    )
    secrets: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Namespaced manifests copied into environment namespaces: Secrets, or "
        "resources that generate a Secret of the same name. An item a mapping names goes only to "
        "environments of that mapping's repositories; one orgLevelSecrets names, to repositories "
        "under its organisation no mapping names; an item nothing names, to every environment.",
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
