from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.seeds import EXAMPLES, REPO_ROOT, seed_config_file_text, seed_environment_provisioner
from tronador.cli import main

SEED_EP = str(EXAMPLES / "environment-provisioner.yaml")
CONFIG = str(EXAMPLES / "tronador-config.yaml")
RENDER_ARGS = [
    "--repo-url", "https://github.com/stakater-lab/stakater-nordmart-inventory",
    "--ref", "run-pipeline",
    "--pr", "74",
    "--image-name",
    "nexus-docker-stakater-nexus.apps.binero-test.8sdzwd1l.kubeapp.cloud/stakater-nordmart-inventory",
    "--image-tag", "SNAPSHOT-PR-74-6f50ff2f",
]  # fmt: skip


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_validate_seed_ep_with_example_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--config", CONFIG, SEED_EP, CONFIG]) == 0
    out = capsys.readouterr().out
    assert "EnvironmentProvisioner/stakater-nordmart-inventory-74: allowed" in out
    assert "TronadorConfig/tronador-config: allowed" in out


def test_validate_reports_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ep = seed_environment_provisioner()
    ep["metadata"]["name"] = "x" * 70
    ep["spec"]["application"]["release"]["chart"]["git"] = "http://github.com/a/b"
    ep["spec"]["application"]["release"]["chart"]["depth"] = 1
    assert main(["validate", write(tmp_path, "ep.yaml", yaml.safe_dump(ep))]) == 1
    out = capsys.readouterr().out
    assert "denied" in out
    assert "error: metadata.name:" in out and "(rule dns-1123-label)" in out
    assert "error: spec.application.release.chart.git: 'http://github.com/a/b'" in out
    assert "error: spec.application.release.chart.depth: unknown field" in out


def test_validate_multi_document_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = Path(SEED_EP).read_text()
    monkeypatch.setattr(sys, "stdin", io.StringIO(good + "\n---\n" + good))
    assert main(["validate", "-"]) == 0
    out = capsys.readouterr().out
    assert "<stdin>#1: EnvironmentProvisioner/stakater-nordmart-inventory-74: allowed" in out
    assert "<stdin>#2: EnvironmentProvisioner/stakater-nordmart-inventory-74: allowed" in out


def test_a_document_of_another_kind_is_unusable_input_before_anything_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = Path(SEED_EP).read_text()
    monkeypatch.setattr(sys, "stdin", io.StringIO(good + "\n---\nkind: Pod\n"))
    assert main(["validate", "-"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "tronador: error: <stdin>#2: not an EnvironmentProvisioner, Environment or "
        "TronadorConfig (kind 'Pod')\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1\n", "not valid YAML"),
        ("", "no YAML documents found"),
        ("\xff", None),
    ],
)
def test_unreadable_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str | None
) -> None:
    path = tmp_path / "in.yaml"
    path.write_bytes(text.encode("latin-1"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tronador: error: ") and err.count("\n") == 1
    assert message is None or message in err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/ep.yaml"]) == 2
    assert "/nonexistent/ep.yaml: cannot read" in capsys.readouterr().err


def test_invalid_policy_file_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = Path(CONFIG).read_text().replace("to: nexus.example.com/dockerhub", "to: nexus")
    assert main(["review", "--config", write(tmp_path, "c.yaml", bad), SEED_EP]) == 2
    assert "spec.policy.imageRegistryRewrites[0].to" in capsys.readouterr().err


def test_render_seed_matches_seed_ep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, ".tronador.yaml", seed_config_file_text())
    assert main(["render", "--config-file", config, *RENDER_ARGS]) == 0
    ep = yaml.safe_load(capsys.readouterr().out)
    assert ep["spec"] == seed_environment_provisioner()["spec"]


def test_render_to_file(tmp_path: Path) -> None:
    config = write(tmp_path, ".tronador.yaml", seed_config_file_text())
    out = tmp_path / "ep.yaml"
    assert main(["render", "--config-file", config, *RENDER_ARGS, "--output-file", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["metadata"]["name"] == "stakater-nordmart-inventory-74"


def test_render_unknown_placeholder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = seed_config_file_text() + "  extra: {{ GIT_TOKEN }}\n"
    config = write(tmp_path, ".tronador.yaml", text)
    assert main(["render", "--config-file", config, *RENDER_ARGS]) == 2
    assert "unknown placeholder '{{ GIT_TOKEN }}'" in capsys.readouterr().err


def test_render_applies_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = Path(CONFIG).read_text().replace("allowedValues: [veeru, jai]", "allowedValues: [jai]")
    config = write(tmp_path, ".tronador.yaml", seed_config_file_text())
    args = ["render", "--config-file", config, *RENDER_ARGS, "--config"]
    assert main([*args, write(tmp_path, "policy.yaml", policy)]) == 1
    assert "(rule tenant-allowed)" in capsys.readouterr().out


def test_review_prints_patch_result_and_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "--config", CONFIG, SEED_EP]) == 0
    out = capsys.readouterr().out
    assert '"path": "/metadata/labels"' in out
    assert "app.kubernetes.io/managed-by: tronador.stakater.com" in out
    assert out.rstrip().endswith("allowed")


def test_crds_command_writes_the_committed_crds(tmp_path: Path) -> None:
    assert main(["crds", "--out", str(tmp_path)]) == 0
    for path in (REPO_ROOT / "manifests" / "crds").glob("*.yaml"):
        assert (tmp_path / path.name).read_text() == path.read_text()


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "spec: {application: [}\n")
    result = subprocess.run(
        [sys.executable, "-m", "tronador", "validate", path],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "not valid YAML" in result.stderr


def test_crds_prints_every_crd_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crds"]) == 0
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    committed = [
        yaml.safe_load(path.read_text())
        for path in sorted((REPO_ROOT / "manifests" / "crds").glob("*.yaml"))
    ]
    assert sorted(d["metadata"]["name"] for d in printed) == sorted(
        d["metadata"]["name"] for d in committed
    )


def test_crds_out_that_is_a_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["crds", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a directory" in err


def test_o_is_the_output_format_as_in_kubectl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, ".tronador.yaml", seed_config_file_text())
    assert main(["render", "--config-file", config, *RENDER_ARGS, "-o", "json"]) == 0
    rendered = json.loads(capsys.readouterr().out)
    assert rendered["metadata"]["name"] == "stakater-nordmart-inventory-74"
    with pytest.raises(SystemExit) as exited:
        main(["render", "--config-file", config, *RENDER_ARGS, "-o", str(tmp_path / "ep.yaml")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--output-file" in err
