"""Retry delays: exponential backoff with full jitter, shared by every retry loop."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Exponential backoff with full jitter in [delay/2, delay]."""

    base: float
    maximum: float
    rng: Callable[[], float] = field(default=random.random)

    def delay(self, failures: int) -> float:
        exponent = min(max(failures - 1, 0), 62)
        raw = min(self.base * (2**exponent), self.maximum)
        return raw / 2 + raw / 2 * self.rng()
