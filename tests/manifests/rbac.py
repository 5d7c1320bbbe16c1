"""What each ServiceAccount is granted (from the rendered RBAC) against what the code its pods
run needs (from `apicalls`), and who may read the TronadorConfig."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

from tests.manifests.apicalls import (
    CallSite,
    Permission,
    import_closure,
    scan_kube_calls,
    scan_modules,
)
from tests.manifests.checks import invocations
from tests.manifests.recorded import Request, Site, controller_scenarios, webhook_scenarios
from tests.manifests.render import Obj, describe, meta, name_of, namespace_of, of_kind

Account = tuple[str, str]
"""(namespace, ServiceAccount name)."""

AGGREGATE_TO_PREFIX = "rbac.authorization.k8s.io/aggregate-to-"
RESOURCE_NAMES_NEVER_MATCH = ("create", "deletecollection")
"""Verbs whose requests carry no object name for resourceNames to match."""

# Subcommands whose code lives in one module tree; `tronador.cli` runs in front of every one.
CLI_MODULE = "tronador.cli"


@dataclass(frozen=True)
class Grant:
    permission: Permission
    role: str
    """`Role ns/name` or `ClusterRole name`, for messages."""
    namespace: str
    """Where it applies; "" for cluster-wide."""
    resource_names: tuple[str, ...] = ()


@dataclass
class Needs:
    """What one ServiceAccount's pods call."""

    calls: list[CallSite] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    workloads: set[str] = field(default_factory=set)

    @property
    def permissions(self) -> set[Permission]:
        return {c.permission for c in self.calls}


def component_modules(command: str) -> list[str]:
    """The modules `tronador <command>` can run."""
    from tronador.cli import COMPONENT_COMMANDS

    entries = [CLI_MODULE]
    if command in COMPONENT_COMMANDS:
        entries.append(COMPONENT_COMMANDS[command][0])
    return import_closure(entries)


SCENARIOS: dict[str, Callable[[], tuple[set[Request], set[Site]]]] = {
    "controller": controller_scenarios,
    "webhook": webhook_scenarios,
}
"""Commands whose API calls are partly dynamic, and the runs that exercise them."""


@cache
def needs_of_command(command: str) -> Needs:
    """The permissions `tronador <command>` uses:

    - every kubernetes client call, resolved statically (`apicalls.scan_modules`);
    - every `Kube` call with a constant resource (`apicalls.scan_kube_calls`);
    - for `Kube` calls with a variable resource: the requests recorded while a scenario ran
      the command against the emulated API server; each such call site must have run. A
      variable-resource `get` (re-reading after a conflict, reading a valuesFrom source) may
      read any kind the command caches, so it needs `get` on every kind it lists.
    """
    modules = component_modules(command)
    scan = scan_modules(modules)
    kube = scan_kube_calls(modules)
    needs = Needs(calls=[*scan.calls, *kube.calls], problems=list(scan.problems))
    if not kube.dynamic:
        return needs
    if command not in SCENARIOS:
        needs.problems += [
            f"{site}: a variable resource, and no scenario runs it" for site in kube.dynamic
        ]
        return needs
    try:
        requests, ran = SCENARIOS[command]()
    except Exception as exc:  # a scenario that no longer runs through: say so, once
        needs.problems.append(f"the {command} scenario failed: {type(exc).__name__}: {exc}")
        return needs
    ran_sites = {(s.module, s.function, s.method) for s in ran}
    for site in sorted(set(kube.dynamic)):
        if site.method != "get" and (site.module, site.function, site.method) not in ran_sites:
            needs.problems.append(f"{site}: a variable resource, and no scenario ran it")
    needs.calls += [CallSite("(run)", 0, f"{r.namespace}/{r.name}", r.permission) for r in requests]
    listed = {c.permission for c in needs.calls if c.permission.verb == "list"}
    if any(site.method == "get" for site in kube.dynamic):
        needs.calls += [
            CallSite("(a variable-resource get)", 0, "get", Permission(p.group, p.resource, "get"))
            for p in listed
        ]
    needs.calls += [
        CallSite("(a RoleBinding written)", 0, f"{r.namespace}/{r.name}", BIND_CLUSTER_ROLES)
        for r in requests
        if r.permission.resource == "rolebindings" and r.permission.verb in ("create", "patch")
    ]
    return needs


BIND_CLUSTER_ROLES = Permission("rbac.authorization.k8s.io", "clusterroles", "bind")
"""What writing a RoleBinding needs besides the write: RBAC's escalation check lets only an
account holding the role's rules, or `bind` on it, name it in a roleRef."""


