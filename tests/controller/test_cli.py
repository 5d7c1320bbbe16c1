from __future__ import annotations

import argparse

import pytest

from controller.cli import add_arguments, election_from_args, settings_from_args
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


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser, {})
    return parser.parse_args(argv)


def test_leader_election_is_on_by_default_with_client_go_timings() -> None:
    election = election_from_args(_args(["--namespace", "tronador"]))
    assert election is not None
    assert (election.lease_name, election.namespace) == ("tronador-controller", "tronador")
    assert (election.lease_duration, election.renew_deadline, election.retry_period) == (15, 10, 2)
    assert election.identity


def test_leader_election_flags() -> None:
    assert election_from_args(_args(["--no-leader-elect"])) is None
    election = election_from_args(
        _args(
            [
                "--lease-name",
                "l",
                "--lease-namespace",
                "elsewhere",
                "--lease-duration",
                "30s",
                "--renew-deadline",
                "20s",
                "--retry-period",
                "5s",
            ]
        )
    )
    assert election is not None
    assert (election.lease_name, election.namespace) == ("l", "elsewhere")
    assert (election.lease_duration, election.renew_deadline, election.retry_period) == (30, 20, 5)
    with pytest.raises(ValueError, match="lease_duration must be greater"):
        election_from_args(_args(["--renew-deadline", "20s"]))


def test_identity_names_the_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "tronador-controller-7d9f-abcde")
    first = election_from_args(_args([]))
    second = election_from_args(_args([]))
    assert first is not None and second is not None
    assert first.identity.startswith("tronador-controller-7d9f-abcde_")
    assert first.identity != second.identity


def test_metrics_address() -> None:
    assert _args([]).metrics_address == ":8080"
    assert _args(["--metrics-address", "127.0.0.1:0"]).metrics_address == "127.0.0.1:0"
