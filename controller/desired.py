"""What an EP's environment should look like, computed as plain data (pure: no I/O).

The namespace, secrets and valuesFrom copies are built the same way for an Environment
(`controller/environment_desired.py` adds its Flux objects); those functions take either kind.

`desired_for_provisioner` turns a typed EP, the TronadorConfig and the release options into the
namespace, the secrets copied from the config, and the Flux objects of the chosen flavour. The
reconciler compares these with its caches and writes only the differences.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from controller.settings import ReleaseFlavour, ReleaseOptions
from kube.resources import (
    CONFIG_MAPS,
    GIT_REPOSITORIES,
    HELM_RELEASES,
    LEGACY_HELM_RELEASES,
    ROLE_BINDINGS,
    SECRETS,
    SERVICE_ACCOUNTS,
    Resource,
    resource_for,
)
from tronador.api import (
    Environment,
    EnvironmentProvisioner,
    KeyReference,
    Policy,
    TronadorConfig,
    ValuesFromSource,
)
from tronador.api.constants import (
    ENVIRONMENT_LABEL,
    INSTANCE_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    OWNER_UID_ANNOTATION,
)
from tronador.api.tronador_config import ReleasePolicy
from tronador.rules.config_rules import secret_item_name
from tronador.rules.giturl import git_reference, parse_git_url
from tronador.rules.kinds import ref_text
from tronador.rules.label_policy import label_problems
from tronador.rules.mutate import default_release_name
from tronador.rules.names import dns_label
from tronador.rules.secret_binding import SecretChoice, choose_secrets, items_for

Subject = EnvironmentProvisioner | Environment
"""Either kind of environment object: what the shared builders accept."""

COPIED_FROM_ANNOTATION = "tronador.stakater.com/copied-from"
DEFAULT_VALUES_KEY = "values.yaml"


@dataclass(frozen=True)
class DesiredObject:
    resource: Resource
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        """None for a cluster-scoped object (a Namespace)."""
        namespace = self.body["metadata"].get("namespace")
        return None if namespace is None else str(namespace)


@dataclass(frozen=True)
class DesiredNamespace:
    name: str
    labels: dict[str, str]
    """Every label we set: the EP's namespaceLabels plus our ownership labels."""
    spec_labels: dict[str, str]
    """The EP's namespaceLabels alone (reported in status.namespaceLabels)."""
    owner_references: list[dict[str, Any]]
    owner_uid: str = ""
    """The UID of the EP or Environment the namespace is created for (recorded on it)."""

    def body(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": self.name,
                "labels": dict(self.labels),
                "annotations": {OWNER_UID_ANNOTATION: self.owner_uid},
                "ownerReferences": copy.deepcopy(self.owner_references),
            },
        }

    def claim(self) -> dict[str, Any]:
        """What creating the namespace claims before anything else is applied to it: our
        ownership labels and the owner's UID (never changed afterwards)."""
        ownership = {k: v for k, v in self.labels.items() if k in OWNERSHIP_KEYS}
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": self.name,
                "labels": ownership,
                "annotations": {OWNER_UID_ANNOTATION: self.owner_uid},
            },
        }


ValuesKind = Literal["ConfigMap", "Secret"]


@dataclass(frozen=True)
class ValuesSourceRef:
    """A valuesFrom ConfigMap/Secret in another namespace, copied into the EP's (Flux v2)."""

    kind: ValuesKind
    namespace: str
    name: str
    key: str
    optional: bool

    @property
    def resource(self) -> Resource:
        return CONFIG_MAPS if self.kind == "ConfigMap" else SECRETS

    @property
    def copy_name(self) -> str:
        return dns_label(f"values-{self.namespace}-{self.name}", 253)


