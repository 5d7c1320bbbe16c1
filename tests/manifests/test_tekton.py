"""The Tekton Tasks and example Pipelines: valid against Tekton's CRD schemas (tekton.dev/v1),
every `$(...)` they use is declared, each step's command line parses with the real CLI parser,
and the publish and retire steps, run as Tekton would run them, work against a local repo."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.gitops.repos import APP_CONFIG, POLICY, bare_repo, environment, files
from tests.manifests.checks import parse_command_line
from tests.manifests.render import ROOT
from tests.manifests.tekton import (
    TEKTON_DIR,
    by_name,
    objects,
    references,
    schemas,
    step_command,
    task_run_params,
)
from tests.tools import need_tool

SAMPLE = {
    "app-repo-url": "https://github.com/stakater-lab/shop",
    "pr-number": "7",
    "branch": "feature-7",
    "image": "registry.example.com/shop",
    "tag": "pr-7-0123456789abcdef0123456789abcdef01234567",
    "gitops-repo": "https://git.example.com/org/gitops.git",
}
"""Values for the Tasks' params that have no default, as a PipelineRun gives them."""


def test_every_file_is_a_tekton_v1_task_or_pipeline_valid_against_the_crds() -> None:
    found = objects()
    assert {o["kind"] for o in found.values()} == {"Task", "Pipeline"}
    for name, obj in found.items():
        assert obj["apiVersion"] == "tekton.dev/v1", name
        schema = schemas()[("tekton.dev/v1", obj["kind"])]
        errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(obj)]
        assert errors == [], name


