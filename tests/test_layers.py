"""The static checks of the codebase run with the tests, so the README's test command catches what
CI does: the import contracts of pyproject.toml (import-linter: api <- rules <- kube <- edges, the
edges never import each other, the core never imports an edge but for the CLI) and no unused
product code (vulture, with `vulture_whitelist.py` for names only a framework calls)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_import_contracts_hold() -> None:
    done = _run("lint-imports")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_no_unused_product_code() -> None:
    done = _run("vulture")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_vulture_reports_an_unused_function(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text(
        "def used():\n    pass\n\n\ndef unused():\n    pass\n\n\nused()\n"
    )
    done = _run("vulture", "--min-confidence", "60", "module.py", cwd=tmp_path)
    assert done.returncode != 0 and "unused function 'unused'" in done.stdout


def test_an_edge_importing_another_edge_breaks_a_contract(tmp_path: Path) -> None:
    for package, body in {
        "lower": "",
        "edge_a": "",
        "edge_b": "import edge_a\n",
    }.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body)
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_packages =\n    lower\n    edge_a\n    edge_b\n\n"
        "[importlinter:contract:layers]\nname = edges\ntype = layers\n"
        "layers =\n    edge_a | edge_b\n    lower\n"
    )
    done = _lint_imports(tmp_path)
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout + done.stderr


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the packages and contracts under `root`."""
    return subprocess.run(
        [str(BIN / "lint-imports")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PYTHONPATH": str(root), "PATH": str(BIN)},
    )


def test_the_real_contracts_fail_when_the_core_imports_an_edge(tmp_path: Path) -> None:
    """The project's own contracts, on a copy of its packages where a rule module imports the
    webhook: lint-imports must say BROKEN (and passes on the untouched copy)."""
    import shutil

    for package in ("tronador", "kube", "webhook", "controller", "certs", "gitops"):
        shutil.copytree(ROOT / package, tmp_path / package)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")

    clean = _lint_imports(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    rule = tmp_path / "tronador" / "rules" / "validate.py"
    rule.write_text(rule.read_text() + "\nimport webhook.server  # noqa: E402, F401\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode != 0 and "BROKEN" in broken.stdout, broken.stdout + broken.stderr
