from __future__ import annotations

import argparse
import copy
import io
import json
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from tests.apiserver import EmulatedAPIServer, Fault
from tests.seeds import EXAMPLES, example_environment, seed_environment_provisioner
from tronador.audit_cli import add_arguments, audited_objects_in, run
from tronador.yamlio import dump, dump_all, load_all

NAMESPACE = "tronador-system"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def ep(name: str, tenant: str = "veeru", git: str | None = None) -> dict[str, Any]:
    obj = seed_environment_provisioner()
    obj.pop("status")
    obj["metadata"]["name"] = name
    obj["spec"]["namespaceLabels"]["stakater.com/tenant"] = tenant
    if git:
        obj["spec"]["application"]["release"]["chart"]["git"] = git
    return obj


def example_config() -> dict[str, Any]:
    docs = load_all((EXAMPLES / "tronador-config.yaml").read_text(), "example")
    return docs[0]


def invoke(args: argparse.Namespace, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "tronador-config.yaml"
    path.write_text(dump(example_config()))
    return path


def test_files_against_a_config_file(tmp_path: Path, config_file: Path) -> None:
    eps = tmp_path / "eps.yaml"
    eps.write_text(
        dump_all(
            [
                ep("ok-1"),
                ep("bad-tenant", tenant="gabbar"),
                ep("bad-chart", git="https://github.com/evil/chart"),
            ]
        )
    )
    code, out, err = invoke(parse("--from-file", str(eps), "--config", str(config_file)))
    assert code == 1
    assert "ok-1" not in out
    assert "EnvironmentProvisioner  bad-tenant  False      TenantAllowedFailed" in out
    assert "EnvironmentProvisioner  bad-chart   False      ChartUrlAllowedFailed" in out
    assert "(rule chart-url-allowed)" in out
    assert out.rstrip().endswith(
        f"2 of 3 EnvironmentProvisioners do not comply with the policy ({config_file})"
    )
    assert err == ""


def test_all_compliant_exits_zero_and_all_lists_them(tmp_path: Path, config_file: Path) -> None:
    eps = tmp_path / "eps.yaml"
    eps.write_text(dump({"apiVersion": "v1", "kind": "List", "items": [ep("a"), ep("b")]}))
    code, out, _ = invoke(parse("--from-file", str(eps), "--config", str(config_file), "--all"))
    assert code == 0
    assert "EnvironmentProvisioner  a     True       Compliant" in out
    assert "EnvironmentProvisioner  b     True       Compliant" in out


def test_json_output(tmp_path: Path, config_file: Path) -> None:
    eps = tmp_path / "eps.yaml"
    eps.write_text(dump_all([ep("bad", tenant="gabbar"), {"kind": "ConfigMap"}]))
    code, out, err = invoke(
        parse("--from-file", str(eps), "--config", str(config_file), "-o", "json")
    )
    assert code == 1
    report = json.loads(out)
    assert report["total"] == 1 and report["nonCompliant"] == 1
    result = report["results"][0]
    assert result["condition"]["type"] == "PolicyCompliant"
    assert result["violations"][0]["rule"] == "tenant-allowed"
    assert "skipped 1 document" in err


def test_files_without_config_use_the_defaults(tmp_path: Path) -> None:
    eps = tmp_path / "eps.yaml"
    eps.write_text(dump(ep("a", tenant="gabbar")))
    code, out, _ = invoke(parse("--from-file", str(eps)))
    assert code == 0
    assert "built-in defaults" in out


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "cannot read"), ("a: [", "not valid YAML"), ("kind: TronadorConfig\nspec: 1", "")],
)
def test_unusable_inputs_exit_two(tmp_path: Path, content: str | None, words: str) -> None:
    eps = tmp_path / "eps.yaml"
    eps.write_text(dump(ep("a")))
    config = tmp_path / "config.yaml"
    if content is not None:
        config.write_text(content)
    code, out, err = invoke(parse("--from-file", str(eps), "--config", str(config)))
    assert code == 2 and out == ""
    assert err.startswith("tronador audit: error: ") and words in err


def test_list_documents_are_unpacked() -> None:
    found, skipped = audited_objects_in(
        [
            {"kind": "EnvironmentProvisionerList", "items": [ep("a"), {"kind": "x"}]},
            ep("b"),
            {"kind": "List", "items": [env("c")]},
            "text",
        ]
    )
    assert [f["metadata"]["name"] for f in found] == ["a", "b", "c"]
    assert skipped == 2


def env(name: str, tenant: str = "veeru") -> dict[str, Any]:
    """The docs' Environment renamed; its values source lives in its own namespace."""
    obj = example_environment()
    obj["metadata"]["name"] = name
    obj["spec"]["namespaceLabels"]["stakater.com/tenant"] = tenant
    for source in obj["spec"]["application"]["release"]["valuesFrom"]:
        source["configMapKeyRef"]["namespace"] = name
    return obj


def test_environments_are_audited_with_the_same_rules(tmp_path: Path, config_file: Path) -> None:
    objects = tmp_path / "objects.yaml"
    objects.write_text(dump_all([env("env-bad", tenant="gabbar"), env("env-ok"), ep("ep-ok")]))
    code, out, err = invoke(parse("--from-file", str(objects), "--config", str(config_file)))
    assert code == 1, err
    assert "Environment  env-bad  False      TenantAllowedFailed" in out
    assert "env-ok" not in out and "ep-ok" not in out
    assert out.rstrip().endswith(
        "1 of 3 EnvironmentProvisioners and Environments does not comply with the policy "
        f"({config_file})"
    )
    code, out, _ = invoke(
        parse("--from-file", str(objects), "--config", str(config_file), "-o", "json")
    )
    kinds = {(r["kind"], r["name"], r["compliant"]) for r in json.loads(out)["results"]}
    assert kinds == {
        ("Environment", "env-bad", False),
        ("Environment", "env-ok", True),
        ("EnvironmentProvisioner", "ep-ok", True),
    }