@dataclass
class DesiredProvisioning:
    """What provisioning one EP or Environment must produce: its namespace, the TronadorConfig
    secrets, the release's confinement and Flux objects (`desired_for_provisioner` builds an
    EP's, `desired_for_environment` an Environment's, `desired_objects` either)."""

    namespace: DesiredNamespace
    secret_choice: SecretChoice
    secrets: list[DesiredObject] = field(default_factory=list)
    """Copies of TronadorConfig secrets items (Secrets or Secret-generating resources)."""
    image_pull_secret: str | None = None
    release_name: str = ""
    release: list[DesiredObject] = field(default_factory=list)
    """The Flux objects, in the order to create them (source before release)."""
    values_copies: list[DesiredObject] = field(default_factory=list)
    secret_problems: list[str] = field(default_factory=list)
    release_problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    confinement: list[DesiredObject] = field(default_factory=list)
    """The release's own ServiceAccount and its RoleBinding (empty when unconfined)."""
    unconfined: str | None = None
    """Why the release runs with the Flux controller's own account (None: confined)."""
    release_refused: str | None = None
    """Why no release is written at all (an unconfined flavour the admin has not opted in to)."""

    @property
    def helm_release(self) -> DesiredObject:
        return self.release[-1]


OWNERSHIP_KEYS = (MANAGED_BY_LABEL, ENVIRONMENT_LABEL)


def ownership_labels(ep_name: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY_VALUE, ENVIRONMENT_LABEL: ep_name}


def namespace_owner(ns: dict[str, Any] | None) -> str | None:
    """The UID of the EP or Environment a namespace was created for, as recorded on it; for a
    namespace an earlier Tronador created (no record yet), the UID its controller
    ownerReference names, when it also carries our labels. None: not created by us."""
    meta = (ns or {}).get("metadata") or {}
    recorded = (meta.get("annotations") or {}).get(OWNER_UID_ANNOTATION)
    if recorded:
        return str(recorded)
    labels = meta.get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
        return None
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("uid"):
            return str(ref["uid"])
    return None


def namespace_owned_by(ns: dict[str, Any] | None, uid: str | None) -> bool:
    """Whether `ns` was created for the object with `uid` (labels alone never say so)."""
    return bool(uid) and namespace_owner(ns) == uid


def is_owned_by(obj: dict[str, Any] | None, ep_name: str) -> bool:
    """Whether `obj` carries our managed-by label and names `ep_name` as its environment."""
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in ownership_labels(ep_name).items())


def chart_git_url(ep: Subject) -> str:
    if isinstance(ep, Environment):
        return ep.git_repository.url
    return ep.release.chart.git


def release_name(ep: Subject) -> str:
    if isinstance(ep, Environment):
        ref = ep.git_repository.ref
        text = ref_text(ref.to_wire() if ref is not None else None) or ep.name
        return ep.release.release_name or default_release_name(text)
    return ep.release.release_name or default_release_name(ep.release.chart.ref)


def desired_namespace(ep: Subject, policy: Policy | None = None) -> DesiredNamespace:
    """The namespace: the environment's labels the policy lets it set (one stored before a
    stricter policy keeps only those), the admin's enforced labels over them, then ours."""
    policy = policy or Policy()
    refused = {problem.key for problem in label_problems(ep.spec.namespace_labels, policy)}
    spec_labels = {k: v for k, v in ep.spec.namespace_labels.items() if k not in refused}
    spec_labels.update(policy.namespace_labels.enforced)
    return DesiredNamespace(
        name=ep.name,
        labels={**spec_labels, **ownership_labels(ep.name)},
        spec_labels=spec_labels,
        owner_uid=ep.metadata.uid or "",
        owner_references=[
            {
                "apiVersion": ep.api_version,
                "kind": ep.kind,
                "name": ep.name,
                "uid": ep.metadata.uid or "",
                "controller": True,
            }
        ],
    )


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def copied_item(item: dict[str, Any], namespace: str, ep_name: str) -> DesiredObject:
    """A TronadorConfig secrets item as it is written into an EP namespace. A Secret is given in
    the form the API server stores (stringData folded into base64 data, type defaulted), so the
    comparison with the stored object is exact."""
    meta = item.get("metadata") or {}
    body = {k: copy.deepcopy(v) for k, v in item.items() if k not in ("metadata", "status")}
    body["metadata"] = {
        "name": secret_item_name(item),
        "namespace": namespace,
        "labels": {**(meta.get("labels") or {}), **ownership_labels(ep_name)},
    }
    if meta.get("annotations"):
        body["metadata"]["annotations"] = dict(meta["annotations"])
    resource = resource_for(str(item.get("apiVersion")), str(item.get("kind")))
    if resource == SECRETS:
        data = dict(body.get("data") or {})
        data.update({k: _b64(str(v)) for k, v in (body.pop("stringData", None) or {}).items()})
        body["data"] = data
        body.setdefault("type", "Opaque")
    return DesiredObject(resource, body)


