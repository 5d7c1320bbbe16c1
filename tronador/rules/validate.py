"""Validating an EP or an Environment against its schema, its formats and the cluster's policy.

One set of rules serves both kinds: each reads the kind's `SpecView`, so a rule has the same
name and message for either. All problems are collected, not just the first, and each names its
field path and its rule.
"""

from __future__ import annotations

from typing import Any

from tronador.api import Policy
from tronador.api.constants import (
    IMAGE_NAME_ANNOTATION,
    IMAGE_TAG_ANNOTATION,
    KEEP_ANNOTATION,
    TTL_ANNOTATION,
)
from tronador.api.environment import CONFINED_RELEASE_FIELDS, DROPPED_GIT_REPOSITORY_FIELDS
from tronador.api.formats import DNS1123_LABEL, LABEL_VALUE, PLACEHOLDER_RE, label_key_problem
from tronador.rules.expiry import NEVER_VALUES, keeps
from tronador.rules.findings import Findings, Severity, field_path, parse_model
from tronador.rules.giturl import URL_EXPECTATION, parse_git_url, url_has_prefix
from tronador.rules.images import IMAGE_KEYS
from tronador.rules.kinds import (
    ENVIRONMENT_SHAPE,
    EP_SHAPE,
    GIT_REF_FIELDS,
    GIT_REPOSITORY,
    RELEASE,
    KindShape,
    SpecView,
    dig,
    mapping,
)
from tronador.rules.label_policy import label_problems
from tronador.rules.leaves import Interest, find_strings
from tronador.rules.urls import http_url_has_prefix, shown_url

NAMESPACE_LABELS = "spec.namespaceLabels"


def validate_environment_provisioner(obj: Any, policy: Policy, old: Any = None) -> Findings:
    """Check an EP on create (`old` is None) or update (`old` is the stored object).

    The schema check and the rule checks run independently, so an unknown field and a bad URL
    in the same object are both reported.
    """
    return _validate(EP_SHAPE, obj, policy, old)


def validate_environment(obj: Any, policy: Policy, old: Any = None) -> Findings:
    """Check an Environment: every EP rule, plus the rules of its Flux passthrough specs."""
    findings = _validate(ENVIRONMENT_SHAPE, obj, policy, old)
    if isinstance(obj, dict):
        _check_git_repository(obj, findings)
        _check_release_scope(obj, findings)
        _check_release_passthrough(obj, policy, findings)
    return findings


def _validate(shape: KindShape, obj: Any, policy: Policy, old: Any) -> Findings:
    findings = Findings()
    parse_model(shape.model, obj, findings)
    if not isinstance(obj, dict):
        return findings
    view = SpecView(obj, shape)
    spec = obj.get("spec")
    strings_to_check = SPEC_CANDIDATES.may_hold(spec)
    _check_name(view, findings)
    if strings_to_check:
        _check_placeholders(spec, findings)
    _check_image_annotations(obj.get("metadata"), findings)
    _check_keep(obj.get("metadata"), policy, findings)
    _check_labels(view, findings)
    for problem in label_problems(view.namespace_labels, policy):
        findings.deny(_label_path(problem.key), problem.rule, problem.message, Severity.POLICY)
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
    for path, message in _values_from_namespace_problems(view, policy):
        findings.deny(path, "values-from-namespace", message, Severity.POLICY)
    _check_external_sources(view, policy, findings)
    _warn_mutable_tags(view, findings, strings_to_check)
    if isinstance(old, dict):
        _check_immutable(view, SpecView(old, shape), policy, findings)
    return findings


def _values_from_namespace_problems(view: SpecView, policy: Policy) -> list[tuple[str, str]]:
    """(path, message) for each valuesFrom ConfigMap/Secret reference into a namespace the
    policy does not open. The controller copies what they reference into the environment's
    namespace, so without this rule anyone who may create an EP or Environment could read any
    Secret in the cluster."""
    allowed = set(policy.values_from_namespaces)
    problems = []
    for index, source in enumerate(view.values_from):
        for key in ("configMapKeyRef", "secretKeyRef"):
            ref = mapping(mapping(source).get(key))
            namespace = ref.get("namespace")
            if (
                isinstance(namespace, str)
                and namespace not in (view.name, "")
                and (namespace not in allowed)
            ):
                opened = ", ".join(sorted(allowed)) or "none"
                problems.append(
                    (
                        field_path((*RELEASE, "valuesFrom", index, key, "namespace")),
                        f"{namespace!r} is not open to valuesFrom (policy.valuesFromNamespaces: "
                        f"{opened})",
                    )
                )
    return problems


def _check_external_sources(view: SpecView, policy: Policy, findings: Findings) -> None:
    """An externalSourceRef makes the Helm Operator fetch a URL from inside the cluster: only
    the URLs the admin listed (policy.release.externalSourceURLPrefixes)."""
    prefixes = policy.release.external_source_prefixes
    for index, source in enumerate(view.values_from):
        ref = mapping(mapping(source).get("externalSourceRef"))
        url = ref.get("url")
        if not isinstance(url, str) or any(http_url_has_prefix(url, p) for p in prefixes):
            continue
        listed = ", ".join(prefixes) or "none"
        findings.deny(
            field_path((*RELEASE, "valuesFrom", index, "externalSourceRef", "url")),
            "external-source-allowed",
            f"{url[:200]!r} is not under a URL the cluster's policy lists "
            f"(policy.release.externalSourceURLPrefixes: {listed})",
            Severity.POLICY,
        )


