"""Validating a TronadorConfig: the singleton, the secrets it copies, its mappings and policy."""

from __future__ import annotations

from typing import Any

from tronador.api import Policy, TronadorConfig
from tronador.api.constants import CONFIG_NAME
from tronador.api.formats import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    LABEL_VALUE,
    label_key_problem,
)
from tronador.rules.durations import parse_duration
from tronador.rules.findings import Findings, field_path, parse_model
from tronador.rules.giturl import parse_git_url, parse_org_ref
from tronador.rules.images import registry_host_problem, rewrite_chain
from tronador.rules.secret_binding import chart_organisations, mapping_repos
from tronador.rules.urls import http_url_problem

CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "APIService",
        "IngressClass",
        "RuntimeClass",
        "CertificateSigningRequest",
        "ClusterSecretStore",
        "ClusterExternalSecret",
        "ClusterIssuer",
        "EnvironmentProvisioner",
    }
)
"""Kinds known to be cluster-scoped: copying one "into a namespace" is meaningless."""

SECRET_GENERATORS: dict[str, tuple[str, ...]] = {
    "ExternalSecret": ("spec", "target", "name"),
    "SealedSecret": ("spec", "template", "metadata", "name"),
    "Certificate": (
        "spec",
        "secretName",
    ),
}
"""Secret-generating kinds, and where each names the Secret it generates."""


