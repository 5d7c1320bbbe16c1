from __future__ import annotations

import pytest

from tests.reliability.fuzzcount import summary_lines

pytest_plugins = ["tests.apiserver.fixtures"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in summary_lines():
        terminalreporter.write_line(line)
