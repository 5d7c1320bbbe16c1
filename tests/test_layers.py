"""Layers import one way: the edges (webhook, controller, certs) never import each other, and
what they share (tronador/, e.g. tronador/metrics.py) imports none of them outside the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EDGES = ("webhook", "controller", "certs")
CLI_MODULES = {"tronador/cli.py", "tronador/__main__.py", "tronador/audit_cli.py"}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_edges_never_import_each_other() -> None:
    crossings = [
        f"{path.relative_to(ROOT)} imports {other}"
        for edge in EDGES
        for path in sorted((ROOT / edge).rglob("*.py"))
        for other in sorted(_imported_packages(path) & set(EDGES) - {edge})
    ]
    assert crossings == []


def test_the_shared_layer_imports_no_edge() -> None:
    crossings = [
        f"{path.relative_to(ROOT)} imports {edge}"
        for path in sorted((ROOT / "tronador").rglob("*.py"))
        if str(path.relative_to(ROOT)) not in CLI_MODULES
        for edge in sorted(_imported_packages(path) & set(EDGES))
    ]
    assert crossings == []
