from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tronador.rules.config_rules import validate_tronador_config
from tronador.rules.durations import parse_duration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tronador-config.yaml"


def example() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())


def rules_of(obj: Any, namespace: str | None = "tronador-system") -> dict[str, str]:
    return {v.rule: str(v) for v in validate_tronador_config(obj, namespace).violations}


def test_example_config_is_valid() -> None:
    findings = validate_tronador_config(example(), "tronador-system")
    assert findings.allowed, findings.message()


def test_singleton_name_and_namespace() -> None:
    config = example()
    config["metadata"] = {"name": "other", "namespace": "default"}
    messages = [str(v) for v in validate_tronador_config(config, "tronador-system").violations]
    assert messages[0].startswith("metadata.name: must be 'tronador-config'")
    assert messages[1].startswith("metadata.namespace: must be 'tronador-system'")
    config["metadata"]["name"] = "tronador-config"
    assert rules_of(config) == {
        "singleton": "metadata.namespace: must be 'tronador-system', the namespace Tronador "
        "runs in (rule singleton)"
    }


def test_cluster_scoped_kind_in_secrets_is_rejected() -> None:
    config = example()
    config["spec"]["secrets"].append(
        {
            "apiVersion": "external-secrets.io/v1beta1",
            "kind": "ClusterSecretStore",
            "metadata": {"name": "store"},
        }
    )
    assert rules_of(config)["namespaced-secrets"].startswith(
        "spec.secrets[3].kind: ClusterSecretStore is cluster-scoped"
    )


def test_generator_must_be_named_like_its_secret() -> None:
    config = example()
    config["spec"]["secrets"].append(
        {
            "apiVersion": "external-secrets.io/v1beta1",
            "kind": "ExternalSecret",
            "metadata": {"name": "pull"},
            "spec": {"target": {"name": "pull-secret"}},
        }
    )
    assert rules_of(config)["generator-name"].startswith(
        "spec.secrets[3].spec.target.name: generates Secret 'pull-secret', but the item is "
        "named 'pull'"
    )


def test_mappings_must_name_provided_secrets() -> None:
    config = example()
    config["spec"]["mappings"][0]["imagePullSecret"] = "missing"
    config["spec"]["orgLevelSecrets"]["authSecret"] = "also-missing"
    rules = validate_tronador_config(config, "tronador-system").violations
    assert [str(v) for v in rules] == [
        "spec.mappings[0].imagePullSecret: 'missing' is not one of the secrets this "
        "TronadorConfig provides (rule secret-exists)",
        "spec.orgLevelSecrets.authSecret: 'also-missing' is not one of the secrets this "
        "TronadorConfig provides (rule secret-exists)",
    ]


def test_repos_name_one_repository_each_mapped_once() -> None:
    config = example()
    config["spec"]["mappings"].append(
        {"repos": ["org/app", "github.com/stakater-lab/stakater-nordmart-review", "https://x"]}
    )
    messages = [str(v) for v in validate_tronador_config(config, "tronador-system").violations]
    assert messages[0].startswith("spec.mappings[1].repos[0]: 'org/app' is not host/owner/")
    assert messages[1].startswith("spec.mappings[1].repos[2]: 'https://x' is not host/owner/")
    assert rules_of(config)["unique-repos"] == (
        "spec.mappings[1].repos: 'github.com/stakater-lab/stakater-nordmart-review' is already "
        "mapped by spec.mappings[0] (rule unique-repos)"
    )


def test_bare_names_and_org_secrets_need_an_organisation() -> None:
    config = example()
    del config["spec"]["mappings"][0]["organisation"]
    del config["spec"]["orgLevelSecrets"]["organisation"]
    assert validate_tronador_config(config, "tronador-system").allowed  # the allowed chart org
    config["spec"]["policy"]["allowedChartGitPrefixes"] = ["https://github.com/"]  # no owner
    messages = [str(v) for v in validate_tronador_config(config, "tronador-system").violations]
    assert messages[0].startswith(
        "spec.mappings[0].repos[0]: 'stakater-nordmart-inventory' is a bare name, the "
        "mapping has no organisation"
    )
    assert any(m.startswith("spec.orgLevelSecrets.organisation: is required") for m in messages)
    config["spec"]["mappings"][0]["organisation"] = "github.com"
    assert "organisation" in rules_of(config)


@pytest.mark.parametrize(
    ("release", "field"),
    [
        ({"clusterRole": "Not A Role"}, "clusterRole"),
        ({"serviceAccountName": "bad_name"}, "serviceAccountName"),
        ({"externalSourceURLPrefixes": ["ftp://x/"]}, "externalSourceURLPrefixes[0]"),
        ({"externalSourceURLPrefixes": ["https://u:p@x/"]}, "externalSourceURLPrefixes[0]"),
    ],
)
def test_release_policy_fields_are_checked(release: dict[str, Any], field: str) -> None:
    config = example()
    config["spec"]["policy"]["release"] = release
    messages = [str(v) for v in validate_tronador_config(config, "tronador-system").violations]
    assert len(messages) == 1 and messages[0].startswith(f"spec.policy.release.{field}: ")


@pytest.mark.parametrize(
    ("policy", "rule"),
    [
        ({"tenant": {"labelKey": "bad key"}}, "label-key"),
        ({"requiredNamespaceLabels": ["ok", "-no"]}, "label-key"),
        ({"defaultNamespaceLabels": {"kind": "bad value!"}}, "label-value"),
        ({"allowedChartGitPrefixes": ["github.com/acme"]}, "chart-url-prefix"),
        ({"imageRegistryRewrites": [{"from": "docker.io", "to": "mirror"}]}, "registry-rewrite"),
        ({"defaultTTL": "3 days"}, "duration"),
        (
            {
                "imageRegistryRewrites": [
                    {"from": "ghcr.io/acme", "to": "mirror.example.com"},
                    {"from": "mirror.example.com", "to": "docker.io"},
                ]
            },
            "registry-rewrite-chain",
        ),
        ({"tenant": {"required": "maybe"}}, "schema"),
        ({"unknownKnob": True}, "unknown-field"),
    ],
)
def test_policy_must_parse(policy: dict[str, Any], rule: str) -> None:
    config = example()
    config["spec"]["policy"] = policy
    assert rule in rules_of(config)


def test_secret_values_never_appear_in_messages() -> None:
    config = example()
    config["spec"]["secrets"][0]["metadata"]["name"] = "Bad Name"
    config["spec"]["secrets"][0]["kind"] = "Secret"
    findings = validate_tronador_config(config, "tronador-system")
    assert "replace-me" not in findings.message()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("72h", 259200),
        ("1h30m", 5400),
        ("7d", 604800),
        ("45s", 45),
        ("0h", None),
        ("", None),
        ("3 days", None),
        ("h", None),
        ("-1h", None),
    ],
)
def test_parse_duration(text: str, seconds: int | None) -> None:
    parsed = parse_duration(text)
    assert (parsed.total_seconds() if parsed else None) == seconds
