"""Small helpers for tests that talk to the emulated API server through the real client."""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client import ApiException


def error_status(exc: ApiException) -> dict[str, Any]:
    """The Status body the server answered with."""
    return json.loads(exc.body or "{}")
