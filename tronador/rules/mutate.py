"""Defaulting an EP or an Environment (the same defaults for both). Works on the wire object
so it can emit exact JSON Patch operations, and so it never fails: whatever it cannot understand
it leaves to validation to reject.

Every operation is conditional on the object not already being in the wanted state, which makes
the patch idempotent: mutating the result again gives no operations (safe under reinvocation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tronador.api import Policy
from tronador.api.constants import (
    FINALIZER,
    IMAGE_NAME_ANNOTATION,
    IMAGE_TAG_ANNOTATION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
)
from tronador.api.environment import DROPPED_GIT_REPOSITORY_FIELDS
from tronador.api.formats import PLACEHOLDER_RE
from tronador.rules import jsonpatch_ops as ops
from tronador.rules.images import IMAGE_KEYS, rewrite_registry, substitute_placeholders
from tronador.rules.kinds import (
    ENVIRONMENT_SHAPE,
    EP_SHAPE,
    GIT_REPOSITORY,
    RELEASE,
    KindShape,
    dig,
    ref_text,
)
from tronador.rules.leaves import Interest, Key, transform_strings
from tronador.rules.names import dns_label

RELEASE_NAME_MAX = 53


def default_release_name(ref: str) -> str:
    return dns_label(ref, RELEASE_NAME_MAX)


def _dict(node: Any, key: str) -> dict[str, Any] | None:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, dict) else None


def _merge_labels(
    path: tuple[str, ...], current: Any, wanted: dict[str, str]
) -> list[ops.Operation]:
    if not wanted:
        return []
    if current is None:
        return [ops.add(path, dict(wanted))]
    if not isinstance(current, dict):
        return []
    return [ops.add((*path, k), v) for k, v in wanted.items() if current.get(k) != v]


@dataclass
class Mutation:
    patch: list[ops.Operation]
    warnings: list[str] = field(default_factory=list)


def mutate_environment_provisioner(
    obj: dict[str, Any], policy: Policy, *, finalizer: bool = True
) -> list[ops.Operation]:
    """The JSON Patch that fills defaults, labels the EP and fixes image references; with
    `finalizer`, adds the controller's cleanup finalizer too (admission does; the policy audit,
    which reports the policy's pending defaults, does not)."""
    return _mutate(EP_SHAPE, obj, policy, finalizer)


def mutate_environment(obj: dict[str, Any], policy: Policy, *, finalizer: bool = True) -> Mutation:
    """The EP's defaults for an Environment, and the Flux fields v1 no longer has dropped (each
    with a warning for the admission response)."""
    mutation = Mutation(_mutate(ENVIRONMENT_SHAPE, obj, policy, finalizer))
    git = dig(obj, GIT_REPOSITORY)
    if isinstance(git, dict):
        for name in DROPPED_GIT_REPOSITORY_FIELDS:
            if name in git:
                mutation.patch.append(ops.remove((*GIT_REPOSITORY, name)))
                mutation.warnings.append(
                    f"spec.application.gitRepository.{name}: "
                    "source.toolkit.fluxcd.io/v1 no longer has this field; it was dropped"
                )
    return mutation


def _mutate(
    shape: KindShape, obj: dict[str, Any], policy: Policy, finalizer: bool
) -> list[ops.Operation]:
    patch: list[ops.Operation] = []
    metadata = _dict(obj, "metadata") or {}
    spec = _dict(obj, "spec")

    namespace_labels: dict[str, Any] = {}
    if spec is not None:
        current = spec.get("namespaceLabels")
        missing = {
            k: v
            for k, v in policy.default_namespace_labels.items()
            if not isinstance(current, dict) or k not in current
        }
        missing.update(policy.namespace_labels.enforced)  # the admin's win over the EP's
        patch += _merge_labels(("spec", "namespaceLabels"), current, missing)
        if isinstance(current, dict):
            namespace_labels = {**missing, **current, **policy.namespace_labels.enforced}
        elif current is None:
            namespace_labels = missing

    ep_labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    tenant = namespace_labels.get(policy.tenant.label_key)
    if isinstance(tenant, str) and tenant:
        ep_labels[policy.tenant.label_key] = tenant
    if "metadata" not in obj:
        added: dict[str, Any] = {"labels": ep_labels}
        if finalizer:
            added["finalizers"] = [FINALIZER]
        patch.append(ops.add(("metadata",), added))
    elif isinstance(obj["metadata"], dict):
        patch += _merge_labels(("metadata", "labels"), metadata.get("labels"), ep_labels)
        if finalizer:
            patch += _finalizer_operations(metadata)

    release = _dict(_dict(spec, "application"), "release")
    if release is None:
        return patch
    base = RELEASE
    ref = ref_text(dig(obj, shape.chart_ref))
    if release.get("releaseName") in (None, "") and isinstance(ref, str) and ref:
        patch.append(ops.add((*base, "releaseName"), default_release_name(ref)))

    values = release.get("values")
    if values is None:
        patch.append(ops.add((*base, "values"), {}))
    elif isinstance(values, dict):
        patch += _image_value_operations(base, values, metadata, policy)
    return patch


def _finalizer_operations(metadata: dict[str, Any]) -> list[ops.Operation]:
    """The controller's cleanup finalizer, added at admission so that provisioning a new object
    does not begin with a write of its own (the controller still adds it when missing). Never
    on an object being deleted: the API server refuses new finalizers then, and the controller's
    removal of its own must go through."""
    if metadata.get("deletionTimestamp"):
        return []
    current = metadata.get("finalizers")
    if current is None:
        return [ops.add(("metadata", "finalizers"), [FINALIZER])]
    if not isinstance(current, list) or FINALIZER in current:
        return []
    return [ops.add(("metadata", "finalizers", "-"), FINALIZER)]


_INTERESTS = {
    (rewrites, substitutes): Interest(
        keys=IMAGE_KEYS if rewrites else frozenset(),
        substrings=("{{",) if substitutes else (),
    )
    for rewrites in (False, True)
    for substitutes in (False, True)
}
"""(registry rewrites?, placeholder substitution?) -> the strings the transform may change."""


def _image_value_operations(
    base: tuple[str, ...], values: dict[str, Any], metadata: dict[str, Any], policy: Policy
) -> list[ops.Operation]:
    annotations = metadata.get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    image_name = _string_or_none(annotations.get(IMAGE_NAME_ANNOTATION))
    image_tag = _string_or_none(annotations.get(IMAGE_TAG_ANNOTATION))
    rewrites = policy.image_registry_rewrites

    rewritten: dict[str, str] = {}
    """Per call: the same few images recur across a large values tree's components."""

    def transform(key: Key, text: str) -> str:
        if (image_name or image_tag) and "{{" in text:
            text = substitute_placeholders(text, image_name, image_tag)
        if rewrites and key in IMAGE_KEYS:
            new = rewritten.get(text)
            if new is None:
                new = rewritten[text] = rewrite_registry(text, rewrites)
            text = new
        return text

    if not (image_name or image_tag or rewrites):
        return []
    interest = _INTERESTS[bool(rewrites), bool(image_name or image_tag)]
    return [
        ops.replace((*base, "values", *path), new)
        for path, _old, new in transform_strings(values, interest, transform)
    ]


def _string_or_none(value: Any) -> str | None:
    """A usable annotation value; one still holding a placeholder is ignored (validation denies
    it), else every mutate would substitute it again and the value would grow."""
    if isinstance(value, str) and value and not PLACEHOLDER_RE.search(value):
        return value
    return None
