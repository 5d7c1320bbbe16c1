"""The API resources the controller reads and writes, and how to address them over REST."""

from __future__ import annotations

from dataclasses import dataclass

from tronador.api.constants import (
    API_VERSION,
    CONFIG_KIND,
    CONFIG_PLURAL,
    ENV_API_VERSION,
    ENV_KIND,
    ENV_PLURAL,
    EP_KIND,
    EP_PLURAL,
)


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def collection_path(self, namespace: str | None = None) -> str:
        base = f"/api/{self.api_version}" if not self.group else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace if self.namespaced else None)}/{name}"

    def __str__(self) -> str:
        return f"{self.kind} ({self.api_version})"


NAMESPACES = Resource("v1", "Namespace", "namespaces", namespaced=False)
SECRETS = Resource("v1", "Secret", "secrets")
CONFIG_MAPS = Resource("v1", "ConfigMap", "configmaps")
SERVICE_ACCOUNTS = Resource("v1", "ServiceAccount", "serviceaccounts")
EVENTS = Resource("v1", "Event", "events")
LEASES = Resource("coordination.k8s.io/v1", "Lease", "leases")
ENVIRONMENT_PROVISIONERS = Resource(API_VERSION, EP_KIND, EP_PLURAL, namespaced=False)
ENVIRONMENTS = Resource(ENV_API_VERSION, ENV_KIND, ENV_PLURAL, namespaced=False)
TRONADOR_CONFIGS = Resource(API_VERSION, CONFIG_KIND, CONFIG_PLURAL)
LEGACY_HELM_RELEASES = Resource("helm.fluxcd.io/v1", "HelmRelease", "helmreleases")
HELM_RELEASES = Resource("helm.toolkit.fluxcd.io/v2", "HelmRelease", "helmreleases")
MUTATING_WEBHOOK_CONFIGURATIONS = Resource(
    "admissionregistration.k8s.io/v1",
    "MutatingWebhookConfiguration",
    "mutatingwebhookconfigurations",
    namespaced=False,
)
VALIDATING_WEBHOOK_CONFIGURATIONS = Resource(
    "admissionregistration.k8s.io/v1",
    "ValidatingWebhookConfiguration",
    "validatingwebhookconfigurations",
    namespaced=False,
)
GIT_REPOSITORIES = Resource("source.toolkit.fluxcd.io/v1", "GitRepository", "gitrepositories")
ROLE_BINDINGS = Resource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings")
INGRESSES = Resource("networking.k8s.io/v1", "Ingress", "ingresses")
HTTP_ROUTES = Resource("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes")
OPENSHIFT_ROUTES = Resource("route.openshift.io/v1", "Route", "routes")

_KNOWN = {
    (r.api_version, r.kind): r
    for r in (
        NAMESPACES,
        SECRETS,
        CONFIG_MAPS,
        SERVICE_ACCOUNTS,
        LEGACY_HELM_RELEASES,
        HELM_RELEASES,
        GIT_REPOSITORIES,
        ROLE_BINDINGS,
    )
}


def plural_of(kind: str) -> str:
    """The plural Kubernetes derives for a kind without an irregular name."""
    lower = kind.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    return lower + "s"


def resource_for(api_version: str, kind: str) -> Resource:
    """The namespaced resource of a manifest (e.g. an ExternalSecret item of a TronadorConfig)."""
    known = _KNOWN.get((api_version, kind))
    return known if known is not None else Resource(api_version, kind, plural_of(kind))