# --- against the emulated API server ----------------------------------------------------------


def seed_cluster(apiserver: EmulatedAPIServer, config: dict[str, Any] | None) -> None:
    apiserver.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    if config is not None:
        apiserver.seed(config)
    for obj in (ep("zeta"), ep("alpha", tenant="gabbar"), ep("mid", git="https://x.example/c")):
        apiserver.seed(obj)


def test_cluster_eps_against_the_cluster_policy(
    apiserver: EmulatedAPIServer, k8s_client: kubernetes.client.ApiClient
) -> None:
    seed_cluster(apiserver, example_config())
    code, out, err = invoke(parse("--namespace", NAMESPACE), api_client=k8s_client)
    assert code == 1, err
    lines = out.splitlines()
    assert lines[1].startswith("EnvironmentProvisioner  alpha ")
    assert "TenantAllowedFailed" in lines[1]
    assert any(" mid " in line and "ChartUrlAllowedFailed" in line for line in lines)
    assert "zeta" not in out
    assert f"(TronadorConfig {NAMESPACE}/tronador-config)" in lines[-1]
    assert apiserver.writes() == []  # read-only


def test_cluster_environments_are_audited_after_the_eps(
    apiserver: EmulatedAPIServer, k8s_client: kubernetes.client.ApiClient
) -> None:
    seed_cluster(apiserver, example_config())
    apiserver.seed(env("aardvark", tenant="gabbar"))
    apiserver.seed(env("beta"))
    code, out, err = invoke(parse("--namespace", NAMESPACE, "--all"), api_client=k8s_client)
    assert code == 1, err
    rows = [line.split()[:3] for line in out.splitlines()[1:-1] if not line.startswith(" ")]
    assert rows == [
        ["EnvironmentProvisioner", "alpha", "False"],
        ["EnvironmentProvisioner", "mid", "False"],
        ["EnvironmentProvisioner", "zeta", "True"],
        ["Environment", "aardvark", "False"],
        ["Environment", "beta", "True"],
    ]
    assert "3 of 5 EnvironmentProvisioners and Environments" in out


def test_a_cluster_without_the_environment_crd_audits_its_eps(
    apiserver: EmulatedAPIServer, k8s_client: kubernetes.client.ApiClient
) -> None:
    seed_cluster(apiserver, example_config())
    apiserver.faults.add(Fault(path_regex="/environments$", status=404, times=None))
    code, out, err = invoke(parse("--namespace", NAMESPACE), api_client=k8s_client)
    assert code == 1
    assert "2 of 3 EnvironmentProvisioners do not comply" in out
    assert "note: the cluster does not serve environments.tronador.stakater.com" in err


def test_cluster_eps_against_a_proposed_policy(
    apiserver: EmulatedAPIServer, k8s_client: kubernetes.client.ApiClient, tmp_path: Path
) -> None:
    seed_cluster(apiserver, None)
    proposed = copy.deepcopy(example_config())
    proposed["spec"]["policy"]["tenant"]["allowedValues"] = ["veeru", "gabbar"]
    path = tmp_path / "proposed.yaml"
    path.write_text(dump(proposed))
    code, out, _ = invoke(parse("--config", str(path)), api_client=k8s_client)
    assert code == 1
    assert "alpha" not in out and "mid " in out


def test_cluster_without_a_tronador_config_uses_the_defaults(
    apiserver: EmulatedAPIServer, k8s_client: kubernetes.client.ApiClient
) -> None:
    seed_cluster(apiserver, None)
    code, out, _ = invoke(parse("--namespace", NAMESPACE), api_client=k8s_client)
    assert code == 0
    assert f"built-in defaults (no TronadorConfig {NAMESPACE}/tronador-config)" in out


def test_cluster_errors_exit_two(
    apiserver: EmulatedAPIServer, k8s_client: kubernetes.client.ApiClient
) -> None:
    seed_cluster(apiserver, example_config())
    apiserver.faults.add(Fault(path_regex="environmentprovisioners", status=403, times=None))
    code, out, err = invoke(parse("--namespace", NAMESPACE), api_client=k8s_client)
    assert code == 2 and out == ""
    assert "cannot list environmentprovisioners.tronador.stakater.com: 403" in err


def test_invalid_cluster_config_exits_two(
    apiserver: EmulatedAPIServer, k8s_client: kubernetes.client.ApiClient
) -> None:
    config = example_config()
    config["spec"]["policy"]["defaultTTL"] = "soon"
    seed_cluster(apiserver, config)
    code, _, err = invoke(parse("--namespace", NAMESPACE), api_client=k8s_client)
    assert code == 2 and "is invalid" in err and "defaultTTL" in err


def test_existing_eps_that_break_a_new_label_policy_are_reported(tmp_path: Path) -> None:
    config = example_config()
    config["spec"]["policy"]["namespaceLabels"] = {"allowedValues": {"team": ["team-*"]}}
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(dump(config))
    capsule = ep("capsule")
    capsule["spec"]["namespaceLabels"]["capsule.clastix.io/tenant"] = "team-b"
    eps = tmp_path / "eps.yaml"
    eps.write_text(dump_all([capsule, ep("gabbar")]))  # the seed's team is 'gabbar'
    code, out, _ = invoke(parse("--from-file", str(eps), "--config", str(proposed)))
    assert code == 1
    assert "capsule.clastix.io/tenant" in out and "(rule label-denied)" in out
    assert "(rule label-value-allowed)" in out
    assert "2 of 2 EnvironmentProvisioners do not comply" in out
