"""What the `tronador` command and its component commands share: the one-line error and the
options several of them take. The component commands import this, never `tronador.cli` (the
composition root, which imports them)."""

from __future__ import annotations

import argparse


class CliError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


def add_app_config_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The application's .tronador.yaml: `--app-config`, and its older name `--config-file`
    (easily taken for `--config`, the TronadorConfig)."""
    parser.add_argument(
        "--app-config",
        "--config-file",
        dest="config_file",
        metavar="FILE",
        default=".tronador.yaml",
        help="the application's .tronador.yaml (default: .tronador.yaml); --config-file is the "
        "older name",
    )
