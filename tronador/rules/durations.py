"""Durations as admins write them in annotations and policy: `72h`, `1h30m`, `7d`, `45m`."""

from __future__ import annotations

from datetime import timedelta

from tronador.patterns import linear

_PART = linear(r"(\d+)(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta | None:
    """The duration `text` denotes, or None when it is not of the form `<n><d|h|m|s>...`."""
    text = text.strip()
    if not text or _PART.sub("", text):
        return None
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    return timedelta(seconds=seconds) if seconds > 0 else None
