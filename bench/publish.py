"""`python -m bench publish`: N pipelines publish N PRs' EPs into one local bare GitOps repository
at the same moment, each as its own `tronador publish` process; how long until all have landed,
and how many pushes were rejected and retried on the way.

A single publisher alone is timed too: most of one publisher's time is the Python start-up and
the git commands, which every pipeline pays with or without contention.
"""

from __future__ import annotations

import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import machine, report

ROOT = Path(__file__).resolve().parents[1]
APP_CONFIG = ROOT / "examples" / "tronador.yaml"
_ATTEMPTS = re.compile(r"(\d+) attempts?\)")


@dataclass(frozen=True)
class Settings:
    publishers: int = 10
    rounds: int = 3


SMOKE = Settings(publishers=3, rounds=1)


def _git(*args: str, cwd: Path | None = None) -> str:
    command = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True).stdout


def _bare_repo(where: Path) -> Path:
    bare, seed = where / "gitops.git", where / "seed"
    _git("init", "-q", "--bare", "-b", "main", str(bare))
    _git("config", "core.logAllRefUpdates", "true", cwd=bare)
    _git("init", "-q", "-b", "main", str(seed))
    (seed / "README.md").write_text("GitOps repository\n")
    _git("add", "README.md", cwd=seed)
    _git("commit", "-q", "-m", "initial", cwd=seed)
    _git("push", "-q", str(bare), "main", cwd=seed)
    return bare


def _publisher(bare: Path, pr: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tronador",
            "publish",
            "--gitops-repo",
            str(bare),
            "--config-file",
            str(APP_CONFIG),
            "--repo-url",
            "https://github.com/org/shop",
            "--ref",
            f"feature-{pr}",
            "--pr",
            str(pr),
            "--image-name",
            "registry.example.com/shop",
            "--image-tag",
            f"pr-{pr}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _children_cpu_seconds() -> float:
    """User + system CPU of every finished child process and the git commands they waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _fast_forwards_only(bare: Path) -> bool:
    log = (bare / "logs" / "refs" / "heads" / "main").read_text().splitlines()
    pairs = [line.split()[:2] for line in log]
    chained = all(pairs[i][0] == pairs[i - 1][1] for i in range(1, len(pairs)))
    return chained and all(
        subprocess.run(["git", "merge-base", "--is-ancestor", old, new], cwd=bare).returncode == 0
        for old, new in pairs[1:]
    )


def one_round(publishers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as scratch:
        bare = _bare_repo(Path(scratch))
        cpu_before = _children_cpu_seconds()
        started = time.perf_counter()
        processes = [_publisher(bare, pr) for pr in range(1, publishers + 1)]
        outputs = [p.communicate(timeout=300) for p in processes]
        elapsed = time.perf_counter() - started
        cpu = _children_cpu_seconds() - cpu_before
        attempts = [int(m.group(1)) if (m := _ATTEMPTS.search(out)) else 0 for out, _ in outputs]
        files = _git("ls-tree", "-r", "--name-only", "main", cwd=bare).split()
        commits = _git("rev-list", "main", cwd=bare).split()
        return {
            "seconds_to_all_landed": elapsed,
            "cpu_seconds": cpu,
            "attempts": attempts,
            "retries": sum(attempts) - publishers,
            "failed": [
                err.strip()
                for p, (_, err) in zip(processes, outputs, strict=True)
                if p.returncode != 0
            ],
            "all_landed": len(files) == publishers + 1 and len(commits) == publishers + 1,
            "fast_forwards_only": _fast_forwards_only(bare),
        }


def run(settings: Settings) -> dict[str, Any]:
    singles = [one_round(1) for _ in range(settings.rounds)]
    rounds = [one_round(settings.publishers) for _ in range(settings.rounds)]
    return {
        "machine": machine.describe(),
        "settings": asdict(settings),
        "single_publisher_s": statistics.median(r["seconds_to_all_landed"] for r in singles),
        "single_publisher_cpu_s": statistics.median(r["cpu_seconds"] for r in singles),
        "rounds": rounds,
        "ok": all(r["all_landed"] and r["fast_forwards_only"] and not r["failed"] for r in rounds),
    }


def tables(result: dict[str, Any]) -> str:
    info = result["machine"]
    rows = [
        [
            i + 1,
            r["seconds_to_all_landed"],
            r["cpu_seconds"],
            r["retries"],
            max(r["attempts"]),
            "yes" if r["all_landed"] else "NO",
            "yes" if r["fast_forwards_only"] else "NO",
        ]
        for i, r in enumerate(result["rounds"])
    ]
    n = result["settings"]["publishers"]
    return "\n".join(
        [
            f"### {n} concurrent publishers into one bare repository",
            f"- CPU: {info['cpu_model']}, nproc {info['nproc']}; Python {info['python']}",
            f"- one publisher alone: {result['single_publisher_s']:.2f} s, "
            f"{result['single_publisher_cpu_s']:.2f} CPU s (median)",
            "",
            report.table(
                [
                    "round",
                    "s to all landed",
                    "CPU s (all processes)",
                    "retries",
                    "max attempts",
                    "all landed",
                    "ff only",
                ],
                rows,
            ),
        ]
    )