def desired_config_secrets(
    choice: SecretChoice, config: TronadorConfig | None, namespace: str, ep_name: str
) -> tuple[list[DesiredObject], list[str]]:
    """The copies of the items `items_for` gives this environment (tronador.rules.secret_binding),
    and a problem per name a mapping gives that the config does not hold."""
    items = {secret_item_name(i): i for i in (config.spec.secrets if config else [])}
    objects: list[DesiredObject] = []
    problems: list[str] = []
    for name in items_for(choice, config):
        item = items.get(name)
        if item is None:
            problems.append(
                f"TronadorConfig maps repository {choice.repo!r} to secret {name!r}, "
                "which is not among its secrets"
            )
            continue
        objects.append(copied_item(item, namespace, ep_name))
    return objects, problems


def flux_metadata(name: str, namespace: str, ep_name: str, release: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {INSTANCE_LABEL: release, **ownership_labels(ep_name)},
    }


def legacy_helm_release(
    ep: EnvironmentProvisioner, namespace: str, release: str, auth_secret: str | None
) -> DesiredObject:
    """The helm.fluxcd.io/v1 HelmRelease of the workflow guide."""
    chart_source = ep.release.chart
    chart: dict[str, Any] = {
        "git": chart_source.git,
        "path": chart_source.path,
        "ref": chart_source.ref,
    }
    if chart_source.secret_ref is not None:
        chart["secretRef"] = {"name": chart_source.secret_ref.name}  # never another namespace
    elif auth_secret:
        chart["secretRef"] = {"name": auth_secret}
    spec: dict[str, Any] = {"chart": chart, "releaseName": release}
    if ep.release.values is not None:
        spec["values"] = copy.deepcopy(ep.release.values)
    if ep.release.values_from:
        spec["valuesFrom"] = [source.to_wire() for source in ep.release.values_from]
    spec["rollback"] = {}
    spec["test"] = {}
    body = {
        "apiVersion": LEGACY_HELM_RELEASES.api_version,
        "kind": "HelmRelease",
        "metadata": flux_metadata(release, namespace, ep.name, release),
        "spec": spec,
    }
    return DesiredObject(LEGACY_HELM_RELEASES, body)


def flux_git_repository(
    ep: EnvironmentProvisioner,
    namespace: str,
    release: str,
    auth_secret: str | None,
    options: ReleaseOptions,
    url: str,
) -> DesiredObject:
    spec: dict[str, Any] = {
        "interval": options.source_interval,
        "url": url,
        "ref": git_reference(ep.release.chart.ref),
    }
    secret = ep.release.chart.secret_ref.name if ep.release.chart.secret_ref else auth_secret
    if secret:
        spec["secretRef"] = {"name": secret}
    body = {
        "apiVersion": GIT_REPOSITORIES.api_version,
        "kind": "GitRepository",
        "metadata": flux_metadata(release, namespace, ep.name, release),
        "spec": spec,
    }
    return DesiredObject(GIT_REPOSITORIES, body)


def _key_ref(source: ValuesFromSource) -> tuple[ValuesKind, KeyReference] | None:
    if source.config_map_key_ref is not None:
        return "ConfigMap", source.config_map_key_ref
    if source.secret_key_ref is not None:
        return "Secret", source.secret_key_ref
    return None


def _foreign_ref(source: ValuesFromSource, namespace: str) -> ValuesSourceRef | None:
    """The source to copy when `source` names a ConfigMap/Secret outside `namespace`."""
    found = _key_ref(source)
    if found is None or not found[1].namespace or found[1].namespace == namespace:
        return None
    kind, ref = found
    key = ref.key or DEFAULT_VALUES_KEY
    return ValuesSourceRef(kind, str(ref.namespace), ref.name, key, bool(ref.optional))


def values_source_refs(ep: Subject, namespace: str) -> list[ValuesSourceRef]:
    """The valuesFrom ConfigMaps/Secrets outside the EP's namespace (Flux v2 must copy them)."""
    refs = (_foreign_ref(source, namespace) for source in ep.release.values_from or [])
    return [ref for ref in refs if ref is not None]


