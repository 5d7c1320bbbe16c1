"""The image: no Docker engine runs here, so the Dockerfile is read, and what it names must
exist: the console script, its subcommands, the files it copies (not excluded from the context)."""

from __future__ import annotations

import fnmatch
import json
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest

from tests.manifests.checks import invocations
from tests.manifests.render import ROOT, Obj
from tronador.cli import COMPONENT_COMMANDS, build_parser

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
RUNTIME_IMAGE = "python:3.11-slim"
NONROOT = "65532"


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages with their instructions (continuation lines joined, comments dropped)."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def _exec_form(args: str) -> list[str] | None:
    try:
        value = json.loads(args)
    except ValueError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` (relative, / separated) out of the build context."""
    out = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            rest = pattern[3:]
            hit = any(fnmatch.fnmatch(p, rest) for p in parts) or any(
                fnmatch.fnmatch(c, pattern) for c in candidates
            )
        else:
            hit = any(fnmatch.fnmatch(c, pattern) for c in candidates)
        if hit:
            out = not negate
    return out


def dockerignore_patterns(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def dockerfile_problems(dockerfile: str, dockerignore: str) -> list[str]:
    problems = []
    stages = parse_dockerfile(dockerfile)
    if len(stages) < 2:
        return ["not a multi-stage build"]
    final = stages[-1]
    if final.image != RUNTIME_IMAGE:
        problems.append(f"the final stage is {final.image}, not {RUNTIME_IMAGE}")
    users = final.all("USER")
    if not users or users[-1].split(":")[0] != NONROOT:
        problems.append(f"the final stage does not run as the numeric user {NONROOT}")
    entrypoint = _exec_form(final.all("ENTRYPOINT")[-1]) if final.all("ENTRYPOINT") else None
    if entrypoint != ["tronador"]:
        problems.append(f'ENTRYPOINT is {entrypoint}, not ["tronador"]')
    cmd = _exec_form(final.all("CMD")[-1]) if final.all("CMD") else None
    if cmd != ["webhook"]:
        problems.append(f'CMD is {cmd}, not ["webhook"]')
    for stage in stages:
        for run in stage.all("RUN"):
            if "[test]" in run or "pytest" in run or "ruff" in run:
                problems.append(f"installs test tools: RUN {run}")
    if any(kw == "COPY" and "--from" not in args for kw, args in final.instructions):
        problems.append("the final stage copies from the build context, not from the builder")

    patterns = dockerignore_patterns(dockerignore)
    copied: set[str] = set()
    for stage in stages:
        for copy in stage.all("COPY"):
            words = [w for w in shlex.split(copy) if not w.startswith("--")]
            if copy.startswith("--from"):
                continue
            for source in words[:-1]:
                source = source.rstrip("/")
                copied.add(source)
                if not (ROOT / source).exists():
                    problems.append(f"COPY {source}: no such file in the repository")
                elif ignored(source, patterns):
                    problems.append(f"COPY {source}: excluded by .dockerignore")
    project = _pyproject()
    needed = {"pyproject.toml", project["project"]["readme"]}
    needed |= {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    for path in sorted(needed - copied):
        problems.append(f"the build needs {path}, which is not copied")
    return problems


def test_dockerfile_builds_one_slim_non_root_image_of_the_runtime_package() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text(), DOCKERIGNORE.read_text()) == []


def test_console_script_is_the_cli_entry_point() -> None:
    scripts = _pyproject()["project"]["scripts"]
    assert scripts == {"tronador": "tronador.cli:main"}
    from tronador import cli

    assert callable(cli.main)


def test_default_command_and_every_container_command_are_subcommands(base: list[Obj]) -> None:
    stages = parse_dockerfile(DOCKERFILE.read_text())
    cmd = _exec_form(stages[-1].all("CMD")[-1])
    assert cmd is not None
    subcommands = {cmd[0]} | {i.command for i in invocations(base)}
    assert subcommands <= set(COMPONENT_COMMANDS)
    parser = build_parser()
    for name in subcommands:
        if name == "certs":
            parser.parse_args([name, "status", "--dir", "."])
        else:
            parser.parse_args([name])


def test_context_keeps_tests_and_docs_out_but_not_the_readme() -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE.read_text())
    for path in ("tests/manifests/test_dockerfile.py", ".git/HEAD", "docs/install.md", "bench"):
        assert ignored(path, patterns), path
    for path in ("README.md", "pyproject.toml", "webhook/server.py", "certs/cli.py"):
        assert not ignored(path, patterns), path


# --- the check itself -----------------------------------------------------------------------------


def _broken(old: str, new: str) -> list[str]:
    text = DOCKERFILE.read_text()
    assert old in text
    return dockerfile_problems(text.replace(old, new), DOCKERIGNORE.read_text())


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("USER 65532:65532", "USER tronador", "numeric user 65532"),
        ('CMD ["webhook"]', 'CMD ["serve"]', "CMD is ['serve']"),
        ('ENTRYPOINT ["tronador"]', "ENTRYPOINT tronador", "ENTRYPOINT is None"),
        ("pip install --no-compile .", "pip install --no-compile '.[test]'", "installs test"),
        ("COPY certs ./certs", "COPY cert ./certs", "COPY cert: no such file"),
        ("COPY certs ./certs\n", "", "needs certs"),
        ("FROM python:3.11-slim\n", "FROM python:3.11\n", "final stage is python:3.11"),
    ],
)
def test_dockerfile_check_reports_each_break(old: str, new: str, expected: str) -> None:
    problems = _broken(old, new)
    assert any(expected in p for p in problems), problems


def test_dockerfile_check_reports_a_copied_path_the_context_excludes() -> None:
    problems = dockerfile_problems(
        DOCKERFILE.read_text(), DOCKERIGNORE.read_text() + "\nREADME.md\n"
    )
    assert problems == ["COPY README.md: excluded by .dockerignore"]


def test_dockerfile_check_reports_a_single_stage_build() -> None:
    assert dockerfile_problems('FROM python:3.11-slim\nCMD ["webhook"]\n', "") == [
        "not a multi-stage build"
    ]
