"""Validating an EP against its schema, its formats and the cluster's policy.

All problems are collected, not just the first, and each names its field path and its rule.
"""

from __future__ import annotations

from typing import Any

from tronador.api import EnvironmentProvisioner, Policy
from tronador.api.constants import IMAGE_NAME_ANNOTATION, IMAGE_TAG_ANNOTATION
from tronador.api.formats import DNS1123_LABEL, LABEL_VALUE, PLACEHOLDER_RE, label_key_problem
from tronador.rules.findings import Findings, Severity, field_path, parse_model
from tronador.rules.giturl import URL_EXPECTATION, parse_git_url
from tronador.rules.images import IMAGE_KEYS, find_strings

CHART_GIT = "spec.application.release.chart.git"
NAMESPACE_LABELS = "spec.namespaceLabels"


def validate_environment_provisioner(obj: Any, policy: Policy, old: Any = None) -> Findings:
    """Check an EP on create (`old` is None) or update (`old` is the stored object).

    The schema check and the rule checks run independently, so an unknown field and a bad URL
    in the same object are both reported.
    """
    findings = Findings()
    parse_model(EnvironmentProvisioner, obj, findings)
    if not isinstance(obj, dict):
        return findings
    view = _EPView(obj)
    _check_name(obj, findings)
    _check_placeholders(obj.get("spec"), findings)
    _check_image_annotations(obj.get("metadata"), findings)
    _check_labels(view, findings)
    _check_chart(view, policy, findings)
    _check_tenant(view, policy, findings)
    for key in policy.required_namespace_labels:
        if key not in view.namespace_labels:
            findings.deny(
                NAMESPACE_LABELS,
                "required-namespace-labels",
                f"label {key!r} is required by the cluster's policy",
                Severity.POLICY,
            )
    for path, message in values_from_namespace_problems(obj, policy):
        findings.deny(path, "values-from-namespace", message, Severity.POLICY)
    _warn_mutable_tags(view, findings)
    if isinstance(old, dict):
        _check_immutable(view, _EPView(old), policy, findings)
    return findings


class _EPView:
    """Typed read access to the fields the rules look at, tolerant of a malformed rest."""

    def __init__(self, obj: dict[str, Any]) -> None:
        spec = _mapping(obj.get("spec"))
        release = _mapping(_mapping(spec.get("application")).get("release"))
        chart = _mapping(release.get("chart"))
        labels = _mapping(spec.get("namespaceLabels"))
        self.namespace_labels: dict[str, str] = {
            k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)
        }
        git, path = chart.get("git"), chart.get("path")
        self.chart_git: str | None = git if isinstance(git, str) else None
        self.chart_path: str | None = path if isinstance(path, str) else None
        self.values: dict[str, Any] = _mapping(release.get("values"))
        sources = release.get("valuesFrom")
        self.values_from: list[Any] = sources if isinstance(sources, list) else []


def values_from_namespace_problems(obj: Any, policy: Policy) -> list[tuple[str, str]]:
    """(path, message) for each valuesFrom ConfigMap/Secret reference into a namespace the
    policy does not open. The controller copies what they reference into the EP's namespace,
    so without this rule anyone who may create an EP could read any Secret in the cluster."""
    if not isinstance(obj, dict):
        return []
    metadata = _mapping(obj.get("metadata"))
    own = metadata.get("name")
    allowed = set(policy.values_from_namespaces)
    problems = []
    for index, source in enumerate(_EPView(obj).values_from):
        for key in ("configMapKeyRef", "secretKeyRef"):
            ref = _mapping(_mapping(source).get(key))
            namespace = ref.get("namespace")
            if (
                isinstance(namespace, str)
                and namespace not in (own, "")
                and (namespace not in allowed)
            ):
                opened = ", ".join(sorted(allowed)) or "none"
                problems.append(
                    (
                        f"spec.application.release.valuesFrom[{index}].{key}.namespace",
                        f"{namespace!r} is not open to valuesFrom (policy.valuesFromNamespaces: "
                        f"{opened})",
                    )
                )
    return problems


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _check_name(obj: dict[str, Any], findings: Findings) -> None:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        findings.deny("metadata.name", "required", "an EP needs a name (it names its namespace)")
    elif not DNS1123_LABEL.matches(name):
        findings.deny(
            "metadata.name",
            DNS1123_LABEL.rule,
            f"{name!r} is not {DNS1123_LABEL.explanation} (it names the EP's namespace)",
        )


def _check_placeholders(spec: Any, findings: Findings) -> None:
    for path, text in find_strings(spec, lambda _key, text: "{{" in text, ("spec",)):
        for match in PLACEHOLDER_RE.finditer(text):
            findings.deny(
                field_path(path),
                "unresolved-placeholder",
                f"placeholder {match.group(0)!r} was never substituted",
            )


