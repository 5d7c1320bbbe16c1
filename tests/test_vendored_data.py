"""The vendored test data is what its SOURCES.txt says it is: every schema file's sha256 matches."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.seeds import SCHEMAS, SEEDS

SCHEMA_SETS = ("flux", "tekton", "prometheus-operator")


def recorded_checksums(sources_text: str) -> dict[str, str]:
    """File name -> sha256, read from a SOURCES.txt (a file name line, later its sha256 line)."""
    checksums: dict[str, str] = {}
    current: str | None = None
    for line in sources_text.splitlines():
        named = re.match(r"\s*(?:\d+\.\s+)?(\S+\.yaml)\b", line)
        if named:
            current = named.group(1)
        digest = re.match(r"\s*sha256:\s+([0-9a-f]{64})", line)
        if digest and current:
            checksums[current] = digest.group(1)
    return checksums


@pytest.mark.parametrize("schema_set", SCHEMA_SETS)
def test_every_vendored_schema_matches_its_recorded_sha256(schema_set: str) -> None:
    folder = SCHEMAS / schema_set
    checksums = recorded_checksums((folder / "SOURCES.txt").read_text(encoding="utf-8"))
    files = sorted(p.name for p in folder.glob("*.yaml"))
    assert files and sorted(checksums) == files
    for name, digest in checksums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_recorded_checksums_reads_each_file_once_with_its_digest() -> None:
    text = "1. a.yaml   (3 bytes)\n   sha256:  " + "0" * 64 + "\nb.yaml\n   sha256:  " + "1" * 64
    assert recorded_checksums(text) == {"a.yaml": "0" * 64, "b.yaml": "1" * 64}


def test_seed_examples_are_present() -> None:
    assert {p.name for p in SEEDS.glob("*.yaml")} == {
        "tronador.yaml",
        "environment-provisioner.yaml",
        "helm-release.yaml",
    }
