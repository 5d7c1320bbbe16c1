"""A strict reader of the Prometheus text format (0.0.4), for the tests of /metrics."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL},?)*)\}})? (\S+)$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}

Labels = tuple[tuple[str, str], ...]


@dataclass
class Family:
    type: str
    samples: dict[tuple[str, Labels], float] = field(default_factory=dict)


def parse_exposition(text: str) -> dict[str, Family]:
    """A strict reader of the text format: every sample belongs to a declared family, values are
    floats, label values are properly escaped, histograms are cumulative and consistent."""
    assert text.endswith("\n")
    families: dict[str, Family] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert re.match(rf"^# HELP {NAME} .+$", line), line
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in TYPES and name not in families, line
            families[name] = Family(kind)
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels_text, value = match.group(1), match.group(2) or "", match.group(5)
            family_name = _family_of(name, families)
            labels = tuple(
                sorted(
                    (k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
                    for k, v in re.findall(LABEL, labels_text)
                )
            )
            families[family_name].samples[(name, labels)] = float(value)
    for name, family in families.items():
        if family.type == "histogram":
            _check_histogram(name, family)
    return families


def _family_of(sample: str, families: dict[str, Family]) -> str:
    if sample in families:
        return sample
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample.removesuffix(suffix)
        if base != sample and families.get(base, Family("")).type == "histogram":
            return base
    raise AssertionError(f"sample {sample} has no # TYPE")


def _check_histogram(name: str, family: Family) -> None:
    buckets: dict[Labels, list[tuple[float, float]]] = defaultdict(list)
    for (sample, labels), value in family.samples.items():
        if sample == f"{name}_bucket":
            rest = tuple(kv for kv in labels if kv[0] != "le")
            le = dict(labels)["le"]
            buckets[rest].append((math.inf if le == "+Inf" else float(le), value))
    for labels, series in buckets.items():
        series.sort()
        counts = [count for _, count in series]
        assert counts == sorted(counts), f"{name}{labels} buckets are not cumulative"
        assert series[-1][0] == math.inf
        assert family.samples[(f"{name}_count", labels)] == series[-1][1]
        assert (f"{name}_sum", labels) in family.samples


def value(families: dict[str, Family], sample: str, **labels: str) -> float:
    family = families[_family_of(sample, families)]
    return family.samples.get((sample, tuple(sorted(labels.items()))), 0.0)
