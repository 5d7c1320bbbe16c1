"""Publish and retire against a local bare repository with the real git CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.gitops.repos import (
    bare_repo,
    commits,
    files,
    forced_updates,
    git,
    publish,
    render_args,
    retire,
    touched,
    tronador,
)
from tronador.cli import main

EP_FILE = "environments/shop-7.yaml"


pytestmark = pytest.mark.usefixtures("real_git")


def test_publish_again_new_tag_retire_and_retire_again(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    first = publish(bare, 7, "v1")
    assert first.returncode == 0, first.output
    assert f"published EnvironmentProvisioner/shop-7 to {EP_FILE}" in first.stdout
    ep = yaml.safe_load(files(bare)[EP_FILE])
    assert ep["kind"] == "EnvironmentProvisioner"
    assert ep["metadata"]["annotations"]["tronador.stakater.com/image-tag"] == "v1"
    assert len(commits(bare)) == 2

    again = publish(bare, 7, "v1")
    assert again.returncode == 0, again.output
    assert again.stdout.startswith("unchanged:")
    assert len(commits(bare)) == 2

    newer = publish(bare, 7, "v2")
    assert newer.returncode == 0, newer.output
    history = commits(bare)
    assert len(history) == 3
    assert touched(bare, history[0]) == [EP_FILE]
    assert "image-tag: v2" in files(bare)[EP_FILE]
    message = git("log", "-1", "--format=%B", cwd=bare)
    assert message.startswith("tronador publish EnvironmentProvisioner/shop-7 (shop PR #7")
    assert "image tag v2" in message
    assert "App-Repository: https://github.com/stakater-lab/shop" in message

    gone = retire(bare, 7)
    assert gone.returncode == 0, gone.output
    assert gone.stdout.startswith(f"retired EnvironmentProvisioner/shop-7: removed {EP_FILE}")
    assert EP_FILE not in files(bare)
    assert touched(bare, commits(bare)[0]) == [EP_FILE]

    again = retire(bare, 7)
    assert again.returncode == 0, again.output
    assert again.stdout.startswith("nothing to retire:")
    assert len(commits(bare)) == 4
    assert forced_updates(bare) == []


def test_retire_from_a_branch_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    """A typo in --branch must not read as "nothing to retire" and leave the environment up."""
    bare = bare_repo(tmp_path)
    before = commits(bare)
    gone = retire(bare, 7, "--branch", "mian")
    assert gone.returncode == 2, gone.output
    assert gone.stderr.count("\n") == 1 and "'mian'" in gone.stderr
    assert "does not exist" in gone.stderr
    assert commits(bare) == before


def test_path_template_tenant_and_author(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    template = ["--path-template", "tenants/{tenant}/{repo}/pr-{pr}.yaml"]
    author = ["--author-name", "CI Bot", "--author-email", "ci@example.com"]
    done = publish(bare, 3, "v1", *template, *author)
    assert done.returncode == 0, done.output
    assert "tenants/veeru/shop/pr-3.yaml" in files(bare)
    assert git("log", "-1", "--format=%an <%ae>", cwd=bare).strip() == "CI Bot <ci@example.com>"
    no_tenant = retire(bare, 3, *template)
    assert no_tenant.returncode == 2
    assert "{tenant}" in no_tenant.stderr
    assert retire(bare, 3, *template, "--tenant", "veeru").returncode == 0
    assert "tenants/veeru/shop/pr-3.yaml" not in files(bare)


def test_publishes_a_rendered_file_and_creates_a_missing_branch(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    rendered = tmp_path / "ep.yaml"
    assert main(["render", *render_args(9), "--output-file", str(rendered)]) == 0
    done = tronador("publish", bare, "--file", str(rendered), "--branch", "environments")
    assert done.returncode == 0, done.output
    assert "environments/shop-9.yaml" in files(bare, "environments")
    assert files(bare, "environments")["environments/shop-9.yaml"] == rendered.read_text()
    assert len(commits(bare, "environments")) == 1
    assert len(commits(bare)) == 1


def test_a_later_source_commit_is_never_replaced_by_an_earlier_one(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    late = publish(bare, 5, "v2", "--source-time", "1700000100")
    assert late.returncode == 0, late.output
    early = publish(bare, 5, "v1", "--source-time", "1700000000")
    assert early.returncode == 0, early.output
    assert early.stdout.startswith("superseded:")
    assert "image-tag: v2" in files(bare)["environments/shop-5.yaml"]
    later = publish(bare, 5, "v3", "--source-time", "2023-11-14T22:20:00Z")
    assert later.returncode == 0, later.output
    assert "image-tag: v3" in files(bare)["environments/shop-5.yaml"]
    assert len(commits(bare)) == 3


def test_an_environment_is_published_and_retired_like_an_ep(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    done = publish(bare, 8, "v1", "--kind", "Environment")
    assert done.returncode == 0, done.output
    assert "published Environment/pr-8-shop to environments/pr-8-shop.yaml" in done.stdout
    env = yaml.safe_load(files(bare)["environments/pr-8-shop.yaml"])
    assert (env["apiVersion"], env["kind"]) == ("tronador.stakater.com/v1alpha2", "Environment")
    assert git("log", "-1", "--format=%s", cwd=bare).startswith(
        "tronador publish Environment/pr-8-shop (shop PR #8, image tag v1)"
    )
    gone = retire(bare, 8, "--kind", "Environment")
    assert gone.returncode == 0, gone.output
    assert "environments/pr-8-shop.yaml" not in files(bare)


def test_publish_under_the_pipelines_tenant_refuses_another_claimed_by_the_pr(
    tmp_path: Path,
) -> None:
    """The app's .tronador.yaml (the PR's) claims tenant veeru; a pipeline of team-a publishes
    with --tenant team-a: denied (exit 1), naming the rule, and nothing pushed."""
    bare = bare_repo(tmp_path)
    before = commits(bare)
    denied = publish(bare, 4, "v1", "--tenant", "team-a")
    assert denied.returncode == 1, denied.output
    assert "(rule publish-tenant)" in denied.stderr
    assert "claims tenant 'veeru'; this pipeline publishes for 'team-a'" in denied.stderr
    assert commits(bare) == before
    allowed = publish(bare, 4, "v1", "--tenant", "veeru")
    assert allowed.returncode == 0, allowed.output
    assert "environments/shop-4.yaml" in files(bare)