def values_copy(
    ref: ValuesSourceRef, source: dict[str, Any] | None, namespace: str, ep_name: str
) -> tuple[DesiredObject | None, str | None]:
    """The copy of one valuesFrom source (only the referenced key), or a problem."""
    where = f"{ref.kind} {ref.namespace}/{ref.name}"
    data = (source or {}).get("data") or {}
    if source is None or ref.key not in data:
        if ref.optional:
            return None, None
        missing = "does not exist" if source is None else f"has no key {ref.key!r}"
        return None, f"valuesFrom {where} {missing}"
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": ref.kind,
        "metadata": {
            "name": ref.copy_name,
            "namespace": namespace,
            "labels": ownership_labels(ep_name),
            "annotations": {COPIED_FROM_ANNOTATION: f"{ref.namespace}/{ref.name}"},
        },
        "data": {ref.key: data[ref.key]},
    }
    if ref.kind == "Secret":
        body["type"] = "Opaque"
    return DesiredObject(ref.resource, body), None


def flux_values_from(
    source: ValuesFromSource, namespace: str, chart_path: str, spec: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """One EP valuesFrom item as Flux v2 valuesFrom items (or valuesFiles), or a warning."""
    found = _key_ref(source)
    if found is not None:
        kind, ref = found
        foreign = _foreign_ref(source, namespace)
        item: dict[str, Any] = {
            "kind": kind,
            "name": foreign.copy_name if foreign is not None else ref.name,
        }
        if ref.key:
            item["valuesKey"] = ref.key
        if ref.optional:
            item["optional"] = True
        return [item], None
    if source.chart_file_ref is not None:
        files = spec.setdefault("valuesFiles", [f"{chart_path}/values.yaml"])
        files.append(f"{chart_path}/{source.chart_file_ref.path}")
        if source.chart_file_ref.optional:
            spec["ignoreMissingValuesFiles"] = True
        return [], None
    return [], "valuesFrom externalSourceRef is not supported by Flux v2 and was skipped"


UNCONFINED_BY_POLICY = (
    "policy.release.confined is false: the chart runs with the Flux helm-controller's own "
    "account, not one confined to this namespace"
)
LEGACY_UNCONFINED = (
    "the legacy helm.fluxcd.io/v1 release cannot be confined: the Helm Operator installs every "
    "chart with its own account"
)


def release_policy(config: TronadorConfig | None) -> ReleasePolicy:
    return config.spec.policy.release if config is not None else ReleasePolicy()


def confinement_objects(namespace: str, ep_name: str, policy: ReleasePolicy) -> list[DesiredObject]:
    """The release's ServiceAccount and the RoleBinding, in its namespace only, to the
    admin's ClusterRole: what helm-controller impersonates for `spec.serviceAccountName`."""
    name = policy.service_account_name
    labels = ownership_labels(ep_name)
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
    }
    binding = {
        "apiVersion": ROLE_BINDINGS.api_version,
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": policy.cluster_role,
        },
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }
    return [DesiredObject(SERVICE_ACCOUNTS, account), DesiredObject(ROLE_BINDINGS, binding)]


def confine(env: DesiredProvisioning, ep_name: str, policy: ReleasePolicy) -> str | None:
    """Set up the confinement of a Flux v2 release: the objects to create and the
    ServiceAccount name for its `spec.serviceAccountName` (None: unconfined, by policy)."""
    if not policy.confined:
        env.unconfined = UNCONFINED_BY_POLICY
        return None
    env.confinement = confinement_objects(env.namespace.name, ep_name, policy)
    return policy.service_account_name


