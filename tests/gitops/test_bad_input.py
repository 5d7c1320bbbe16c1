"""Inputs publish/retire cannot use: one line naming what is wrong, exit 1 or 2, nothing pushed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitops.repos import (
    APP_CONFIG,
    POLICY,
    Run,
    bare_repo,
    commits,
    publish,
    retire,
    tronador,
)
from tests.tools import need_tool


@pytest.fixture(autouse=True)
def _git() -> None:
    need_tool("git", "publish/retire run the real git CLI")


def one_line_error(run: Run, code: int, *words: str) -> str:
    lines = run.stderr.strip().splitlines()
    assert run.returncode == code, run.stderr
    assert run.stdout == ""
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(("tronador: error: ", "tronador: denied: ")), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_unreachable_repository(tmp_path: Path) -> None:
    one_line_error(publish("http://127.0.0.1:1/gitops.git", 1), 2, "127.0.0.1:1")
    one_line_error(publish(tmp_path / "missing.git", 1), 2, "missing.git")
    one_line_error(retire(tmp_path / "missing.git", 1), 2, "missing.git")


def test_read_only_repository_refuses_the_push(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'this repository is read-only' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = commits(bare)
    line = one_line_error(publish(bare, 1), 1, "push refused")
    assert "read-only" in line or "pre-receive" in line
    assert commits(bare) == before


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("../{name}.yaml", ["leaves the repository"]),
        ("environments/../../{name}.yaml", ["leaves the repository"]),
        ("/etc/{name}.yaml", ["relative path"]),
        (".git/hooks/{name}", ["into .git"]),
        ("environments/{branch}.yaml", ["unknown placeholder {branch}"]),
        ("environments/{name:>9}.yaml", ["unknown placeholder"]),
    ],
)
def test_bad_path_template(tmp_path: Path, template: str, words: list[str]) -> None:
    bare = bare_repo(tmp_path)
    before = commits(bare)
    one_line_error(publish(bare, 1, "v1", "--path-template", template), 2, *words)
    one_line_error(retire(bare, 1, "--path-template", template), 2, *words)
    assert commits(bare) == before


def test_invalid_tronador_yaml(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    config = tmp_path / ".tronador.yaml"
    config.write_text("application:\n  chart_path: deploy\n  valueOverides: {}\n")
    run = tronador(
        "publish", bare,
        "--config-file", str(config), "--repo-url", "https://github.com/stakater-lab/shop",
        "--ref", "f", "--pr", "1", "--image-name", "r.example.com/shop", "--image-tag", "v1",
    )  # fmt: skip
    one_line_error(run, 2, str(config), "valueOverides")
    assert len(commits(bare)) == 1


def test_denied_ep_is_never_pushed(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    run = tronador(
        "publish", bare, "--config", str(POLICY),
        "--config-file", str(APP_CONFIG), "--repo-url", "https://github.com/someone-else/shop",
        "--ref", "f", "--pr", "1", "--image-name", "r.example.com/shop", "--image-tag", "v1",
    )  # fmt: skip
    one_line_error(run, 1, "chart-url-allowed", "spec.application.release.chart.git")
    assert len(commits(bare)) == 1


def test_other_unusable_flags(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    one_line_error(publish(bare, 1, "v1", "--branch", "a..b"), 2, "--branch")
    one_line_error(publish(bare, 1, "v1", "--source-time", "yesterday"), 2, "--source-time")
    one_line_error(publish(bare, 1, "v1", "--timeout", "0"), 2, "--timeout")
    one_line_error(tronador("publish", bare), 2, "give --file")
    one_line_error(retire(bare, "x"), 2, "--pr")
    one_line_error(retire(bare, 1, "--name", "../etc"), 2, "--name")
    assert len(commits(bare)) == 1
