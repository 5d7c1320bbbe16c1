"""Typed Tronador API: the one place the webhook, controller, certs and CLI import types from."""

from tronador.api.base import ApiModel, Condition, ObjectMeta, SecretReference
from tronador.api.config_file import ConfigFile, ConfigFileApplication
from tronador.api.environment import (
    Environment,
    EnvironmentSpec,
    EnvironmentStatus,
    GitRepositorySpec,
    HelmReleaseSpec,
)
from tronador.api.environment_provisioner import (
    Application,
    ChartSource,
    EnvironmentProvisioner,
    EnvironmentProvisionerSpec,
    EnvironmentProvisionerStatus,
    KeyReference,
    Release,
    ValuesFromSource,
)
from tronador.api.tronador_config import (
    NamespaceLabelPolicy,
    OrgLevelSecrets,
    Policy,
    RegistryRewrite,
    ReleasePolicy,
    RepoSecretMapping,
    TenantPolicy,
    TronadorConfig,
    TronadorConfigSpec,
    TronadorConfigStatus,
)

__all__ = [
    "ApiModel",
    "Application",
    "ChartSource",
    "Condition",
    "ConfigFile",
    "ConfigFileApplication",
    "Environment",
    "EnvironmentProvisioner",
    "EnvironmentProvisionerSpec",
    "EnvironmentProvisionerStatus",
    "EnvironmentSpec",
    "EnvironmentStatus",
    "GitRepositorySpec",
    "HelmReleaseSpec",
    "KeyReference",
    "NamespaceLabelPolicy",
    "ObjectMeta",
    "OrgLevelSecrets",
    "Policy",
    "RegistryRewrite",
    "Release",
    "ReleasePolicy",
    "RepoSecretMapping",
    "SecretReference",
    "TenantPolicy",
    "TronadorConfig",
    "TronadorConfigSpec",
    "TronadorConfigStatus",
    "ValuesFromSource",
]
