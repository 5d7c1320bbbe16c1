"""The two kinds the controller provisions, and how a work-queue key names one object.

An EP's key is its name, as before; an Environment's is `environment/<name>` (a name never holds
a '/'), so one queue serves both and an EP and an Environment never share a key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kube.informer import Store
from kube.resources import ENVIRONMENT_PROVISIONERS, ENVIRONMENTS, Resource
from tronador.api import Environment, EnvironmentProvisioner, Policy
from tronador.rules.findings import Findings
from tronador.rules.validate import validate_environment, validate_environment_provisioner

ENVIRONMENT_KEY_PREFIX = "environment/"


class _Stores(Protocol):
    """What the kinds need of the caches."""

    def store(self, resource: Resource) -> Store | None: ...


@dataclass(frozen=True)
class ProvisionedKind:
    resource: Resource
    model: type[EnvironmentProvisioner] | type[Environment]
    validate: Callable[[Any, Policy], Findings]
    key_prefix: str

    @property
    def kind(self) -> str:
        return self.resource.kind

    def key(self, name: str) -> str:
        return f"{self.key_prefix}{name}"

    def store(self, caches: _Stores) -> Store:
        store = caches.store(self.resource)
        assert store is not None, f"no cache of {self.resource}"
        return store


EP = ProvisionedKind(
    ENVIRONMENT_PROVISIONERS, EnvironmentProvisioner, validate_environment_provisioner, ""
)
ENVIRONMENT = ProvisionedKind(
    ENVIRONMENTS, Environment, validate_environment, ENVIRONMENT_KEY_PREFIX
)
KINDS = (EP, ENVIRONMENT)


def parse_key(key: str) -> tuple[ProvisionedKind, str]:
    if key.startswith(ENVIRONMENT_KEY_PREFIX):
        return ENVIRONMENT, key.removeprefix(ENVIRONMENT_KEY_PREFIX)
    return EP, key


def kind_of(obj: dict[str, Any]) -> ProvisionedKind | None:
    for kind in KINDS:
        if (obj.get("apiVersion"), obj.get("kind")) == (kind.resource.api_version, kind.kind):
            return kind
    return None
