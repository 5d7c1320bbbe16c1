"""Markdown tables of the benchmark: a note row (a skipped or failed server) fits any header."""

from __future__ import annotations

import pytest

from bench.report import table


def test_a_short_row_is_padded_to_the_header() -> None:
    text = table(
        ["server", "case", "req/s"],
        [["kopf", "skipped: kopf not installed"], ["ours", "seed", 1.5]],
    )
    lines = text.splitlines()
    assert len(lines) == 4
    assert all(line.count("|") == 4 for line in lines)
    assert lines[2].split("|")[1:3] == [" kopf   ", " skipped: kopf not installed "]


def test_a_row_longer_than_the_header_is_an_error() -> None:
    with pytest.raises(ValueError, match="3 cells for 2 columns"):
        table(["a", "b"], [[1, 2, 3]])
