"""The controller as the realapi lane runs it: its ServiceAccount, resync and leader election."""

from __future__ import annotations

from controller.leaderelection import LeaderElectionConfig
from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE

CONTROLLER = "tronador-controller"
CONTROLLER_USER = f"system:serviceaccount:{DEFAULT_SYSTEM_NAMESPACE}:{CONTROLLER}"
RESYNC = 0.5
"""Seconds between resyncs: short, so an idle stretch of a few seconds spans several."""
ELECTION = LeaderElectionConfig(
    identity="realapi", lease_duration=4.0, renew_deadline=3.0, retry_period=0.5
)
