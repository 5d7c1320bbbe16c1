"""Reading a TronadorConfig from a file (for the CLI and for running the webhook off-cluster)."""

from __future__ import annotations

from pathlib import Path

from tronador.api import Policy, TronadorConfig
from tronador.rules.config_rules import validate_tronador_config
from tronador.yamlio import DocumentError, load_all, read_text


class ConfigFileError(ValueError):
    """A TronadorConfig file that cannot be used; the message says where and why."""


def load_tronador_config(path: str | Path) -> TronadorConfig:
    source = str(path)
    try:
        text, _ = read_text(str(path))
        docs = load_all(text, source)
    except DocumentError as exc:
        raise ConfigFileError(str(exc)) from None
    configs = [d for d in docs if isinstance(d, dict) and d.get("kind") == "TronadorConfig"]
    if len(configs) != 1:
        raise ConfigFileError(f"{source}: expected one TronadorConfig, found {len(configs)}")
    findings = validate_tronador_config(configs[0])
    if not findings.allowed:
        raise ConfigFileError("; ".join(f"{source}: {v}" for v in findings.violations))
    return TronadorConfig.model_validate(configs[0])


def load_policy(path: str | Path | None) -> Policy:
    """The policy in the file, or the documented defaults when no file is given."""
    return Policy() if path is None else load_tronador_config(path).spec.policy
