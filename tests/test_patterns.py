"""Every regular expression in product code is linear-time (RE2) or bounded in length
(tronador/patterns.py), and the bounded ones are the reviewed list below: adding a pattern any
other way fails here."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

from tronador import patterns
from tronador.api.formats import PLACEHOLDER_RE, placeholder_name

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("tronador", "kube", "webhook", "controller", "certs", "gitops")
REVIEWED_BOUNDED = {
    # (pattern, bound): each anchored, one quantified class at most nested once; at the bound
    # the worst case is microseconds.
    (r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", 253),
    (r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", 253),
    (r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", 253),
    (r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", 253),
    (r"^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$", 255),
    (r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", 128),
    (r"[0-9]+", 20),
    (r"^[0-9a-f]{40}$", 40),
    (r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", 253),
    (r"^[A-Za-z0-9._-]{1,100}$", 100),
    (r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$", 64),
    (r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", 1024),
}
RE_CALLS = {
    "compile",
    "match",
    "search",
    "fullmatch",
    "sub",
    "subn",
    "findall",
    "finditer",
    "split",
}


def _product_files() -> list[Path]:
    return [p for package in PRODUCT for p in sorted((ROOT / package).rglob("*.py"))]


def uses_of_re(source: str) -> list[int]:
    """Lines calling `re.<function>` or importing from `re` (the only way around patterns.py)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("re", "regex")
            and node.func.attr in RE_CALLS
        ) or (isinstance(node, ast.ImportFrom) and node.module in ("re", "regex")):
            lines.append(node.lineno)
    return lines


def test_no_product_module_uses_re_but_the_patterns_module() -> None:
    found = {
        str(path.relative_to(ROOT)): lines
        for path in _product_files()
        if path != ROOT / "tronador" / "patterns.py" and (lines := uses_of_re(path.read_text()))
    }
    assert found == {}


def test_the_check_finds_a_backtracking_pattern_added_with_re() -> None:
    added = 'import re\nEVIL = re.compile(r"(a+)+$")\nre.sub(r"x*y", "", text)\n'
    assert uses_of_re(added) == [2, 3]


def _import_product() -> None:
    for package in PRODUCT:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)


def test_every_bounded_pattern_is_reviewed() -> None:
    _import_product()
    bounded = {(p, n) for kind, p, n in patterns.REGISTERED if kind == "bounded"}
    assert bounded <= REVIEWED_BOUNDED, bounded - REVIEWED_BOUNDED
    assert any(kind == "linear" for kind, _, _ in patterns.REGISTERED)


def test_a_bounded_pattern_never_runs_on_longer_text() -> None:
    """`(a+)+$` on 40 a's and a b would take 2^40 steps: the bound in front never lets it run."""
    evil = patterns.bounded(r"(a+)+$", 24)
    assert evil.fullmatch("a" * 40 + "b") is None
    assert evil.search("a" * 24) is not None
    with pytest.raises(ValueError, match="longer than 24"):
        evil.sub("", "a" * 25)


def test_the_placeholder_pattern_finds_placeholders_with_any_spacing() -> None:
    text = "a {{APPLICATION_IMAGE_NAME}} b {{ APPLICATION_IMAGE_TAG\n}} c {{}} {{ x {{y}}"
    names = [placeholder_name(m) for m in PLACEHOLDER_RE.finditer(text)]
    assert names == ["APPLICATION_IMAGE_NAME", "APPLICATION_IMAGE_TAG", "", "y"]
    assert PLACEHOLDER_RE.search("{{" + " " * 100_000) is None
