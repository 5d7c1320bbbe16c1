"""Where Tronador runs (the namespace of the TronadorConfig singleton, the webhook's Service and
Secret, the controller's Lease): one rule for every part, so they all read the same config."""

from __future__ import annotations

import os
from collections.abc import Mapping

from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE

NAMESPACE_ENV = ("TRONADOR_NAMESPACE", "POD_NAMESPACE")
"""Read in this order: an explicit setting, then the pod's own namespace (downward API)."""

NAMESPACE_HELP = "env TRONADOR_NAMESPACE, then POD_NAMESPACE, default tronador-system"


def system_namespace(env: Mapping[str, str] = os.environ) -> str:
    """TRONADOR_NAMESPACE, then POD_NAMESPACE (the first set and not empty), then the default."""
    for name in NAMESPACE_ENV:
        value = env.get(name)
        if value:
            return value
    return DEFAULT_SYSTEM_NAMESPACE