def secret_item_name(item: Any) -> str | None:
    metadata = item.get("metadata") if isinstance(item, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _dig(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def validate_tronador_config(obj: Any, namespace: str | None = None) -> Findings:
    """Check a TronadorConfig; `namespace` is the controller's namespace, when known."""
    findings = Findings()
    config = parse_model(TronadorConfig, obj, findings)
    if config is None:
        return findings
    if config.metadata.name != CONFIG_NAME:
        findings.deny(
            "metadata.name",
            "singleton",
            f"must be {CONFIG_NAME!r}: Tronador reads only that one TronadorConfig",
        )
    if namespace and config.metadata.namespace not in (None, namespace):
        findings.deny(
            "metadata.namespace",
            "singleton",
            f"must be {namespace!r}, the namespace Tronador runs in",
        )
    provided = _check_secrets(config.spec.secrets, findings)
    _check_mappings(config, provided, findings)
    check_policy(config.spec.policy, findings)
    return findings


def _check_secrets(items: list[dict[str, Any]], findings: Findings) -> set[str]:
    provided: set[str] = set()
    for index, item in enumerate(items):
        base = f"spec.secrets[{index}]"
        kind, api_version = item.get("kind"), item.get("apiVersion")
        name = secret_item_name(item)
        if not isinstance(kind, str) or not isinstance(api_version, str):
            findings.deny(base, "secret-manifest", "needs apiVersion and kind")
            continue
        if not name or not DNS1123_SUBDOMAIN.matches(name):
            findings.deny(
                f"{base}.metadata.name",
                "secret-manifest",
                f"must be {DNS1123_SUBDOMAIN.explanation}",
            )
            continue
        if kind in CLUSTER_SCOPED_KINDS or kind.startswith("Cluster"):
            findings.deny(
                f"{base}.kind",
                "namespaced-secrets",
                f"{kind} is cluster-scoped; only namespaced objects can be copied into EP "
                "namespaces",
            )
            continue
        if name in provided:
            findings.deny(f"{base}.metadata.name", "unique-secrets", f"{name!r} is given twice")
        provided.add(name)
        if _dig(item, ("metadata", "namespace")):
            findings.warn(
                f"{base}.metadata.namespace",
                "is ignored: the item is copied into each EP namespace",
            )
        if kind == "Secret":
            if api_version != "v1":
                findings.deny(f"{base}.apiVersion", "secret-manifest", "a Secret is apiVersion v1")
            continue
        target_path = SECRET_GENERATORS.get(kind)
        if target_path is None:
            findings.warn(base, f"cannot check that {kind} generates a Secret named {name!r}")
            continue
        target = _dig(item, target_path)
        if target is not None and target != name:
            findings.deny(
                field_path(target_path, base),
                "generator-name",
                f"generates Secret {target!r}, but the item is named {name!r}; "
                "they must be equal so mappings can refer to it",
            )
    return provided


def _check_mappings(config: TronadorConfig, provided: set[str], findings: Findings) -> None:
    seen: dict[tuple[str, str, str], int] = {}
    chart_owners = chart_organisations(config)
    for index, mapping in enumerate(config.spec.mappings):
        base = f"spec.mappings[{index}]"
        _check_organisation(f"{base}.organisation", mapping.organisation, findings)
        bound = mapping_repos(mapping, chart_owners)
        for r, repo in bound.invalid:
            findings.deny(
                f"{base}.repos[{r}]",
                "repo-ref",
                f"{repo[:200]!r} is not host/owner/name (github.com/stakater/inventory), a git "
                "URL, or a bare name with the mapping's organisation",
            )
        for repo in bound.unbound:
            findings.deny(
                f"{base}.repos[{mapping.repos.index(repo)}]",
                "repo-binding",
                f"{repo!r} is a bare name, the mapping has no organisation and "
                "policy.allowedChartGitPrefixes names no owner, so it matches no repository: "
                "write host/owner/name or set organisation (docs/security.md)",
            )
        for ref in bound.repos:
            key = (ref.host, ref.owner, ref.name)
            if key in seen and seen[key] != index:
                findings.deny(
                    f"{base}.repos",
                    "unique-repos",
                    f"{str(ref)!r} is already mapped by spec.mappings[{seen[key]}]",
                )
            seen.setdefault(key, index)
        _check_references(base, mapping.auth_secret, mapping.image_pull_secret, provided, findings)
    org = config.spec.org_level_secrets
    if org is not None:
        _check_organisation("spec.orgLevelSecrets.organisation", org.organisation, findings)
        if (
            org.organisation is None
            and (org.auth_secret or org.image_pull_secret)
            and not chart_owners
        ):
            findings.deny(
                "spec.orgLevelSecrets.organisation",
                "repo-binding",
                "is required when policy.allowedChartGitPrefixes names no owner: without either "
                "the org-level secrets would go to any repository on any host (docs/security.md)",
            )
        _check_references(
            "spec.orgLevelSecrets", org.auth_secret, org.image_pull_secret, provided, findings
        )


def _check_organisation(path: str, value: str | None, findings: Findings) -> None:
    if value is not None and parse_org_ref(value) is None:
        findings.deny(
            path, "organisation", f"{value[:200]!r} is not host/owner, like github.com/stakater"
        )


def _check_references(
    base: str, auth: str | None, pull: str | None, provided: set[str], findings: Findings
) -> None:
    for field, name in (("authSecret", auth), ("imagePullSecret", pull)):
        if name is not None and name not in provided:
            findings.deny(
                f"{base}.{field}",
                "secret-exists",
                f"{name!r} is not one of the secrets this TronadorConfig provides",
            )


def check_policy(policy: Policy, findings: Findings) -> None:
    base = "spec.policy"
    problem = label_key_problem(policy.tenant.label_key)
    if problem:
        findings.deny(f"{base}.tenant.labelKey", "label-key", problem)
    for index, key in enumerate(policy.required_namespace_labels):
        problem = label_key_problem(key)
        if problem:
            findings.deny(f"{base}.requiredNamespaceLabels[{index}]", "label-key", problem)
    for key, value in policy.default_namespace_labels.items():
        path = field_path([key], f"{base}.defaultNamespaceLabels")
        problem = label_key_problem(key)
        if problem:
            findings.deny(path, "label-key", problem)
        if not LABEL_VALUE.matches(value):
            findings.deny(path, LABEL_VALUE.rule, f"{value!r} is not {LABEL_VALUE.explanation}")
    for index, prefix in enumerate(policy.allowed_chart_git_prefixes):
        probe = prefix if prefix.endswith("/") or prefix.endswith(":") else prefix + "/"
        if parse_git_url(probe + "x") is None:
            findings.deny(
                f"{base}.allowedChartGitPrefixes[{index}]",
                "chart-url-prefix",
                f"{prefix!r} is not the start of an https://, ssh:// or git@host: URL",
            )
    _check_release_policy(policy, findings)
    _check_tenant_policy(policy, findings)
    for index, rewrite in enumerate(policy.image_registry_rewrites):
        for field, value in (("from", rewrite.from_), ("to", rewrite.to)):
            problem = registry_host_problem(value)
            if problem:
                findings.deny(
                    f"{base}.imageRegistryRewrites[{index}].{field}", "registry-rewrite", problem
                )
    chain = rewrite_chain(policy.image_registry_rewrites)
    if chain is not None:
        i, j = chain
        findings.deny(
            f"{base}.imageRegistryRewrites[{i}].to",
            "registry-rewrite-chain",
            f"{policy.image_registry_rewrites[i].to!r} is itself rewritten by "
            f"imageRegistryRewrites[{j}]; rewrite straight to the final registry",
        )
    if policy.default_ttl is not None and parse_duration(policy.default_ttl) is None:
        findings.deny(
            f"{base}.defaultTTL",
            "duration",
            f"{policy.default_ttl!r} is not a duration like 72h, 1h30m or 7d",
        )


def _check_release_policy(policy: Policy, findings: Findings) -> None:
    base = "spec.policy.release"
    release = policy.release
    if not DNS1123_SUBDOMAIN.matches(release.cluster_role):
        findings.deny(
            f"{base}.clusterRole", "cluster-role", f"must be {DNS1123_SUBDOMAIN.explanation}"
        )
    if not DNS1123_LABEL.matches(release.service_account_name):
        findings.deny(
            f"{base}.serviceAccountName",
            DNS1123_LABEL.rule,
            f"must be {DNS1123_LABEL.explanation}",
        )
    for index, prefix in enumerate(release.external_source_prefixes):
        problem = http_url_problem(prefix)
        if problem:
            findings.deny(
                f"{base}.externalSourceURLPrefixes[{index}]",
                "external-source-prefix",
                f"{prefix[:200]!r} {problem}",
            )


def _check_tenant_policy(policy: Policy, findings: Findings) -> None:
    base = "spec.policy.tenant"
    for tenant, owners in policy.tenant.owners.items():
        where = field_path([tenant], f"{base}.owners")
        for index, account in enumerate(owners.service_accounts):
            namespace, _, name = account.partition("/")
            if not (DNS1123_LABEL.matches(namespace) and DNS1123_SUBDOMAIN.matches(name)):
                findings.deny(
                    f"{where}.serviceAccounts[{index}]",
                    "service-account",
                    f"{account[:200]!r} is not namespace/name",
                )
    for tenant, cap in policy.tenant.max_environments.per_tenant.items():
        if cap < 0:
            findings.deny(
                field_path([tenant], f"{base}.maxEnvironments.perTenant"),
                "environment-cap",
                f"{cap} is negative",
            )
