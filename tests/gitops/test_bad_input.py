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
    git,
    publish,
    retire,
    tronador,
)

pytestmark = pytest.mark.usefixtures("real_git")


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


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", ["--gitops-repo is empty"]),
        ("   ", ["--gitops-repo is empty"]),
        ("fd::3", ["remote helper"]),
        ("ext::sh -c touch% /tmp/pwned", ["remote helper"]),
        ("ftp://example.com/gitops.git", ["'ftp'"]),
        ("--upload-pack=touch /tmp/pwned", ["must not start with '-'"]),
        ("http://bot:SECRET@127.0.0.1:99999/org/gitops.git", ["not a valid URL"]),
        ("https://bot:SECRET@[::1/org/gitops.git", ["not a valid URL"]),
        ("https://example.com/gitops.git?private_token=SECRET", ["must not have a query"]),
    ],
)
def test_unusable_gitops_repositories_are_refused_before_git_runs(
    tmp_path: Path, url: str, words: list[str]
) -> None:
    """Each exits 2 with one line that never shows the credential: an empty URL used to commit
    into the current directory's repository, fd::3 hung to the deadline, a malformed URL's token
    was printed."""
    for run in (publish(url, 1), retire(url, 1)):
        line = one_line_error(run, 2, *words)
        assert "SECRET" not in run.stderr + run.stdout, line


def test_an_empty_gitops_repo_from_the_environment_is_refused(tmp_path: Path) -> None:
    run = tronador(
        "publish", "", "--file", str(tmp_path / "x.yaml"), env={"TRONADOR_GITOPS_REPO": ""}
    )
    one_line_error(run, 2, "--gitops-repo is empty")


def _with_link(tmp_path: Path, link: str, target: Path) -> Path:
    """A GitOps repository whose main branch commits `link`, a symbolic link to `target`."""
    bare = bare_repo(tmp_path)
    seed = tmp_path / "gitops.git-seed"
    (seed / link).parent.mkdir(parents=True, exist_ok=True)
    (seed / link).symlink_to(target)
    git("add", link, cwd=seed)
    git("commit", "-q", "-m", "a link", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    return bare


def test_a_symlinked_directory_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    bare = _with_link(tmp_path, "environments", outside)
    before = commits(bare)
    one_line_error(publish(bare, 1), 2, "environments is a symbolic link")
    assert list(outside.iterdir()) == []
    assert commits(bare) == before


def test_a_symlinked_file_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    bare = _with_link(tmp_path, "environments/shop-1.yaml", target)
    one_line_error(publish(bare, 1), 2, "environments/shop-1.yaml is a symbolic link")
    one_line_error(retire(bare, 1), 2, "symbolic link")
    assert target.read_text() == "keep me\n"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--branch", "refs/heads/x"], ["must be a branch's short name"]),
        (["--branch", "HEAD"], ["must be a branch's short name"]),
        (["--path-template", "environments/{name}\nx.yaml"], ["relative path"]),
    ],
)
def test_branches_and_paths_are_checked_as_git_would(
    tmp_path: Path, args: list[str], words: list[str]
) -> None:
    bare = bare_repo(tmp_path)
    before = commits(bare)
    one_line_error(publish(bare, 1, "v1", *args), 2, *words)
    assert commits(bare) == before


def test_a_ref_with_dots_a_zero_pr_and_a_token_in_the_repo_url_are_refused(
    tmp_path: Path,
) -> None:
    bare = bare_repo(tmp_path)
    base = [
        "--config-file", str(APP_CONFIG), "--image-name", "registry.example.com/shop",
        "--image-tag", "v1",
    ]  # fmt: skip
    ref = tronador("publish", bare, *base, "--repo-url", "https://github.com/a/shop",
                   "--ref", "a..b", "--pr", "1")  # fmt: skip
    one_line_error(ref, 2, "--ref 'a..b' is not a valid git ref name")
    zero = tronador("publish", bare, *base, "--repo-url", "https://github.com/a/shop",
                    "--ref", "main", "--pr", "0")  # fmt: skip
    one_line_error(zero, 2, "--pr '0'")
    token = tronador("publish", bare, *base, "--repo-url", "https://tok:SECRET@github.com/a/b",
                     "--ref", "main", "--pr", "1")  # fmt: skip
    one_line_error(token, 2, "not shown")
    assert "SECRET" not in token.stderr + token.stdout
