"""`tronador render --kind Environment`, `tronador convert`, and the offline commands for both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.seeds import EXAMPLES, seed_config_file_text, seed_environment_provisioner
from tronador.api import Environment, Policy
from tronador.cli import main
from tronador.rules.convert import environment_from_ep
from tronador.rules.validate import validate_environment

CONFIG = str(EXAMPLES / "tronador-config.yaml")
EXAMPLE_ENV = str(EXAMPLES / "environment.yaml")
REPO = "https://github.com/stakater-lab/stakater-nordmart-inventory"
RENDER_ARGS = [
    "--repo-url", REPO,
    "--ref", "run-pipeline",
    "--pr", "74",
    "--image-name", "nexus.example.com/stakater-nordmart-inventory",
    "--image-tag", "SNAPSHOT-PR-74-6f50ff2f",
]  # fmt: skip


def write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump_all(content))
    return str(path)


def render(tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    config = write(tmp_path, ".tronador.yaml", seed_config_file_text())
    out = tmp_path / "out.yaml"
    code = main(
        [
            *("render", "--kind", "Environment", "--config-file", config, *RENDER_ARGS, *extra),
            *("--config", CONFIG, "--output-file", str(out)),
        ]
    )
    return code, (yaml.safe_load(out.read_text()) if out.exists() else {})


def test_render_environment_from_the_seed_config(tmp_path: Path) -> None:
    code, env = render(tmp_path)
    assert code == 0
    typed = Environment.model_validate(env)
    assert typed.name == "pr-74-stakater-nordmart-inventory"
    assert typed.git_repository.url == REPO
    assert typed.git_repository.ref is not None and typed.git_repository.ref.branch == (
        "run-pipeline"
    )
    assert typed.release.chart.spec.source_ref.name == "dte-run-pipeline"
    assert typed.release.release_name == "run-pipeline"
    image = typed.release.values["application"]["deployment"]["image"]  # type: ignore[index]
    assert image == {
        "repository": "nexus.example.com/stakater-nordmart-inventory",
        "tag": "SNAPSHOT-PR-74-6f50ff2f",
    }
    assert env["metadata"]["annotations"]["tronador.stakater.com/pull-request"] == "74"


def test_render_cuts_a_long_name_with_a_stable_hash(tmp_path: Path) -> None:
    long_repo = "https://github.com/stakater-lab/" + "a-very-long-repository-name-" * 4
    args = ["--repo-url", long_repo]
    _, first = render(tmp_path, *args)
    _, second = render(tmp_path, *args)
    name = first["metadata"]["name"]
    assert len(name) <= 63 and name.startswith("pr-74-a-very-long")
    assert name == second["metadata"]["name"]
    _, other = render(tmp_path, "--pr", "75", *args)
    assert other["metadata"]["name"] != name


def test_render_names_bad_inputs_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = render(tmp_path, "--repo-url", "http://github.com/x/y")
    assert code == 2
    assert "--repo-url 'http://github.com/x/y'" in capsys.readouterr().err


def test_validate_and_review_take_environments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--config", CONFIG, EXAMPLE_ENV]) == 0
    out = capsys.readouterr().out
    assert "Environment/pr-123-stakater-nordmart-inventory: allowed" in out
    assert "gitImplementation: source.toolkit.fluxcd.io/v1 no longer has this field" in out
    assert main(["review", "--config", CONFIG, EXAMPLE_ENV]) == 0
    out = capsys.readouterr().out
    assert '"path": "/spec/application/gitRepository/gitImplementation"' in out


def seed_ep() -> dict[str, Any]:
    return seed_environment_provisioner()


def test_convert_of_the_seed_ep_keeps_namespace_labels_and_values() -> None:
    ep = seed_ep()
    env = environment_from_ep(ep)
    assert validate_environment(env, Policy()).allowed
    assert env["metadata"]["name"] == "pr-74-stakater-nordmart-inventory"  # as render names it
    assert env["spec"]["namespaceLabels"] == ep["spec"]["namespaceLabels"]
    release = env["spec"]["application"]["release"]
    assert release["values"] == ep["spec"]["application"]["release"]["values"]
    assert release["releaseName"] == ep["spec"]["application"]["release"]["releaseName"]
    git = env["spec"]["application"]["gitRepository"]
    assert git == {
        "url": ep["spec"]["application"]["release"]["chart"]["git"],
        "ref": {"branch": ep["spec"]["application"]["release"]["chart"]["ref"]},
    }
    assert "status" not in env


def test_convert_reads_kubectl_list_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = seed_ep(), seed_ep()
    second["metadata"] = {
        "name": "inventory-75",
        "uid": "abc",
        "resourceVersion": "7",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "a": "b"},
    }
    second["spec"]["application"]["release"]["chart"]["ref"] = "refs/tags/v1.0.0"
    listing = {"apiVersion": "v1", "kind": "List", "items": [first, second], "metadata": {}}
    assert main(["convert", write(tmp_path, "eps.yaml", [listing])]) == 0
    converted = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [e["kind"] for e in converted] == ["Environment", "Environment"]
    assert converted[1]["metadata"] == {"name": "inventory-75", "annotations": {"a": "b"}}
    assert converted[1]["spec"]["application"]["gitRepository"]["ref"] == {"tag": "v1.0.0"}


def test_convert_refuses_what_is_not_an_ep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["convert", EXAMPLE_ENV]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "kind: 'Environment' is not EnvironmentProvisioner" in err
    broken = seed_ep()
    broken["spec"]["application"]["release"]["chart"]["branch"] = "x"
    assert main(["convert", write(tmp_path, "bad.yaml", [broken])]) == 2
    assert "spec.application.release.chart.branch: unknown field" in capsys.readouterr().err


def test_convert_denied_under_the_policy_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ep = seed_ep()
    ep["spec"]["namespaceLabels"]["stakater.com/tenant"] = "gabbar"
    assert main(["convert", "--config", CONFIG, write(tmp_path, "ep.yaml", [ep])]) == 1
    assert "rule tenant-allowed" in capsys.readouterr().out
