"""The CLI's contract (issue 28): every subcommand follows the shared conventions, each input that
once ended in a traceback is one line and exit 2, and `convert` then `publish --kind
Environment` of the same PR agree on one name."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.seeds import EXAMPLES
from tests.tools import run_tronador
from tronador.cli import build_parser

EXCEPTION_NAMES = (
    "Traceback",
    "Error:",
    "FileExistsError",
    "FileNotFoundError",
    "IsADirectoryError",
    "OverflowError",
    "ValueError",
    "ParserError",
)


def _parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield child.prog, child
                yield from _parsers(child)


def test_every_subcommand_follows_the_shared_conventions() -> None:
    problems = []
    for prog, parser in _parsers(build_parser()):
        if not parser.description:
            problems.append(f"{prog}: no description")
        for action in parser._actions:
            text = action.help or ""
            if "(env " in text or ("env " in text and "[env " not in text and "default" in text):
                problems.append(f"{prog} {action.option_strings}: env not as '[env NAME, ...]'")
            if "-o" in action.option_strings and action.choices is None and action.type is None:
                problems.append(f"{prog}: -o takes anything; it must be an output format")
    assert problems == []


def _tronador(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_tronador(*args, cwd=cwd, env={"KUBECONFIG": str(cwd / "bad.yaml")})


def _reproductions(tmp: Path) -> list[list[str]]:
    (tmp / "FILE").write_text("x")
    (tmp / "bad.yaml").write_text("clusters: [unclosed\n")
    ep = str(EXAMPLES / "environment-provisioner.yaml")
    return [
        ["crds", "--out", "FILE"],
        ["crds", "--out", "/proc/tronador-nope"],
        ["certs", "generate", "--out", "FILE"],
        ["certs", "generate", "--out", "d1", "--dns", "\u00fc.example"],
        ["certs", "generate", "--out", "d2", "--namespace", "\u00fcn"],
        ["certs", "generate", "--out", "d3", "--ca-days", "99999999"],
        ["certs", "generate", "--out", ""],
        ["certs", "generate", "--out", "d4", "--dns", "a b"],
        ["certs", "generate", "--out", "d5", "--service", "Bad_Name!"],
        ["webhook", "--port", "99999"],
        ["audit", "--kubeconfig", "bad.yaml"],
        ["controller", "--kubeconfig", "bad.yaml"],
        ["publish", "--gitops-repo", str(tmp / "none.git"), "--file", ep, "--timeout", "inf"],
        ["validate", "FILE"],
        ["review", "FILE"],
        ["convert", "FILE"],
    ]


def test_each_former_traceback_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for argv in _reproductions(tmp_path):
        done = _tronador(*argv, cwd=tmp_path)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2, (argv, done.returncode, done.stderr[-500:])
        assert len(lines) == 1, (argv, done.stderr[-1000:])
        assert not any(name in lines[0] for name in EXCEPTION_NAMES), (argv, lines[0])
    assert not (tmp_path / "ca.crt").exists()  # `--out ''` wrote nothing here


def test_convert_then_publish_of_the_same_pr_lands_on_one_name(tmp_path: Path) -> None:
    from tests.gitops.repos import bare_repo, files
    from tests.tools import need_tool

    need_tool("git", "publish runs the real git CLI")
    bare = bare_repo(tmp_path)
    app = "https://github.com/stakater-lab/stakater-nordmart-inventory"
    converted = _tronador("convert", str(EXAMPLES / "environment-provisioner.yaml"), cwd=tmp_path)
    assert converted.returncode == 0, converted.stderr
    env = yaml.safe_load(converted.stdout)
    published = _tronador(
        "publish", "--gitops-repo", str(bare), "--kind", "Environment",
        "--app-config", str(EXAMPLES / "tronador.yaml"), "--repo-url", app,
        "--ref", "run-pipeline", "--pr", "74", "--image-name", "registry.example.com/inventory",
        "--image-tag", "pr-74", "--tronador-config", str(EXAMPLES / "tronador-config.yaml"),
        cwd=tmp_path,
    )  # fmt: skip
    assert published.returncode == 0, published.stderr
    (landed,) = [yaml.safe_load(text) for text in files(bare).values() if "kind:" in text]
    assert landed["metadata"]["name"] == env["metadata"]["name"]
    source = landed["spec"]["application"]["release"]["chart"]["spec"]["sourceRef"]["name"]
    assert source == env["spec"]["application"]["release"]["chart"]["spec"]["sourceRef"]["name"]


@pytest.fixture(autouse=True)
def _no_cluster_reachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
