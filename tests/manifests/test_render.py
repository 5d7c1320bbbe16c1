"""The kustomizations render, and every object is valid for the API server that receives it."""

from __future__ import annotations

from controller.settings import Settings
from tests.manifests.checks import UNVALIDATED_GROUPS, schema_problems
from tests.manifests.render import (
    SAMPLES,
    Obj,
    find,
    group_of,
    name_of,
    namespace_of,
    need_kubectl,
    of_kind,
    render,
)
from tronador.api.constants import CONFIG_KIND, CONFIG_NAME, DEFAULT_SYSTEM_NAMESPACE
from tronador.api.crd import all_crds
from tronador.rules.config_rules import validate_tronador_config


def _crds() -> list[Obj]:
    return list(all_crds().values())


def test_every_object_of_each_variant_matches_its_schema(variant: list[Obj]) -> None:
    assert variant, "nothing rendered"
    assert schema_problems(variant, _crds()) == []


def test_only_cert_manager_objects_go_unvalidated(variant: list[Obj]) -> None:
    skipped = {f"{o['kind']}.{group_of(o)}" for o in variant if group_of(o) in UNVALIDATED_GROUPS}
    assert all(kind.endswith(".cert-manager.io") for kind in skipped)


def test_base_installs_the_generated_crds(base: list[Obj]) -> None:
    rendered = {name_of(c): c for c in of_kind(base, "CustomResourceDefinition")}
    generated = {c["metadata"]["name"]: c for c in _crds()}
    assert rendered == generated


def test_every_namespaced_object_lives_in_the_system_namespace(variant: list[Obj]) -> None:
    cluster_scoped = {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    elsewhere = [
        f"{o['kind']}/{namespace_of(o)}/{name_of(o)}"
        for o in variant
        if o["kind"] not in cluster_scoped and namespace_of(o) != DEFAULT_SYSTEM_NAMESPACE
    ]
    # Events about cluster-scoped EPs go to one namespace (`default`), and so does the
    # controller's Role to write them.
    events = Settings().event_namespace
    assert sorted(elsewhere) == [
        f"Role/{events}/tronador-controller-events",
        f"RoleBinding/{events}/tronador-controller-events",
    ]
    assert find(variant, "Namespace", DEFAULT_SYSTEM_NAMESPACE) is not None


def test_system_namespace_enforces_the_restricted_pod_security_standard(base: list[Obj]) -> None:
    namespace = find(base, "Namespace", DEFAULT_SYSTEM_NAMESPACE)
    assert namespace is not None
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_base_leaves_the_tronador_config_to_the_admin(variant: list[Obj]) -> None:
    # Re-applying the install must never overwrite the cluster's TronadorConfig.
    assert of_kind(variant, CONFIG_KIND) == []


def test_sample_config_is_the_singleton_and_passes_the_webhook_rules() -> None:
    need_kubectl()
    samples = render(SAMPLES)
    assert [o["kind"] for o in samples] == [CONFIG_KIND]
    config = samples[0]
    assert (name_of(config), namespace_of(config)) == (CONFIG_NAME, DEFAULT_SYSTEM_NAMESPACE)
    assert schema_problems(samples, _crds()) == []
    findings = validate_tronador_config(config, DEFAULT_SYSTEM_NAMESPACE)
    assert findings.allowed, findings.violations


def test_sample_config_carries_no_secret_values() -> None:
    need_kubectl()
    config = render(SAMPLES)[0]
    assert config["spec"].get("secrets") in (None, [])


# --- the checks themselves ----------------------------------------------------------------------


def test_schema_check_reports_an_unknown_field_of_a_builtin_kind(base: list[Obj]) -> None:
    deployment = of_kind(base, "Deployment")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    problems = schema_problems(base, _crds())
    assert len(problems) == 1
    assert "imagePullPolcy" in problems[0]


def test_schema_check_reports_a_wrong_type_in_a_builtin_kind(base: list[Obj]) -> None:
    deployment = of_kind(base, "Deployment")[0]
    deployment["spec"]["replicas"] = "two"
    assert any("replicas" in p for p in schema_problems(base, _crds()))


def test_schema_check_reports_a_custom_object_the_crd_rejects() -> None:
    need_kubectl()
    samples = render(SAMPLES)
    samples[0]["spec"]["policy"]["tenant"]["required"] = "yes"
    samples[0]["spec"]["polcy"] = {}
    problems = schema_problems(samples, _crds())
    assert any("required" in p and "boolean" in p for p in problems), problems
    assert any("polcy" in p for p in problems), problems


def test_schema_check_reports_a_kind_it_has_no_schema_for(base: list[Obj]) -> None:
    base.append({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert any("Widget" in p for p in schema_problems(base, _crds()))