def test_the_schema_check_catches_a_misspelt_field() -> None:
    task = by_name("Task")["tronador-publish"]
    broken = yaml.safe_load(yaml.safe_dump(task))
    broken["spec"]["steps"][0]["arg"] = broken["spec"]["steps"][0].pop("args")
    schema = schemas()[("tekton.dev/v1", "Task")]
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_kustomization_lists_every_file_and_the_install_leaves_tekton_out() -> None:
    listed = yaml.safe_load((TEKTON_DIR / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(objects())
    top = yaml.safe_load((ROOT / "manifests" / "kustomization.yaml").read_text())["resources"]
    assert not any("tekton" in r for r in top)


def _declared(spec: dict[str, Any], key: str) -> set[str]:
    return {item["name"] for item in spec.get(key, [])}


def test_tasks_use_only_declared_params_and_workspaces() -> None:
    for task in by_name("Task").values():
        spec = task["spec"]
        for ref in references(spec["steps"]) + references(spec.get("volumes", [])):
            kind, _, rest = ref.partition(".")
            if kind == "params":
                assert rest in _declared(spec, "params"), ref
            else:
                assert kind in ("workspaces", "results") and rest.endswith(".path"), ref
                assert rest.removesuffix(".path") in _declared(spec, kind), ref


def test_pipelines_pass_what_our_tasks_need() -> None:
    tasks = by_name("Task")
    for pipeline in by_name("Pipeline").values():
        spec = pipeline["spec"]
        names = {t["name"] for t in spec["tasks"]}
        for ref in references(spec["tasks"]):
            kind, _, rest = ref.partition(".")
            if kind == "params":
                assert rest in _declared(spec, "params"), ref
            else:
                assert kind == "tasks" and rest.split(".")[0] in names, ref
        for entry in spec["tasks"]:
            task = tasks.get(entry["taskRef"]["name"])
            if task is None:
                continue  # a catalog Task (git-clone, buildah)
            given = _declared(entry, "params")
            params = task["spec"]["params"]
            assert given <= {p["name"] for p in params}, entry["name"]
            assert {p["name"] for p in params if "default" not in p} <= given, entry["name"]
            bound = {w["name"]: w["workspace"] for w in entry.get("workspaces", [])}
            for workspace in task["spec"].get("workspaces", []):
                if not workspace.get("optional"):
                    assert workspace["name"] in bound, entry["name"]
            assert set(bound.values()) <= _declared(spec, "workspaces"), entry["name"]


def _steps() -> list[Any]:
    return [
        pytest.param(n, t, s, id=f"{n}/{s['name']}")
        for n, t in by_name("Task").items()
        for s in t["spec"]["steps"]
    ]


@pytest.mark.parametrize(("task_name", "task", "step"), _steps())
def test_each_step_command_line_parses_with_the_real_cli_parser(
    task_name: str, task: dict[str, Any], step: dict[str, Any]
) -> None:
    workspaces = {w["name"]: f"/workspace/{w['name']}" for w in task["spec"].get("workspaces", [])}
    given = {k: v for k, v in SAMPLE.items() if k in _declared(task["spec"], "params")}
    args, env, _ = step_command(task, step, task_run_params(task, given), workspaces)
    parsed, error = parse_command_line(args, env)
    assert error == "", f"{task_name}: {error}"
    assert parsed is not None
    assert parsed.kind == "EnvironmentProvisioner"
    if task_name == "tronador-wait":
        assert parsed.command == "status" and parsed.wait
        assert parsed.url_file == "/tekton/results/url"
        assert parsed.phase_file == "/tekton/results/phase"
        return
    assert parsed.command == task_name.removeprefix("tronador-")
    assert parsed.gitops_repo == SAMPLE["gitops-repo"]
    assert parsed.credentials_dir == "/workspace/gitops-credentials"


def _run_step(task: dict[str, Any], params: dict[str, str], workspaces: dict[str, str]) -> Any:
    args, env, workdir = step_command(task, task["spec"]["steps"][0], params, workspaces)
    return subprocess.run(
        [sys.executable, "-m", "tronador", *args],
        cwd=workdir or ROOT,
        env=environment(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_steps_publish_and_retire_as_tekton_runs_them(tmp_path: Path) -> None:
    need_tool("git", "the steps run the real git CLI")
    bare = bare_repo(tmp_path)
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(APP_CONFIG, source / ".tronador.yaml")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    tasks = by_name("Task")
    publish_task, retire_task = tasks["tronador-publish"], tasks["tronador-retire"]
    given = {**SAMPLE, "gitops-repo": str(bare), "source-time": "1700000000"}
    published = _run_step(  # the optional tronador-config workspace unbound: ""
        publish_task,
        task_run_params(publish_task, given),
        {"source": str(source), "gitops-credentials": str(credentials), "tronador-config": ""},
    )
    assert published.returncode == 0, published.stderr
    assert "environments/shop-7.yaml" in files(bare)

    # The cluster's TronadorConfig in the optional workspace (a ConfigMap's directory): a PR the
    # webhook would deny is refused before anything is pushed.
    policy = yaml.safe_load(POLICY.read_text())
    policy["spec"]["policy"]["tenant"]["allowedValues"] = ["jai"]
    mounted = tmp_path / "tronador-config"
    mounted.mkdir()
    (mounted / "tronador-config.yaml").write_text(yaml.safe_dump(policy))
    before = files(bare)
    denied = _run_step(
        publish_task,
        task_run_params(publish_task, {**given, "pr-number": "8", "branch": "feature-8"}),
        {"source": str(source), "gitops-credentials": "", "tronador-config": str(mounted)},
    )
    assert denied.returncode == 1, denied.stderr
    assert "tenant-allowed" in denied.stderr and "'veeru'" in denied.stderr, denied.stderr
    assert files(bare) == before

    retire_given = {k: v for k, v in given.items() if k in _declared(retire_task["spec"], "params")}
    # an optional workspace that is not bound: Tekton substitutes an empty path
    retired = _run_step(
        retire_task, task_run_params(retire_task, retire_given), {"gitops-credentials": ""}
    )
    assert retired.returncode == 0, retired.stderr
    assert "environments/shop-7.yaml" not in files(bare)