def _check_image_annotations(metadata: Any, findings: Findings) -> None:
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        return
    for key in (IMAGE_NAME_ANNOTATION, IMAGE_TAG_ANNOTATION):
        value = annotations.get(key)
        if isinstance(value, str) and PLACEHOLDER_RE.search(value):
            findings.deny(
                field_path(["metadata", "annotations", key]),
                "unresolved-placeholder",
                f"{value!r} holds a placeholder; it must be the image built for the PR",
            )


def _check_labels(ep: _EPView, findings: Findings) -> None:
    for key, value in ep.namespace_labels.items():
        path = field_path(["spec", "namespaceLabels", key])
        problem = label_key_problem(key)
        if problem:
            findings.deny(path, "label-key", f"{key!r} is not a valid label key: {problem}")
        if not LABEL_VALUE.matches(value) and not PLACEHOLDER_RE.search(value):
            findings.deny(path, LABEL_VALUE.rule, f"{value!r} is not {LABEL_VALUE.explanation}")


def _check_chart(ep: _EPView, policy: Policy, findings: Findings) -> None:
    url = ep.chart_git
    if url is not None and not PLACEHOLDER_RE.search(url):
        if parse_git_url(url) is None:
            hint = ""
            if url.startswith("http://"):
                hint = " (plain http is not allowed)"
            elif url.startswith("https://") and "@" in url.split("/")[2]:
                hint = " (credentials in the URL are not allowed; use chart.secretRef)"
            findings.deny(CHART_GIT, "chart-url", f"{url!r} is not {URL_EXPECTATION}{hint}")
        elif policy.allowed_chart_git_prefixes and not any(
            url.startswith(prefix) for prefix in policy.allowed_chart_git_prefixes
        ):
            allowed = ", ".join(policy.allowed_chart_git_prefixes)
            findings.deny(
                CHART_GIT,
                "chart-url-allowed",
                f"{url!r} is outside the allowed chart sources ({allowed})",
                Severity.POLICY,
            )
    path = ep.chart_path
    if path is not None and (path.startswith("/") or ".." in path.split("/")):
        findings.deny(
            "spec.application.release.chart.path",
            "chart-path",
            f"{path!r} must be a path inside the repository (relative, without '..')",
        )


def _check_tenant(ep: _EPView, policy: Policy, findings: Findings) -> None:
    key = policy.tenant.label_key
    tenant = ep.namespace_labels.get(key)
    path = field_path(["spec", "namespaceLabels", key])
    if tenant is None:
        if policy.tenant.required:
            findings.deny(
                path, "tenant-required", f"the tenant label {key!r} is required", Severity.POLICY
            )
        return
    if policy.tenant.allowed_values and tenant not in policy.tenant.allowed_values:
        allowed = ", ".join(policy.tenant.allowed_values)
        findings.deny(
            path,
            "tenant-allowed",
            f"tenant {tenant!r} is not one of the allowed tenants ({allowed})",
            Severity.POLICY,
        )


def _mutable_tag(key: Any, text: str) -> bool:
    return (key == "tag" and text == "latest") or (key in IMAGE_KEYS and text.endswith(":latest"))


def _warn_mutable_tags(ep: _EPView, findings: Findings) -> None:
    for path, _text in find_strings(ep.values, _mutable_tag):
        where = field_path(["spec", "application", "release", "values", *path])
        findings.warn(where, "tag 'latest' is mutable; a new push will not redeploy")
    for index, source in enumerate(ep.values_from):
        if isinstance(source, dict) and source.get("externalSourceRef") is not None:
            findings.warn(
                f"spec.application.release.valuesFrom[{index}]",
                "externalSourceRef works only with the legacy helm.fluxcd.io/v1 release",
            )


def _check_immutable(ep: _EPView, before: _EPView, policy: Policy, findings: Findings) -> None:
    if before.chart_git is not None and before.chart_git != ep.chart_git:
        findings.deny(
            CHART_GIT,
            "immutable-chart-url",
            f"may not change after creation (was {before.chart_git!r}); "
            "create a new EnvironmentProvisioner instead",
            Severity.POLICY,
        )
    key = policy.tenant.label_key
    was, now = before.namespace_labels.get(key), ep.namespace_labels.get(key)
    if was is not None and was != now:
        field = field_path(["spec", "namespaceLabels", key])
        findings.deny(
            field,
            "immutable-tenant",
            f"the tenant may not change after creation (was {was!r})",
            Severity.POLICY,
        )
