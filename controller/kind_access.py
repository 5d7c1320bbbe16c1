"""Why a kind named by the TronadorConfig's `secrets` cannot be used yet, and what the admin
must do about it (pure)."""

from __future__ import annotations

from kube.resources import Resource

KIND_NOT_SERVED = "KindNotServed"
KIND_FORBIDDEN = "KindForbidden"
KIND_NOT_SYNCED = "KindNotSynced"

AGGREGATION_LABEL = 'tronador.stakater.com/aggregate-to-controller: "true"'
WRITE_VERBS = "[get, list, watch, create, patch, delete]"
"""What the controller does to a secrets kind: watch it, server-side apply (an apply that creates
needs `create`), delete."""


def rbac_rule(resource: Resource) -> str:
    """The ClusterRole rule the controller needs on `resource`, in YAML flow style."""
    group = resource.group or '""'
    return f"{{apiGroups: [{group}], resources: [{resource.plural}], verbs: {WRITE_VERBS}}}"


def unavailable_reason(status: int) -> str | None:
    """The condition reason for a first list that failed with HTTP `status`, if the kind is
    unusable as such (not served, not permitted) rather than briefly unreachable."""
    return {404: KIND_NOT_SERVED, 403: KIND_FORBIDDEN}.get(status)


def what_to_do(resource: Resource, reason: str) -> str:
    """One sentence for the admin: what is wrong with `resource` and how to mend it."""
    if reason == KIND_NOT_SERVED:
        return (
            f"{resource} is not served by the cluster: install its CustomResourceDefinition, or "
            f"remove the item from the TronadorConfig's secrets"
        )
    if reason == KIND_FORBIDDEN:
        return (
            f"the controller may not list/watch {resource}: grant it in a ClusterRole labelled "
            f"{AGGREGATION_LABEL} with the rule {rbac_rule(resource)}"
        )
    return f"the cache of {resource} has not synced yet"


def secrets_message(problems: list[tuple[Resource, str, str]]) -> str:
    """SecretsReady's message for items whose kind is unusable: (kind, item name, reason)."""
    parts = [
        f"cannot create {resource.kind} '{name}': {what_to_do(resource, reason)}"
        for resource, name, reason in problems
    ]
    return "; ".join(parts) + "; retried until it can"
