"""Who may claim a tenant, and how many environments a tenant may hold (pure).

The webhook asks `owner_problem` of every create, update and delete of an EP or Environment,
with the requester from the AdmissionReview's `userInfo`; the controller asks `cap_of` and holds
the cap exactly (docs/security.md, "Tenants").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tronador.api import Policy

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class Requester:
    """Who sent an admission request (`request.userInfo`)."""

    username: str
    groups: tuple[str, ...] = field(default_factory=tuple)

    @property
    def service_account(self) -> str | None:
        """`namespace/name` for a ServiceAccount's token, else None."""
        if not self.username.startswith(SERVICE_ACCOUNT_PREFIX):
            return None
        namespace, _, name = self.username.removeprefix(SERVICE_ACCOUNT_PREFIX).partition(":")
        return f"{namespace}/{name}" if namespace and name else None


def tenant_of(obj: Any, policy: Policy) -> str | None:
    """The tenant an EP or Environment (as stored) claims: its tenant namespace label."""
    spec = obj.get("spec") if isinstance(obj, dict) else None
    labels = spec.get("namespaceLabels") if isinstance(spec, dict) else None
    tenant = labels.get(policy.tenant.label_key) if isinstance(labels, dict) else None
    return tenant if isinstance(tenant, str) and tenant else None


def owns(requester: Requester, tenant: str, policy: Policy) -> bool:
    owners = policy.tenant.owners.get(tenant)
    if owners is None:
        return False
    return (
        requester.username in owners.users
        or any(group in owners.groups for group in requester.groups)
        or (requester.service_account or "") in owners.service_accounts
    )


def exempt(requester: Requester, policy: Policy, controller: str | None) -> bool:
    """Admins (policy.tenant.adminGroups) and the controller itself act for every tenant."""
    return requester.username == controller or any(
        group in policy.tenant.admin_groups for group in requester.groups
    )


def owner_problem(
    requester: Requester, obj: Any, policy: Policy, controller: str | None, verb: str
) -> str | None:
    """Why `requester` may not `verb` (create, update, delete) an environment claiming the
    tenant `obj` names; None when it may. No `policy.tenant.owners`: no tenant is bound."""
    if not policy.tenant.owners or exempt(requester, policy, controller):
        return None
    tenant = tenant_of(obj, policy)
    who = requester.username or "an anonymous user"
    if tenant is None:
        return (
            f"{who} may not {verb} an environment without the tenant label "
            f"{policy.tenant.label_key!r}: tenants are bound to their owners "
            "(policy.tenant.owners)"
        )
    if owns(requester, tenant, policy):
        return None
    return (
        f"{who} (groups: {', '.join(requester.groups) or 'none'}) may not {verb} an environment "
        f"of tenant {tenant!r}: not among its owners (policy.tenant.owners)"
    )


def cap_of(tenant: str | None, policy: Policy) -> int | None:
    """How many live environments `tenant` may hold (None: no cap)."""
    caps = policy.tenant.max_environments
    if tenant is not None and tenant in caps.per_tenant:
        return caps.per_tenant[tenant]
    return caps.default