def needs_by_account(objects: list[Obj]) -> dict[Account, Needs]:
    """Every ServiceAccount a workload runs as -> the API calls of the commands its containers
    run (derived from each container's `tronador` arguments)."""
    out: dict[Account, Needs] = {}
    for invocation in invocations(objects):
        spec = (invocation.workload["spec"].get("template") or {}).get("spec") or {}
        account = (namespace_of(invocation.workload), spec.get("serviceAccountName") or "default")
        needs = out.setdefault(account, Needs())
        needs.workloads.add(describe(invocation.workload))
        if invocation.args is None:
            needs.problems.append(f"{invocation.where}: cannot tell what it runs")
            continue
        command = needs_of_command(invocation.command)
        needs.calls += command.calls
        needs.problems += [p for p in command.problems if p not in needs.problems]
    return out


def authorized(grants: list[Grant], request: Request) -> bool:
    """Whether RBAC allows `request` with these grants (namespace scope and resourceNames)."""
    return any(
        g.permission == request.permission
        and (not g.namespace or g.namespace == request.namespace)
        and (not g.resource_names or request.name in g.resource_names)
        for g in grants
    )


def unauthorized(objects: list[Obj], account: Account, requests: set[Request]) -> list[str]:
    grants = grants_by_account(objects).get(account, [])
    return [
        f"{account[0]}/{account[1]} may not {r.permission} "
        f"(namespace {r.namespace or '-'}, name {r.name or '-'})"
        for r in sorted(requests)
        if not authorized(grants, r)
    ]


def _rules(role: Obj, cluster_roles: list[Obj]) -> list[Obj]:
    """A role's rules; for an aggregated ClusterRole, those of the ClusterRoles it selects."""
    aggregation = role.get("aggregationRule")
    if not aggregation:
        return list(role.get("rules") or [])
    rules = []
    for selector in aggregation.get("clusterRoleSelectors") or []:
        wanted = selector.get("matchLabels") or {}
        for other in cluster_roles:
            labels = meta(other).get("labels") or {}
            if other is not role and wanted and all(labels.get(k) == v for k, v in wanted.items()):
                rules += other.get("rules") or []
    return rules


def _expand(rule: Obj) -> Iterable[Permission]:
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in rule.get("verbs") or []:
                yield Permission(group, resource, verb)


def grants_by_account(objects: list[Obj]) -> dict[Account, list[Grant]]:
    cluster_roles = of_kind(objects, "ClusterRole")
    roles = {(namespace_of(r), name_of(r)): r for r in of_kind(objects, "Role")}
    by_name = {name_of(r): r for r in cluster_roles}
    out: dict[Account, list[Grant]] = {}
    for binding in of_kind(objects, "RoleBinding") + of_kind(objects, "ClusterRoleBinding"):
        ref = binding.get("roleRef") or {}
        scope = namespace_of(binding) if binding["kind"] == "RoleBinding" else ""
        if ref.get("kind") == "Role":
            role = roles.get((namespace_of(binding), ref.get("name")))
            label = f"Role {namespace_of(binding)}/{ref.get('name')}"
        else:
            role = by_name.get(ref.get("name", ""))
            label = f"ClusterRole {ref.get('name')}"
        if role is None:
            continue
        grants = [
            Grant(p, label, scope, tuple(rule.get("resourceNames") or []))
            for rule in _rules(role, cluster_roles)
            for p in _expand(rule)
        ]
        for subject in binding.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                account = (subject.get("namespace", scope), subject.get("name", ""))
                out.setdefault(account, []).extend(grants)
    return out


def rbac_problems(objects: list[Obj], needs: dict[Account, Needs]) -> list[str]:
    """Each ServiceAccount is granted exactly the (group, resource, verb) its code uses."""
    problems = []
    grants = grants_by_account(objects)
    for account in sorted(set(needs) | set(grants)):
        who = f"ServiceAccount {account[0]}/{account[1]}"
        need = needs.get(account, Needs())
        problems += [f"{who}: {p}" for p in need.problems]
        granted = {g.permission for g in grants.get(account, [])}
        used_at: dict[Permission, list[str]] = {}
        for call in need.calls:
            used_at.setdefault(call.permission, []).append(f"{call.module}:{call.line}")
        for permission in sorted(need.permissions - granted):
            problems.append(
                f"{who} lacks `{permission}`, used at {', '.join(sorted(used_at[permission]))}"
            )
        for grant in sorted(
            (g for g in grants.get(account, []) if g.permission not in need.permissions),
            key=lambda g: g.permission,
        ):
            problems.append(
                f"{who} is granted `{grant.permission}` by {grant.role}, which no code it runs uses"
            )
    return problems


