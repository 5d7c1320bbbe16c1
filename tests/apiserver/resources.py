"""The kinds the emulated API server serves, and how each one behaves."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tronador.api import constants


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool
    status_subresource: bool = False
    custom: bool = False
    """Served from a CRD: list items carry apiVersion/kind, strategic merge patch answers 415."""
    tracks_generation: bool = False
    """metadata.generation is set on create and bumped when anything but metadata/status changes."""
    returns_deleted_object: bool = False
    """An immediate DELETE answers with the object instead of a Status (pods, serviceaccounts)."""
    dns_label_names: bool = False
    """Names must be DNS-1123 labels (namespaces) rather than subdomains."""
    field_labels: tuple[str, ...] = ()
    """Field selector labels besides metadata.name and metadata.namespace."""

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def group_resource(self) -> str:
        """How error messages name the resource: `secrets`, `leases.coordination.k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """How validation errors name the kind: `Secret`, `EnvironmentProvisioner.tronador...`."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def singular(self) -> str:
        return self.kind.lower()


def _custom(api_version: str, kind: str, plural: str, namespaced: bool) -> Resource:
    return Resource(
        api_version,
        kind,
        plural,
        namespaced,
        status_subresource=True,
        custom=True,
        tracks_generation=True,
    )


NAMESPACES = Resource(
    "v1",
    "Namespace",
    "namespaces",
    namespaced=False,
    status_subresource=True,
    dns_label_names=True,
    field_labels=("status.phase",),
)

DEFAULT_RESOURCES: tuple[Resource, ...] = (
    NAMESPACES,
    Resource("v1", "Secret", "secrets", namespaced=True, field_labels=("type",)),
    Resource("v1", "ConfigMap", "configmaps", namespaced=True),
    Resource(
        "v1", "ServiceAccount", "serviceaccounts", namespaced=True, returns_deleted_object=True
    ),
    Resource(
        "v1",
        "Event",
        "events",
        namespaced=True,
        field_labels=(
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "reason",
            "type",
        ),
    ),
    Resource(
        "v1",
        "Pod",
        "pods",
        namespaced=True,
        status_subresource=True,
        returns_deleted_object=True,
        field_labels=("spec.nodeName", "status.phase"),
    ),
    Resource("events.k8s.io/v1", "Event", "events", namespaced=True),
    Resource("networking.k8s.io/v1", "Ingress", "ingresses", namespaced=True),
    Resource("coordination.k8s.io/v1", "Lease", "leases", namespaced=True),
    Resource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", namespaced=True),
    Resource(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        namespaced=False,
        tracks_generation=True,
    ),
    Resource(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        namespaced=False,
        tracks_generation=True,
    ),
    Resource(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        status_subresource=True,
        tracks_generation=True,
    ),
    _custom(constants.API_VERSION, constants.EP_KIND, constants.EP_PLURAL, namespaced=False),
    _custom(constants.ENV_API_VERSION, constants.ENV_KIND, constants.ENV_PLURAL, namespaced=False),
    _custom(constants.API_VERSION, constants.CONFIG_KIND, constants.CONFIG_PLURAL, namespaced=True),
    _custom("helm.fluxcd.io/v1", "HelmRelease", "helmreleases", namespaced=True),
    _custom("helm.toolkit.fluxcd.io/v2", "HelmRelease", "helmreleases", namespaced=True),
    _custom("source.toolkit.fluxcd.io/v1", "GitRepository", "gitrepositories", namespaced=True),
)


class ResourceTable:
    """Looks resources up by (apiVersion, plural) for routing and (apiVersion, kind) for bodies."""

    def __init__(self, resources: Iterable[Resource] = DEFAULT_RESOURCES) -> None:
        self._by_plural: dict[tuple[str, str], Resource] = {}
        self._by_kind: dict[tuple[str, str], Resource] = {}
        for resource in resources:
            self.add(resource)

    def add(self, resource: Resource) -> None:
        self._by_plural[resource.api_version, resource.plural] = resource
        self._by_kind[resource.api_version, resource.kind] = resource

    def lookup(self, api_version: str, plural: str) -> Resource | None:
        return self._by_plural.get((api_version, plural))

    def by_kind(self, api_version: str, kind: str) -> Resource | None:
        return self._by_kind.get((api_version, kind))

    def require(self, api_version: str, plural: str) -> Resource:
        resource = self.lookup(api_version, plural)
        if resource is None:
            raise KeyError(f"the emulated API server does not serve {plural} in {api_version}")
        return resource

    def in_group_version(self, api_version: str) -> list[Resource]:
        return [r for r in self._by_plural.values() if r.api_version == api_version]

    def group_versions(self) -> list[str]:
        return sorted({r.api_version for r in self._by_plural.values()})

    def namespaced(self) -> list[Resource]:
        return [r for r in self._by_plural.values() if r.namespaced]

    def __iter__(self) -> Iterator[Resource]:
        return iter(list(self._by_plural.values()))
