"""Reading the Tekton Tasks and Pipelines in manifests/tekton: their schemas (the vendored CRDs),
their `$(...)` references, and the command line a step runs once Tekton substitutes them."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.manifests.checks import crd_schemas
from tests.manifests.render import ROOT
from tests.seeds import SCHEMAS

TEKTON_DIR = ROOT / "manifests" / "tekton"
REFERENCE = re.compile(r"\$\(([^)]*)\)")


@cache
def schemas() -> dict[tuple[str, str], Any]:
    crds = [yaml.safe_load(p.read_text()) for p in sorted((SCHEMAS / "tekton").glob("*.yaml"))]
    return crd_schemas(crds)


def objects() -> dict[str, dict[str, Any]]:
    """File name -> object, for every Task and Pipeline file."""
    return {
        path.name: yaml.safe_load(path.read_text())
        for path in sorted(TEKTON_DIR.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def by_name(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects().values() if o["kind"] == kind}


def references(node: Any) -> list[str]:
    """Every `$(...)` expression in the strings of `node`."""
    if isinstance(node, str):
        return REFERENCE.findall(node)
    if isinstance(node, dict):
        return [r for value in node.values() for r in references(value)]
    if isinstance(node, list):
        return [r for value in node for r in references(value)]
    return []


def substitute(text: str, params: dict[str, str], workspaces: dict[str, str]) -> str:
    """What Tekton makes of a string in a step, given the TaskRun's params and workspace paths."""

    def value(match: re.Match[str]) -> str:
        kind, _, rest = match.group(1).partition(".")
        if kind == "params":
            return params[rest]
        if kind == "workspaces" and rest.endswith(".path"):
            return workspaces[rest.removesuffix(".path")]
        if kind == "results" and rest.endswith(".path"):
            return f"/tekton/results/{rest.removesuffix('.path')}"
        raise KeyError(match.group(0))

    return REFERENCE.sub(value, text)


def task_run_params(task: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """The Task's params with their defaults, overridden by `given`."""
    out = {p["name"]: p["default"] for p in task["spec"].get("params", []) if "default" in p}
    return {**out, **given}


def step_command(
    task: dict[str, Any], step: dict[str, Any], params: dict[str, str], workspaces: dict[str, str]
) -> tuple[list[str], dict[str, str], Path | None]:
    """(args, env, working directory) of a step as the container gets them."""
    args = [substitute(str(a), params, workspaces) for a in step.get("args", [])]
    env = {e["name"]: substitute(str(e["value"]), params, workspaces) for e in step.get("env", [])}
    workdir = step.get("workingDir")
    return args, env, Path(substitute(workdir, params, workspaces)) if workdir else None
