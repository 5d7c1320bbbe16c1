"""Local bare GitOps repositories and `tronador publish|retire` run as separate processes, as
pipelines run them."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_CONFIG = ROOT / "examples" / "tronador.yaml"
POLICY = ROOT / "examples" / "tronador-config.yaml"
APP_ORG = "https://github.com/stakater-lab"
"""An org the example policy allows charts from."""


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=seed", "-c", "user.email=seed@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def bare_repo(tmp_path: Path, name: str = "gitops.git") -> Path:
    """A bare repository with one commit on `main`, logging every ref update."""
    bare = tmp_path / name
    git("init", "-q", "--bare", "-b", "main", str(bare))
    git("config", "core.logAllRefUpdates", "true", cwd=bare)
    seed = tmp_path / f"{name}-seed"
    git("init", "-q", "-b", "main", str(seed))
    (seed / "README.md").write_text("GitOps repository\n")
    git("add", "README.md", cwd=seed)
    git("commit", "-q", "-m", "initial", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    return bare


def files(bare: Path, branch: str = "main") -> dict[str, str]:
    names = git("ls-tree", "-r", "--name-only", branch, cwd=bare).split()
    return {n: git("show", f"{branch}:{n}", cwd=bare) for n in names}


def commits(bare: Path, branch: str = "main") -> list[str]:
    return git("rev-list", branch, cwd=bare).split()


def touched(bare: Path, commit: str) -> list[str]:
    return git("diff-tree", "--no-commit-id", "--name-only", "-r", commit, cwd=bare).split()


def forced_updates(bare: Path, branch: str = "main") -> list[str]:
    """Reflog entries of the bare repository that were not fast-forwards."""
    log = (bare / "logs" / "refs" / "heads" / branch).read_text().splitlines()
    bad = []
    previous = None
    for entry in log:
        old, new = entry.split()[:2]
        zero = set(old) == {"0"}
        if previous is not None and old != previous:
            bad.append(f"{entry}: does not start where the last update ended")
        elif not zero:
            ancestor = subprocess.run(
                ["git", "merge-base", "--is-ancestor", old, new], cwd=bare, check=False
            )
            if ancestor.returncode != 0:
                bad.append(f"{entry}: not a fast-forward")
        previous = new
    return bad


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def command(action: str, bare: Path | str, *args: str) -> list[str]:
    return [sys.executable, "-m", "tronador", action, "--gitops-repo", str(bare), *args]


def render_args(pr: int | str, tag: str = "v1", repo: str = "shop") -> list[str]:
    return [
        "--config-file", str(APP_CONFIG),
        "--repo-url", f"{APP_ORG}/{repo}",
        "--ref", f"feature-{pr}",
        "--pr", str(pr),
        "--image-name", f"registry.example.com/{repo}",
        "--image-tag", tag,
    ]  # fmt: skip


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRONADOR_", "GIT_"))}
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **(extra or {})}


def start(
    action: str, bare: Path | str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(action, bare, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(env),
        cwd=ROOT,
    )


def finish(process: subprocess.Popen[str], timeout: float = 120) -> Run:
    stdout, stderr = process.communicate(timeout=timeout)
    return Run(process.returncode, stdout, stderr)


def tronador(action: str, bare: Path | str, *args: str, env: dict[str, str] | None = None) -> Run:
    return finish(start(action, bare, *args, env=env))


def publish(bare: Path | str, pr: int | str, tag: str = "v1", *args: str) -> Run:
    return tronador("publish", bare, *render_args(pr, tag), "--config", str(POLICY), *args)


def retire(bare: Path | str, pr: int | str, *args: str) -> Run:
    return tronador("retire", bare, "--repo-url", f"{APP_ORG}/shop", "--pr", str(pr), *args)
