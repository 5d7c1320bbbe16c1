"""A stateful Kubernetes API server emulated over HTTP, for tests driving the real client."""

from tests.apiserver.errors import APIError
from tests.apiserver.faults import Fault, FaultRules
from tests.apiserver.recorded import RecordedRequest
from tests.apiserver.resources import DEFAULT_RESOURCES, Resource
from tests.apiserver.server import EmulatedAPIServer
from tests.apiserver.store import WatchEvent

__all__ = [
    "DEFAULT_RESOURCES",
    "APIError",
    "EmulatedAPIServer",
    "Fault",
    "FaultRules",
    "RecordedRequest",
    "Resource",
    "WatchEvent",
]
