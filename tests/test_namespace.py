"""One rule for the namespace Tronador runs in, read alike by every part (webhook, audit,
controller, certs): TRONADOR_NAMESPACE, then POD_NAMESPACE, then tronador-system."""

from __future__ import annotations

import pytest

from tronador.cli import build_parser
from tronador.namespace import system_namespace

PARTS = (
    ["webhook"],
    ["audit"],
    ["controller"],
    ["certs", "status"],
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "tronador-system"),
        ({"POD_NAMESPACE": "pod-ns"}, "pod-ns"),
        ({"TRONADOR_NAMESPACE": "set-ns", "POD_NAMESPACE": "pod-ns"}, "set-ns"),
        ({"TRONADOR_NAMESPACE": "", "POD_NAMESPACE": "pod-ns"}, "pod-ns"),
    ],
)
def test_the_resolver(env: dict[str, str], expected: str) -> None:
    assert system_namespace(env) == expected


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"POD_NAMESPACE": "pod-ns"},
        {"TRONADOR_NAMESPACE": "set-ns", "POD_NAMESPACE": "pod-ns"},
    ],
)
def test_every_part_reads_the_same_namespace(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name in ("TRONADOR_NAMESPACE", "POD_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    seen = {part[0]: build_parser().parse_args(part).namespace for part in PARTS}
    assert set(seen.values()) == {system_namespace(env)}, seen