def rule_problems(objects: list[Obj]) -> list[str]:
    """No wildcards, no resourceNames on verbs they can never match, bindings resolve, and
    every bound ServiceAccount exists."""
    problems = []
    for role in of_kind(objects, "Role") + of_kind(objects, "ClusterRole"):
        for rule in role.get("rules") or []:
            for key in ("apiGroups", "resources", "verbs"):
                if "*" in (rule.get(key) or []):
                    problems.append(f"{describe(role)}: a wildcard in {key}")
            if rule.get("resourceNames"):
                for verb in RESOURCE_NAMES_NEVER_MATCH:
                    if verb in (rule.get("verbs") or []):
                        problems.append(f"{describe(role)}: resourceNames never match `{verb}`")
            if rule.get("nonResourceURLs"):
                problems.append(f"{describe(role)}: grants nonResourceURLs")
    accounts = {(namespace_of(a), name_of(a)) for a in of_kind(objects, "ServiceAccount")}
    roles = {(namespace_of(r), name_of(r)) for r in of_kind(objects, "Role")}
    cluster_roles = {name_of(r) for r in of_kind(objects, "ClusterRole")}
    for binding in of_kind(objects, "RoleBinding") + of_kind(objects, "ClusterRoleBinding"):
        ref = binding.get("roleRef") or {}
        if ref.get("kind") == "Role" and (namespace_of(binding), ref.get("name")) not in roles:
            problems.append(f"{describe(binding)}: Role {ref.get('name')} not found")
        if ref.get("kind") == "ClusterRole" and ref.get("name") not in cluster_roles:
            problems.append(f"{describe(binding)}: ClusterRole {ref.get('name')} not found")
        for subject in binding.get("subjects") or []:
            key = (subject.get("namespace", namespace_of(binding)), subject.get("name"))
            if subject.get("kind") == "ServiceAccount" and key not in accounts:
                problems.append(f"{describe(binding)}: ServiceAccount {key[0]}/{key[1]} not found")
    for account in sorted(needs_accounts(objects) - accounts):
        problems.append(f"workloads run as ServiceAccount {account[0]}/{account[1]}, not found")
    return problems


def needs_accounts(objects: list[Obj]) -> set[Account]:
    out = set()
    for workload in objects:
        spec = ((workload.get("spec") or {}).get("template") or {}).get("spec")
        if isinstance(spec, dict) and "containers" in spec:
            out.add((namespace_of(workload), spec.get("serviceAccountName") or "default"))
    return out


def _grants_read(rule: Obj, group: str, plural: str) -> bool:
    return (
        bool({group, "*"} & set(rule.get("apiGroups") or []))
        and bool({plural, "*"} & set(rule.get("resources") or []))
        and bool({"get", "list", "watch", "*"} & set(rule.get("verbs") or []))
    )


def secret_config_problems(
    objects: list[Obj], group: str, plural: str, readers: set[Account]
) -> list[str]:
    """The TronadorConfig may embed secret data: no role that can read it is aggregated into
    the built-in view/edit/admin roles, and only `readers` are bound to such roles."""
    problems = []
    cluster_roles = of_kind(objects, "ClusterRole")
    for role in of_kind(objects, "Role") + cluster_roles:
        rules = _rules(role, cluster_roles) if role["kind"] == "ClusterRole" else role.get("rules")
        if not any(_grants_read(rule, group, plural) for rule in rules or []):
            continue
        for label in meta(role).get("labels") or {}:
            if label.startswith(AGGREGATE_TO_PREFIX):
                problems.append(f"{describe(role)}: reads {plural} and carries {label}")
        for binding in of_kind(objects, "RoleBinding") + of_kind(objects, "ClusterRoleBinding"):
            ref = binding.get("roleRef") or {}
            if ref.get("kind") != role["kind"] or ref.get("name") != name_of(role):
                continue
            if role["kind"] == "Role" and namespace_of(binding) != namespace_of(role):
                continue
            for subject in binding.get("subjects") or []:
                account = (subject.get("namespace", namespace_of(binding)), subject.get("name"))
                if subject.get("kind") != "ServiceAccount" or account not in readers:
                    problems.append(
                        f"{describe(binding)}: lets {subject.get('kind')} "
                        f"{subject.get('name')} read {plural}"
                    )
    return problems
