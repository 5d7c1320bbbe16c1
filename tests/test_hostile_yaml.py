"""Hostile YAML through every command that reads it: an alias bomb, deep nesting, a file bigger
than the API server accepts, /dev/zero. Each ends as exit 2 with one line on stderr, run in a
child process whose memory is capped (`resource.setrlimit`), so a regression dies instead of
taking the machine (before: ~4 GB and a segfault in orjson, or a MemoryError traceback)."""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.seeds import EXAMPLES, REPO_ROOT, seed_config_file_text, seed_environment_provisioner
from tests.tools import run_tronador

MEMORY = 1024 * 1024 * 1024


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def tronador(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return run_tronador(*args, cwd=cwd, preexec_fn=_capped)


def alias_bomb(levels: int = 9) -> str:
    lines = ["l0: &l0 ['lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol']"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines)


def ep_with_values(values_yaml: str) -> str:
    ep = seed_environment_provisioner()
    ep.pop("status")
    text = yaml.safe_dump(ep, sort_keys=False)
    indented = "\n".join("        " + line for line in values_yaml.splitlines())
    return text.replace("    values:\n", "    values:\n" + indented + "\n", 1)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    files = {
        "bomb": ep_with_values(alias_bomb()),
        "deep": ep_with_values("deep: " + "[" * 3000 + "]" * 3000),
        "huge": ep_with_values("blob: '" + "x" * (4 * 1024 * 1024) + "'"),
        "big-object": ep_with_values("blob: '" + "x" * (2 * 1024 * 1024) + "'"),
    }
    paths = {}
    for name, text in files.items():
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_text(text)
    return paths


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Error:" not in lines[0].split(": ", 1)[0]
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("command", ["validate", "review", "convert"])
@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("bomb", ["aliases are expanded"]),
        ("deep", ["nested more than 100 levels"]),
        ("huge", ["larger than 3 MiB"]),
        ("big-object", ["larger than 1536 KiB"]),
    ],
)
def test_offline_commands_refuse_hostile_documents(
    hostile: dict[str, Path], command: str, case: str, words: list[str]
) -> None:
    assert_one_line_exit_2(tronador(command, str(hostile[case])), *words)


def test_audit_from_file_refuses_an_alias_bomb(hostile: dict[str, Path]) -> None:
    result = tronador("audit", "--from-file", str(hostile["bomb"]))
    assert_one_line_exit_2(result, "aliases are expanded")


def test_dev_zero_is_refused_after_3_mib() -> None:
    assert_one_line_exit_2(tronador("validate", "/dev/zero"), "larger than 3 MiB")


def test_render_refuses_an_alias_bomb_in_the_prs_config_file(tmp_path: Path) -> None:
    app = tmp_path / ".tronador.yaml"
    app.write_text(
        seed_config_file_text()
        + "\nextra:\n"
        + "\n".join("  " + line for line in alias_bomb().splitlines())
    )
    result = tronador(
        "render",
        "--config-file", str(app),
        "--repo-url", "https://github.com/stakater-lab/stakater-nordmart-inventory",
        "--ref", "main", "--pr", "1", "--image-name", "repo/app", "--image-tag", "v1",
    )  # fmt: skip
    assert_one_line_exit_2(result, "aliases are expanded")


def test_a_config_file_with_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text((EXAMPLES / "tronador-config.yaml").read_text() + "\nloop: &loop [*loop]\n")
    result = tronador(
        "validate", str(EXAMPLES / "environment-provisioner.yaml"), "--config", str(config)
    )
    assert_one_line_exit_2(result, "refers to itself")