def _check_name(view: SpecView, findings: Findings) -> None:
    noun = view.shape.noun
    name = view.name
    if not name:
        findings.deny(
            "metadata.name", "required", f"an {noun} needs a name (it names its namespace)"
        )
    elif not DNS1123_LABEL.matches(name):
        findings.deny(
            "metadata.name",
            DNS1123_LABEL.rule,
            f"{name!r} is not {DNS1123_LABEL.explanation} (it names the {noun}'s namespace)",
        )


PLACEHOLDER_CANDIDATES = Interest(substrings=("{{",))
MUTABLE_TAG_CANDIDATES = Interest(substrings=("latest",))
SPEC_CANDIDATES = Interest(substrings=("{{", "latest"))
"""Either scan of the spec's strings: one serialization of a spec that holds neither skips both
(the values tree is inside the spec)."""


def _has_braces(_key: object, text: str) -> bool:
    return "{{" in text


def _check_placeholders(spec: Any, findings: Findings) -> None:
    for path, text in find_strings(spec, PLACEHOLDER_CANDIDATES, _has_braces, ("spec",)):
        for match in PLACEHOLDER_RE.finditer(text):
            if findings.full:
                findings.truncated = True
                return
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


def _check_keep(metadata: Any, policy: Policy, findings: Findings) -> None:
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        return
    keep = annotations.get(KEEP_ANNOTATION)
    path = field_path(["metadata", "annotations", KEEP_ANNOTATION])
    if keep is not None and (not isinstance(keep, str) or keep.lower() not in ("true", "false")):
        findings.deny(path, "keep-annotation", f"{str(keep)[:40]!r} is not 'true' or 'false'")
    ttl = annotations.get(TTL_ANNOTATION)
    never = isinstance(ttl, str) and ttl.strip().lower() in NEVER_VALUES
    if not policy.allow_keep and (keeps(annotations) or never):
        where = (
            path if keeps(annotations) else field_path(["metadata", "annotations", TTL_ANNOTATION])
        )
        findings.deny(
            where,
            "keep-not-allowed",
            "the cluster's policy does not let environments outlive defaultTTL "
            "(policy.allowKeep is false)",
            Severity.POLICY,
        )


def _check_labels(view: SpecView, findings: Findings) -> None:
    for key, value in view.namespace_labels.items():
        problem = label_key_problem(key)
        if problem:
            findings.deny(
                _label_path(key), "label-key", f"{key!r} is not a valid label key: {problem}"
            )
        if not LABEL_VALUE.matches(value) and not PLACEHOLDER_RE.search(value):
            findings.deny(
                _label_path(key), LABEL_VALUE.rule, f"{value!r} is not {LABEL_VALUE.explanation}"
            )


def _label_path(key: str) -> str:
    return field_path(("spec", "namespaceLabels", key))


def _check_chart(view: SpecView, policy: Policy, findings: Findings) -> None:
    url = view.chart_url
    if url is not None and not PLACEHOLDER_RE.search(url):
        if parse_git_url(url) is None:
            hint = ""
            if url.startswith("http://"):
                hint = " (plain http is not allowed)"
            elif url.startswith("https://") and "@" in url.split("/")[2]:
                hint = " (credentials in the URL are not allowed; use chart.secretRef)"
            findings.deny(
                field_path(view.shape.chart_url),
                "chart-url",
                f"{shown_url(url)} is not {URL_EXPECTATION}{hint}",
            )
        elif policy.allowed_chart_git_prefixes and not any(
            url_has_prefix(url, prefix) for prefix in policy.allowed_chart_git_prefixes
        ):
            allowed = ", ".join(policy.allowed_chart_git_prefixes)
            findings.deny(
                field_path(view.shape.chart_url),
                "chart-url-allowed",
                f"{url!r} is outside the allowed chart sources ({allowed})",
                Severity.POLICY,
            )
    path = view.chart_path
    if path is not None and "://" in path:
        findings.deny(
            field_path(view.shape.chart_path),
            "chart-path",
            f"{shown_url(path)} is a URL; the chart's path is a directory inside the repository "
            "(the repository is the chart's git URL)",
        )
    elif path is not None and (path.startswith("/") or ".." in path.split("/")):
        findings.deny(
            field_path(view.shape.chart_path),
            "chart-path",
            f"{path[:300]!r} must be a path inside the repository (relative, without '..')",
        )