def flux_helm_release(
    ep: EnvironmentProvisioner,
    namespace: str,
    release: str,
    options: ReleaseOptions,
    service_account: str | None = None,
) -> tuple[DesiredObject, list[str]]:
    chart_path = ep.release.chart.path.strip("/")
    chart_spec: dict[str, Any] = {
        "chart": chart_path,
        "sourceRef": {"kind": "GitRepository", "name": release},
        "reconcileStrategy": "Revision",
    }
    values_from: list[dict[str, Any]] = []
    warnings: list[str] = []
    for source in ep.release.values_from or []:
        items, warning = flux_values_from(source, namespace, chart_path, chart_spec)
        values_from.extend(items)
        if warning:
            warnings.append(warning)
    retries = options.remediation_retries
    spec: dict[str, Any] = {
        "interval": options.release_interval,
        "releaseName": release,
        "chart": {"spec": chart_spec},
        "install": {"remediation": {"retries": retries}},
        "upgrade": {"remediation": {"retries": retries, "remediateLastFailure": True}},
    }
    if ep.release.values is not None:
        spec["values"] = copy.deepcopy(ep.release.values)
    if values_from:
        spec["valuesFrom"] = values_from
    if service_account:
        spec["serviceAccountName"] = service_account
    body = {
        "apiVersion": HELM_RELEASES.api_version,
        "kind": "HelmRelease",
        "metadata": flux_metadata(release, namespace, ep.name, release),
        "spec": spec,
    }
    return DesiredObject(HELM_RELEASES, body), warnings


def desired_base(
    ep: Subject, config: TronadorConfig | None
) -> tuple[DesiredProvisioning, str | None]:
    """The namespace and the TronadorConfig secrets of either kind, without its release; and the
    git auth secret the release's source may use (None when the config provides none)."""
    namespace = desired_namespace(ep, config.spec.policy if config is not None else None)
    ns = namespace.name
    choice = choose_secrets(chart_git_url(ep), config)
    secrets, secret_problems = desired_config_secrets(choice, config, ns, ep.name)
    provided = {obj.name for obj in secrets}
    env = DesiredProvisioning(
        namespace=namespace,
        secret_choice=choice,
        secrets=secrets,
        image_pull_secret=choice.image_pull_secret
        if choice.image_pull_secret in provided
        else None,
        release_name=release_name(ep),
        secret_problems=secret_problems,
    )
    return env, (choice.auth_secret if choice.auth_secret in provided else None)


def add_values_copies(
    env: DesiredProvisioning,
    ep: Subject,
    values_sources: dict[ValuesSourceRef, dict[str, Any] | None] | None,
) -> None:
    ns = env.namespace.name
    for ref in values_source_refs(ep, ns):
        copied, problem = values_copy(ref, (values_sources or {}).get(ref), ns, ep.name)
        if copied is not None:
            env.values_copies.append(copied)
        if problem:
            env.release_problems.append(problem)


def desired_for_provisioner(
    ep: EnvironmentProvisioner,
    config: TronadorConfig | None,
    options: ReleaseOptions,
    values_sources: dict[ValuesSourceRef, dict[str, Any] | None] | None = None,
) -> DesiredProvisioning:
    """Everything the EP should have. `values_sources` holds the fetched objects named by
    `values_source_refs(ep, ...)` (None when absent); only Flux v2 needs them."""
    env, auth = desired_base(ep, config)
    ns = env.namespace.name
    policy = release_policy(config)
    if options.flavour is ReleaseFlavour.LEGACY:
        if not (options.allow_unconfined or not policy.confined):
            env.release_refused = (
                f"{LEGACY_UNCONFINED}; the controller runs it only when the admin opts in to "
                "unconfined releases (--allow-unconfined-releases, or policy.release.confined: "
                "false)"
            )
            return env
        env.unconfined = LEGACY_UNCONFINED
        env.release = [legacy_helm_release(ep, ns, env.release_name, auth)]
        return env
    url = parse_git_url(ep.release.chart.git)
    if url is None:
        env.release_problems.append(
            f"chart git URL {ep.release.chart.git!r} cannot be used by a Flux GitRepository"
        )
        return env
    add_values_copies(env, ep, values_sources)
    account = confine(env, ep.name, policy)
    helm_release, warnings = flux_helm_release(ep, ns, env.release_name, options, account)
    env.warnings.extend(warnings)
    env.release = [
        flux_git_repository(ep, ns, env.release_name, auth, options, url.flux_url()),
        helm_release,
    ]
    return env


def service_account_pull_secret(namespace: str, wanted: str | None) -> DesiredObject:
    """What we apply to the namespace's `default` ServiceAccount: our image pull secret in
    `imagePullSecrets` (others' entries stay theirs), or nothing when there is none (applying
    nothing takes ours back)."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace},
    }
    if wanted is not None:
        body["imagePullSecrets"] = [{"name": wanted}]
    return DesiredObject(SERVICE_ACCOUNTS, body)
