"""A minimal Prometheus text exposition (format 0.0.4): counters and histograms with labels.

Updates are a dict lookup and an add, with no lock: every update happens on the event loop's
thread. Rendering walks the series once per scrape.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import TypeVar

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{int(value)}" if float(value).is_integer() else repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


class _Scalar:
    kind = "untyped"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def expose(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.documentation}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labelnames, labels)} {_number(value)}"


class Counter(_Scalar):
    kind = "counter"

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self._values[labels] = self._values.get(labels, 0.0) + amount


class Gauge(_Scalar):
    kind = "gauge"

    def set(self, value: float, *labels: str) -> None:
        self._values[labels] = value


class _Series:
    __slots__ = ("counts", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)
        self.sum = 0.0


class Histogram:
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], _Series] = {}

    def observe(self, value: float, *labels: str) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = _Series(len(self.buckets))
        series.counts[bisect_left(self.buckets, value)] += 1
        series.sum += value

    def expose(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.documentation}"
        yield f"# TYPE {self.name} histogram"
        bounds = [*(_number(b) for b in self.buckets), "+Inf"]
        for labels, series in sorted(self._series.items()):
            cumulative = 0
            for bound, count in zip(bounds, series.counts, strict=True):
                cumulative += count
                le = _labels(self.labelnames, labels, f'le="{bound}"')
                yield f"{self.name}_bucket{le} {cumulative}"
            plain = _labels(self.labelnames, labels)
            yield f"{self.name}_sum{plain} {_number(series.sum)}"
            yield f"{self.name}_count{plain} {cumulative}"


Metric = Counter | Gauge | Histogram
M = TypeVar("M", Counter, Gauge, Histogram)


class Registry:
    def __init__(self) -> None:
        self._metrics: list[Metric] = []

    def register(self, metric: M) -> M:
        self._metrics.append(metric)
        return metric

    def render(self) -> str:
        lines = [line for metric in self._metrics for line in metric.expose()]
        return "\n".join(lines) + "\n"