def _check_tenant(view: SpecView, policy: Policy, findings: Findings) -> None:
    key = policy.tenant.label_key
    tenant = view.namespace_labels.get(key)
    if tenant is None:
        if policy.tenant.required:
            findings.deny(
                _label_path(key),
                "tenant-required",
                f"the tenant label {key!r} is required",
                Severity.POLICY,
            )
        return
    if policy.tenant.allowed_values and tenant not in policy.tenant.allowed_values:
        allowed = ", ".join(policy.tenant.allowed_values)
        findings.deny(
            _label_path(key),
            "tenant-allowed",
            f"tenant {tenant!r} is not one of the allowed tenants ({allowed})",
            Severity.POLICY,
        )


def _mutable_tag(key: Any, text: str) -> bool:
    return (key == "tag" and text == "latest") or (key in IMAGE_KEYS and text.endswith(":latest"))


def _warn_mutable_tags(view: SpecView, findings: Findings, scan_values: bool) -> None:
    tags = find_strings(view.values, MUTABLE_TAG_CANDIDATES, _mutable_tag) if scan_values else []
    for path, _text in tags:
        where = field_path([*RELEASE, "values", *path])
        findings.warn(where, "tag 'latest' is mutable; a new push will not redeploy")
    for index, source in enumerate(view.values_from):
        if isinstance(source, dict) and source.get("externalSourceRef") is not None:
            findings.warn(
                field_path((*RELEASE, "valuesFrom", index)),
                "externalSourceRef works only with the legacy helm.fluxcd.io/v1 release",
            )


def _check_immutable(view: SpecView, before: SpecView, policy: Policy, findings: Findings) -> None:
    if before.chart_url is not None and before.chart_url != view.chart_url:
        findings.deny(
            field_path(view.shape.chart_url),
            "immutable-chart-url",
            f"may not change after creation (was {before.chart_url!r}); "
            f"create a new {view.shape.kind} instead",
            Severity.POLICY,
        )
    key = policy.tenant.label_key
    was, now = before.namespace_labels.get(key), view.namespace_labels.get(key)
    if was is not None and was != now:
        field = field_path(["spec", "namespaceLabels", key])
        findings.deny(
            field,
            "immutable-tenant",
            f"the tenant may not change after creation (was {was!r})",
            Severity.POLICY,
        )


def _check_git_repository(obj: dict[str, Any], findings: Findings) -> None:
    git = mapping(dig(obj, GIT_REPOSITORY))
    if not git:
        return
    ref = git.get("ref")
    if not any(isinstance(v, str) and v for k, v in mapping(ref).items() if k in GIT_REF_FIELDS):
        findings.deny(
            field_path((*GIT_REPOSITORY, "ref")),
            "git-ref",
            "needs one of " + ", ".join(GIT_REF_FIELDS[:-1]) + f" or {GIT_REF_FIELDS[-1]}",
        )
    for dropped in DROPPED_GIT_REPOSITORY_FIELDS:
        if dropped in git:
            findings.warn(
                field_path((*GIT_REPOSITORY, dropped)),
                "source.toolkit.fluxcd.io/v1 no longer has this field; it is dropped, not passed "
                "to Flux",
            )


def _check_release_passthrough(obj: dict[str, Any], policy: Policy, findings: Findings) -> None:
    """dependsOn may only name releases of the same environment; postRenderers (which rewrite
    every rendered manifest) only where the admin allows them."""
    own = mapping(obj.get("metadata")).get("name")
    release = mapping(dig(obj, RELEASE))
    depends_on = release.get("dependsOn")
    for index, item in enumerate(depends_on if isinstance(depends_on, list) else []):
        namespace = mapping(item).get("namespace")
        if isinstance(namespace, str) and namespace and namespace != own:
            findings.deny(
                field_path((*RELEASE, "dependsOn", index, "namespace")),
                "depends-on-namespace",
                f"{namespace!r} is another namespace; a release may depend only on releases in "
                f"its environment's own namespace ({own!r})",
                Severity.POLICY,
            )
    if release.get("postRenderers") and not policy.release.allow_post_renderers:
        findings.deny(
            field_path((*RELEASE, "postRenderers")),
            "post-renderers",
            "not allowed by the cluster's policy (policy.release.allowPostRenderers)",
            Severity.POLICY,
        )


def _check_release_scope(obj: dict[str, Any], findings: Findings) -> None:
    """The release and its chart's source stay in the environment's own namespace."""
    own = mapping(obj.get("metadata")).get("name")
    source_path = (*RELEASE, "chart", "spec", "sourceRef", "namespace")
    namespace = dig(obj, source_path)
    if isinstance(namespace, str) and namespace and namespace != own:
        findings.deny(
            field_path(source_path),
            "source-namespace",
            f"{namespace!r} is another namespace; the chart's GitRepository is created in the "
            f"environment's own namespace ({own!r})",
        )
    release = mapping(dig(obj, RELEASE))
    for key in CONFINED_RELEASE_FIELDS:
        value = release.get(key)
        if value is None or (key.endswith("Namespace") and value == own):
            continue
        findings.deny(
            field_path((*RELEASE, key)),
            "release-confined",
            "a release stays in its environment's namespace, this cluster and the "
            "controller's account; remove this field",
            Severity.POLICY,
        )
