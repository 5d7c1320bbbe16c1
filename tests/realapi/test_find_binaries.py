"""Finding the control-plane binaries (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.realapi.controlplane import ENV_VAR, find_binaries

pytestmark = pytest.mark.realapi


def test_unset_variable_is_named_in_the_reason() -> None:
    reason = find_binaries({})
    assert isinstance(reason, str)
    assert ENV_VAR in reason


def test_folder_without_binaries_names_the_missing_one(tmp_path: Path) -> None:
    assert find_binaries({ENV_VAR: str(tmp_path)}) == (
        f"{ENV_VAR}={tmp_path}: no executable kube-apiserver there"
    )
