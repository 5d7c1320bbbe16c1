"""Fixtures shared by the tests that run publish/retire with the real git CLI."""

from __future__ import annotations

import pytest

from tests.tools import need_tool


@pytest.fixture
def real_git() -> None:
    need_tool("git", "publish/retire run the real git CLI")
