"""RBAC: each ServiceAccount gets exactly what the code its pods run calls, no more, no less."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator

import pytest

from certs import defaults as certs_defaults
from controller.settings import Settings
from kube.api import Kube
from tests.manifests import apicalls
from tests.manifests.apicalls import KUBE_DISCOVERY, KUBE_VERBS, Permission, permission_for
from tests.manifests.checks import invocations
from tests.manifests.rbac import (
    authorized,
    grants_by_account,
    needs_by_account,
    needs_of_command,
    rbac_problems,
    rule_problems,
    secret_config_problems,
    unauthorized,
)
from tests.manifests.recorded import (
    Request,
    certs_scenario,
    controller_scenarios,
    election_scenario,
    webhook_policy_scenario,
)
from tests.manifests.render import Obj, find, of_kind, webhooks
from tronador.api.constants import CONFIG_NAME, CONFIG_PLURAL, DEFAULT_SYSTEM_NAMESPACE, GROUP

NS = DEFAULT_SYSTEM_NAMESPACE
WEBHOOK = (NS, "tronador-webhook")
CONTROLLER = (NS, "tronador-controller")
CORE_RULES = "tronador-controller-core"


def _rule(objects: list[Obj], kind: str, name: str, resource: str, namespace: str = "") -> Obj:
    role = find(objects, kind, name, namespace)
    assert role is not None, f"{kind} {name} not rendered"
    return next(r for r in role["rules"] if resource in r["resources"])


# --- the scanner --------------------------------------------------------------------------------


@pytest.fixture
def extra_module() -> Iterator[dict[str, str]]:
    """Scan source text as if it were a module of ours."""
    yield apicalls.EXTRA_SOURCES
    apicalls.EXTRA_SOURCES.clear()


def _scan(sources: dict[str, str], source: str) -> apicalls.ScanResult:
    sources["fake.module"] = textwrap.dedent(source)
    return apicalls.scan_module("fake.module")


def test_client_methods_map_to_the_permission_of_their_request() -> None:
    methods = apicalls.client_methods()
    (replace,) = methods["replace_namespaced_secret"]
    assert (replace.http_method, replace.path) == (
        "PUT",
        "/api/v1/namespaces/{namespace}/secrets/{name}",
    )
    assert permission_for("PUT", replace.path, {}, False) == Permission("", "secrets", "update")
    assert permission_for("GET", "/api/v1/namespaces/{name}", {}, False) == Permission(
        "", "namespaces", "get"
    )
    assert permission_for(
        "PATCH",
        "/apis/{group}/{version}/{plural}/{name}/status",
        {"group": "g", "plural": "p"},
        False,
    ) == Permission("g", "p/status", "patch")
    assert permission_for("DELETE", "/api/v1/namespaces/{namespace}/secrets", {}, False) == (
        Permission("", "secrets", "deletecollection")
    )


def test_scanner_resolves_custom_object_arguments_from_constants(
    extra_module: dict[str, str],
) -> None:
    result = _scan(
        extra_module,
        """
        from kubernetes import client, watch
        from tronador.api.constants import GROUP, VERSION, EP_PLURAL
        PLURAL = "tronadorconfigs"

        def run(api: client.CustomObjectsApi) -> None:
            api.patch_cluster_custom_object_status(GROUP, VERSION, EP_PLURAL, "n", {})
            watch.Watch().stream(api.list_namespaced_custom_object, GROUP, VERSION, "ns", PLURAL)
            api.get_namespaced_custom_object(
                group=f"{GROUP}", version=VERSION, namespace="ns", plural=PLURAL, name="x"
            )
        """,
    )
    assert result.problems == []
    assert sorted(str(c.permission) for c in result.calls) == [
        "get tronadorconfigs.tronador.stakater.com",
        "patch environmentprovisioners/status.tronador.stakater.com",
        "watch tronadorconfigs.tronador.stakater.com",
    ]


def test_scanner_reports_a_group_it_cannot_resolve(extra_module: dict[str, str]) -> None:
    result = _scan(
        extra_module,
        """
        def run(api, group: str) -> None:
            api.list_cluster_custom_object(group, "v1", "things")
        """,
    )
    assert result.calls == []
    assert len(result.problems) == 1
    assert (
        "cannot resolve the group argument(s) of list_cluster_custom_object" in (result.problems[0])
    )


def test_scanner_reports_raw_requests_outside_the_rest_layer(
    extra_module: dict[str, str],
) -> None:
    result = _scan(
        extra_module,
        """
        def run(api_client) -> None:
            api_client.call_api("DELETE", "/api/v1/namespaces/x")
        """,
    )
    assert result.calls == []
    assert result.problems == [
        "fake.module:3: a raw request (call_api) the scan cannot read; go through a typed "
        "client method or kube.api.Kube"
    ]


def test_scanner_sees_methods_referenced_without_a_call(extra_module: dict[str, str]) -> None:
    result = _scan(
        extra_module,
        """
        def run(api, mutating: bool) -> None:
            read = api.read_mutating_webhook_configuration if mutating else (
                api.read_validating_webhook_configuration)
            read("name")
        """,
    )
    assert sorted(str(c.permission) for c in result.calls) == [
        "get mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "get validatingwebhookconfigurations.admissionregistration.k8s.io",
    ]


def test_scanner_tells_kube_calls_with_constant_and_variable_resources(
    extra_module: dict[str, str],
) -> None:
    extra_module["fake.kube_user"] = textwrap.dedent(
        """
        from kube.resources import NAMESPACES, ENVIRONMENT_PROVISIONERS

        def ensure(self, resource, body):
            self.kube.create(NAMESPACES, body)
            self.kube.replace(ENVIRONMENT_PROVISIONERS, body, subresource="status")
            self.kube.delete(resource, "n")
        """
    )
    result = apicalls.scan_kube_calls(["fake.kube_user"])
    assert sorted(str(c.permission) for c in result.calls) == [
        "create namespaces.core",
        "update environmentprovisioners/status.tronador.stakater.com",
    ]
    assert [str(d) for d in result.dynamic] == ["fake.kube_user.ensure -> Kube.delete"]


def test_kube_verbs_match_the_http_methods_kube_sends() -> None:
    # The scan's table of Kube methods is pinned to what each method really sends.
    sent = {
        "GET": {"get", "list", "watch"},
        "POST": {"create"},
        "PUT": {"update"},
        "PATCH": {"patch"},
        "DELETE": {"delete"},
    }
    public = {
        name for name, member in vars(Kube).items() if callable(member) and not name.startswith("_")
    }
    assert public == set(KUBE_VERBS) | KUBE_DISCOVERY
    for method in KUBE_DISCOVERY:
        source = textwrap.dedent(inspect.getsource(getattr(Kube, method)))
        assert '"GET", f"{base}/{api_version}"' in source
    for method, verb in KUBE_VERBS.items():
        source = textwrap.dedent(inspect.getsource(getattr(Kube, method)))
        calls = [
            node.args[0].value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "_call"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ]
        assert calls and all(verb in sent[http] for http in calls), (method, calls)


# --- each account: exactly what its code uses ---------------------------------------------------


def test_every_service_account_is_granted_exactly_what_its_code_calls(variant: list[Obj]) -> None:
    assert rbac_problems(variant, needs_by_account(variant)) == []


def test_rules_are_plain(variant: list[Obj]) -> None:
    assert rule_problems(variant) == []


def test_rbac_check_reports_a_missing_verb(base: list[Obj]) -> None:
    rule = _rule(base, "Role", "tronador-webhook-certs", "secrets", NS)
    rule["verbs"].remove("update")
    problems = rbac_problems(base, needs_by_account(base))
    assert len(problems) == 1
    assert problems[0].startswith(
        "ServiceAccount tronador-system/tronador-webhook lacks `update secrets.core`, used at "
        "certs.secret:"
    )


def test_rbac_check_reports_a_verb_granted_and_unused(base: list[Obj]) -> None:
    rule = _rule(base, "ClusterRole", CORE_RULES, "serviceaccounts")
    rule["verbs"].append("delete")
    assert rbac_problems(base, needs_by_account(base)) == [
        "ServiceAccount tronador-system/tronador-controller is granted `delete "
        "serviceaccounts.core` by ClusterRole tronador-controller, which no code it runs uses"
    ]


def test_rbac_check_reports_a_resource_granted_to_the_wrong_account(base: list[Obj]) -> None:
    binding = find(base, "RoleBinding", "tronador-controller", NS)
    assert binding is not None
    binding["subjects"][0]["name"] = "tronador-webhook"
    problems = rbac_problems(base, needs_by_account(base))
    assert any("tronador-controller lacks `list tronadorconfigs" in p for p in problems)
    assert any("tronador-webhook is granted `get tronadorconfigs" in p for p in problems)


def test_rbac_check_follows_what_each_container_runs(base: list[Obj]) -> None:
    deployment = find(base, "Deployment", "tronador-webhook", NS)
    assert deployment is not None
    spec = deployment["spec"]["template"]["spec"]
    spec["containers"] = [c for c in spec["containers"] if c["name"] != "certs"]
    spec["initContainers"] = []
    problems = rbac_problems(base, needs_by_account(base))
    assert any("granted `update secrets.core`" in p for p in problems)
    assert any("granted `patch mutatingwebhookconfigurations" in p for p in problems)


def test_rule_check_reports_wildcards_and_resource_names_on_create(base: list[Obj]) -> None:
    _rule(base, "ClusterRole", CORE_RULES, "configmaps")["verbs"] = ["*"]
    _rule(base, "Role", "tronador-webhook-certs", "secrets", NS)["verbs"].append("create")
    assert rule_problems(base) == [
        "Role/tronador-system/tronador-webhook-certs: resourceNames never match `create`",
        "ClusterRole/tronador-controller-core: a wildcard in verbs",
    ]


def test_rule_check_reports_a_binding_to_a_missing_account(base: list[Obj]) -> None:
    base.remove(find(base, "ServiceAccount", "tronador-controller", NS))
    problems = rule_problems(base)
    assert any(
        "ServiceAccount tronador-system/tronador-controller not found" in p for p in problems
    )


def test_every_kube_call_site_with_a_variable_resource_ran_in_a_scenario() -> None:
    assert needs_of_command("controller").problems == []


# --- scope: where each grant applies --------------------------------------------------------------


def _scopes(objects: list[Obj], account: tuple[str, str], resource: str) -> set[str]:
    return {
        g.namespace or "cluster-wide"
        for g in grants_by_account(objects)[account]
        if g.permission.resource == resource
    }


def test_webhook_reaches_only_its_own_secret_and_webhook_configurations(base: list[Obj]) -> None:
    grants = grants_by_account(base)[WEBHOOK]
    secrets = [g for g in grants if g.permission.resource == "secrets"]
    assert {g.namespace for g in secrets} == {NS}
    for grant in secrets:
        expected = () if grant.permission.verb == "create" else (certs_defaults.SECRET_NAME,)
        assert grant.resource_names == expected, grant
    names = {
        "mutatingwebhookconfigurations": (certs_defaults.MUTATING_WEBHOOK_NAME,),
        "validatingwebhookconfigurations": (certs_defaults.VALIDATING_WEBHOOK_NAME,),
        "tronadorconfigs": (CONFIG_NAME,),
    }
    for grant in grants:
        if grant.permission.resource in names:
            assert grant.resource_names == names[grant.permission.resource], grant


def test_resource_names_name_the_objects_that_are_rendered(base: list[Obj]) -> None:
    rendered = {config["metadata"]["name"] for config, _ in webhooks(base)}
    assert rendered == {
        certs_defaults.MUTATING_WEBHOOK_NAME,
        certs_defaults.VALIDATING_WEBHOOK_NAME,
    }


def test_tronadorconfig_and_events_are_granted_only_in_their_namespace(base: list[Obj]) -> None:
    for account in (WEBHOOK, CONTROLLER):
        assert _scopes(base, account, CONFIG_PLURAL) == {NS}
    assert _scopes(base, CONTROLLER, "events") == {Settings().event_namespace}


def test_nothing_may_delete_a_webhook_configuration(variant: list[Obj]) -> None:
    for grants in grants_by_account(variant).values():
        for grant in grants:
            assert not (
                grant.permission.resource.endswith("webhookconfigurations")
                and grant.permission.verb in ("delete", "deletecollection")
            ), grant


# --- who may read the TronadorConfig --------------------------------------------------------------


def _secret_config_problems(objects: list[Obj]) -> list[str]:
    return secret_config_problems(objects, GROUP, CONFIG_PLURAL, {WEBHOOK, CONTROLLER})


def test_tronadorconfig_is_readable_only_by_the_controller_the_webhook_and_admins(
    variant: list[Obj],
) -> None:
    assert _secret_config_problems(variant) == []


def test_config_check_reports_aggregation_into_the_view_role(base: list[Obj]) -> None:
    role = find(base, "Role", "tronador-controller", NS)
    assert role is not None
    role["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] = "true"
    assert _secret_config_problems(base) == [
        "Role/tronador-system/tronador-controller: reads tronadorconfigs and carries "
        "rbac.authorization.k8s.io/aggregate-to-view"
    ]


def test_config_check_reports_a_cluster_role_aggregated_into_edit(base: list[Obj]) -> None:
    core = find(base, "ClusterRole", CORE_RULES)
    assert core is not None
    core["rules"].append({"apiGroups": [GROUP], "resources": ["*"], "verbs": ["get"]})
    core["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] = "true"
    problems = _secret_config_problems(base)
    assert (
        "ClusterRole/tronador-controller-core: reads tronadorconfigs and carries "
        "rbac.authorization.k8s.io/aggregate-to-edit" in problems
    )


def test_config_check_reports_a_binding_to_someone_else(base: list[Obj]) -> None:
    binding = find(base, "RoleBinding", "tronador-webhook", NS)
    assert binding is not None
    binding["subjects"].append(
        {"kind": "Group", "name": "developers", "apiGroup": "rbac.authorization.k8s.io"}
    )
    assert _secret_config_problems(base) == [
        "RoleBinding/tronador-system/tronador-webhook: lets Group developers read tronadorconfigs"
    ]


# --- what the components really send, against the rendered RBAC -----------------------------------


def test_authorizer_applies_namespace_and_resource_names(base: list[Obj]) -> None:
    grants = grants_by_account(base)[WEBHOOK]
    get = Permission("", "secrets", "get")
    assert authorized(grants, Request(get, NS, certs_defaults.SECRET_NAME))
    assert not authorized(grants, Request(get, NS, "someone-elses"))
    assert not authorized(grants, Request(get, "default", certs_defaults.SECRET_NAME))


def test_every_request_of_the_controller_scenarios_is_authorized(base: list[Obj]) -> None:
    requests, _ = controller_scenarios()
    assert requests
    assert unauthorized(base, CONTROLLER, requests) == []


def test_every_request_of_certs_sync_and_the_policy_watch_is_authorized(base: list[Obj]) -> None:
    configs = [c for c in of_kind(base, "MutatingWebhookConfiguration")] + of_kind(
        base, "ValidatingWebhookConfiguration"
    )
    requests = certs_scenario(configs, NS) | webhook_policy_scenario(NS)
    assert {r.permission.resource for r in requests} >= {
        "secrets",
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
        "tronadorconfigs",
    }
    assert unauthorized(base, WEBHOOK, requests) == []


def test_authorization_check_reports_a_request_outside_the_granted_names(base: list[Obj]) -> None:
    rule = _rule(base, "Role", "tronador-webhook", "tronadorconfigs", NS)
    rule["resourceNames"] = ["another-config"]
    requests = webhook_policy_scenario(NS)
    problems = unauthorized(base, WEBHOOK, requests)
    assert problems and all("tronadorconfigs" in p for p in problems)


def _election(objects: list[Obj]) -> set[Request]:
    from controller.cli import election_from_args

    run = next(i for i in invocations(objects) if i.command == "controller")
    config = election_from_args(run.args)
    assert config is not None, "the controller runs without leader election"
    return election_scenario(config)


def test_every_request_of_the_controllers_leader_election_is_authorized(base: list[Obj]) -> None:
    requests = _election(base)
    assert {r.permission for r in requests} == {
        Permission("coordination.k8s.io", "leases", verb) for verb in ("get", "create", "update")
    }
    assert unauthorized(base, CONTROLLER, requests) == []


def test_authorization_check_reports_a_lease_the_role_does_not_name(base: list[Obj]) -> None:
    deployment = find(base, "Deployment", "tronador-controller", NS)
    assert deployment is not None
    deployment["spec"]["template"]["spec"]["containers"][0]["args"] += ["--lease-name", "other"]
    problems = unauthorized(base, CONTROLLER, _election(base))
    assert problems and all("leases" in p and "name other" in p for p in problems)
