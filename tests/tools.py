"""External tools the tests use, and what happens when one is missing.

A tool the suite *needs* (kubectl, git, etcd, ...) is skipped with the reason on a user's machine,
but on CI (`CI=true`) its absence fails the test: a lane must never vanish from CI silently.
An *optional* tool (kopf, wrk) is only ever skipped: the code paths without it are tested anyway.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def run_tronador(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m tronador ARGS` from this checkout, in a child process (a bounded 120 s)."""
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(
        [sys.executable, "-m", "tronador", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=120,
        preexec_fn=preexec_fn,
        env={**os.environ, "PYTHONPATH": str(root), **(env or {})},
    )


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Skip with the reason, or fail on CI."""
    if on_ci():
        pytest.fail(f"{reason} (required on CI; .ci/run installs it)", pytrace=False)
    pytest.skip(reason)


def need_tool(name: str, what_for: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"`{name}` not found: {what_for}")
    assert path is not None
    return path


def optional_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"optional `{name}` not installed")
    return path


def optional_module(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"optional Python package `{name}` not installed")
