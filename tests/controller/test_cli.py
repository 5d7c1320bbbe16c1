from __future__ import annotations

import argparse

import pytest

from controller.cli import add_arguments, settings_from_args
from controller.settings import ReleaseFlavour, Settings, parse_seconds
from tronador.cli import build_parser


def _parse(argv: list[str], env: dict[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser()
    add_arguments(parser, env or {})
    return settings_from_args(parser.parse_args(argv))


def test_defaults() -> None:
    settings = _parse([])
    assert settings.namespace == "tronador-system"
    assert settings.flavour is ReleaseFlavour.FLUX_V2
    assert (settings.workers, settings.resync_period, settings.deletion_timeout) == (4, 600, 300)


def test_environment_fallbacks() -> None:
    env = {
        "POD_NAMESPACE": "tronador",
        "TRONADOR_RELEASE_FLAVOUR": "legacy",
        "TRONADOR_WORKERS": "8",
        "TRONADOR_RESYNC_PERIOD": "1h",
        "TRONADOR_DELETION_TIMEOUT": "90",
    }
    settings = _parse([], env)
    assert settings.namespace == "tronador"
    assert settings.flavour is ReleaseFlavour.LEGACY
    assert (settings.workers, settings.resync_period, settings.deletion_timeout) == (8, 3600, 90)


def test_flags_win_over_the_environment() -> None:
    settings = _parse(
        ["--namespace", "x", "--release-flavour", "flux-v2", "--resync-period", "30s"],
        {"TRONADOR_NAMESPACE": "y", "TRONADOR_RELEASE_FLAVOUR": "legacy"},
    )
    assert (settings.namespace, settings.flavour, settings.resync_period) == (
        "x",
        ReleaseFlavour.FLUX_V2,
        30,
    )


def test_bad_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        _parse(["--release-interval", "5 minutes"])
    with pytest.raises(ValueError):
        parse_seconds("soon")


def test_the_tronador_cli_has_the_controller_subcommand() -> None:
    args = build_parser().parse_args(["controller", "--workers", "2"])
    assert args.workers == 2
