"""Pipelines pushing to one GitOps repository at the same moment: every change lands, history
only fast-forwards, nobody's commit is dropped, and a file is always one publisher's whole file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.gitops.repos import (
    POLICY,
    bare_repo,
    commits,
    files,
    finish,
    forced_updates,
    render_args,
    start,
    touched,
)
from tests.tools import need_tool

PUBLISHERS = 10


@pytest.fixture(autouse=True)
def _git() -> None:
    need_tool("git", "publish/retire run the real git CLI")


def _publisher(bare: Path, pr: int, tag: str = "v1", *args: str) -> subprocess.Popen[str]:
    return start("publish", bare, *render_args(pr, tag), "--config", str(POLICY), *args)


def test_ten_publishers_for_ten_prs_all_land_as_fast_forwards(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    runs = [finish(p) for p in [_publisher(bare, pr) for pr in range(1, PUBLISHERS + 1)]]
    assert [r.returncode for r in runs] == [0] * PUBLISHERS, [r.output for r in runs]
    expected = {f"environments/shop-{pr}.yaml" for pr in range(1, PUBLISHERS + 1)}
    assert set(files(bare)) == expected | {"README.md"}
    history = commits(bare)
    assert len(history) == PUBLISHERS + 1
    assert sorted(f for c in history[:-1] for f in touched(bare, c)) == sorted(expected)
    assert all(len(touched(bare, c)) == 1 for c in history[:-1])
    assert forced_updates(bare) == []
    log = (bare / "logs" / "refs" / "heads" / "main").read_text().splitlines()
    assert len(log) == PUBLISHERS + 1


def test_a_publisher_racing_a_retire_of_another_pr(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    assert finish(_publisher(bare, 1)).returncode == 0
    for _ in range(3):
        retiring = start(
            "retire", bare, "--repo-url", "https://github.com/stakater-lab/shop", "--pr", "1"
        )
        publishing = _publisher(bare, 2)
        retired, published = finish(retiring), finish(publishing)
        assert retired.returncode == 0, retired.output
        assert published.returncode == 0, published.output
        assert set(files(bare)) == {"README.md", "environments/shop-2.yaml"}
        assert forced_updates(bare) == []
        # put PR 1 back and take PR 2 away for the next round
        assert finish(_publisher(bare, 1)).returncode == 0
        assert (
            finish(
                start(
                    "retire",
                    bare,
                    "--repo-url",
                    "https://github.com/stakater-lab/shop",
                    "--pr",
                    "2",
                )
            ).returncode
            == 0
        )


def test_the_same_pr_published_by_two_pipelines_at_once_newer_commit_wins(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    for round_ in range(3):
        older = _publisher(bare, 4, f"old{round_}", "--source-time", str(1700000000 + 10 * round_))
        newer = _publisher(bare, 4, f"new{round_}", "--source-time", str(1700000005 + 10 * round_))
        runs = [finish(older), finish(newer)]
        assert [r.returncode for r in runs] == [0, 0], [r.output for r in runs]
        ep = yaml.safe_load(files(bare)["environments/shop-4.yaml"])
        assert ep["metadata"]["annotations"]["tronador.stakater.com/image-tag"] == f"new{round_}"
        assert forced_updates(bare) == []
    assert all(len(touched(bare, c)) == 1 for c in commits(bare)[:-1])


def test_the_same_pr_without_source_times_leaves_one_whole_file(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path)
    runs = [finish(p) for p in [_publisher(bare, 6, "a"), _publisher(bare, 6, "b")]]
    assert [r.returncode for r in runs] == [0, 0], [r.output for r in runs]
    ep = yaml.safe_load(files(bare)["environments/shop-6.yaml"])
    assert ep["metadata"]["annotations"]["tronador.stakater.com/image-tag"] in ("a", "b")
    assert files(bare)["environments/shop-6.yaml"].count("apiVersion:") == 1
    assert forced_updates(bare) == []
