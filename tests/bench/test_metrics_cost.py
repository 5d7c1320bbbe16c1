"""bench/metrics_cost.py keeps working: it prints a figure for every row (no timing asserted)."""

from __future__ import annotations

import pytest

from bench import metrics_cost


def test_metrics_cost_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert metrics_cost.main(["--budget", "0.01", "--eps", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 4
    for line in lines[2:]:
        figure = line.split("|")[2].strip()
        assert float(figure) > 0, line
