"""/metrics is valid Prometheus text (format 0.0.4) and counts by route, verdict and rule."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from tests.webhook.helpers import CONFIG_KIND, CONFIG_RESOURCE, RunningWebhook, review, seed_ep
from webhook import routes
from webhook.prometheus import CONTENT_TYPE, Counter, Histogram, Registry

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
                (k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
                for k, v in re.findall(LABEL, labels_text)
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
    return family.samples.get((sample, tuple(labels.items())), 0.0)


async def test_metrics_count_requests_by_route_operation_verdict_and_rule(
    webhook: RunningWebhook,
) -> None:
    mutate = routes.MUTATE_ENVIRONMENT_PROVISIONERS
    validate = routes.VALIDATE_ENVIRONMENT_PROVISIONERS
    forbidden = seed_ep()
    forbidden["spec"]["namespaceLabels"]["stakater.com/tenant"] = "gabbar"
    forbidden["spec"]["application"]["release"]["chart"]["git"] = "https://gitlab.com/x/y"
    await webhook.post(mutate, review("CREATE", seed_ep()))
    await webhook.post(validate, review("CREATE", seed_ep()))
    await webhook.post(validate, review("CREATE", forbidden))
    await webhook.post(validate, review("CREATE", forbidden, dry_run=True))
    await webhook.post(validate, review("DELETE", None, seed_ep()))
    await webhook.post_raw(validate, b"not json")
    await webhook.post(
        routes.VALIDATE_TRONADOR_CONFIGS,
        review("CREATE", {"metadata": {"name": "x"}}, kind=CONFIG_KIND, resource=CONFIG_RESOURCE),
    )

    async with webhook.session.get(webhook.url + routes.METRICS) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == CONTENT_TYPE
        families = parse_exposition(await resp.text())

    requests = "tronador_webhook_requests_total"
    assert families[requests].type == "counter"
    assert value(families, requests, route=mutate, operation="CREATE", verdict="patched") == 1
    assert value(families, requests, route=validate, operation="CREATE", verdict="allowed") == 1
    assert value(families, requests, route=validate, operation="CREATE", verdict="denied") == 2
    assert value(families, requests, route=validate, operation="DELETE", verdict="allowed") == 1
    assert value(families, requests, route=validate, operation="unknown", verdict="invalid") == 1

    denials = "tronador_webhook_denials_total"
    assert value(families, denials, route=validate, rule="tenant-allowed") == 2
    assert value(families, denials, route=validate, rule="chart-url-allowed") == 2
    assert value(families, denials, route=routes.VALIDATE_TRONADOR_CONFIGS, rule="singleton") == 1

    latency = "tronador_webhook_request_duration_seconds"
    assert families[latency].type == "histogram"
    assert value(families, f"{latency}_count", route=validate) == 5
    assert value(families, f"{latency}_count", route=mutate) == 1

    reloads = "tronador_webhook_certificate_reloads_total"
    assert value(families, reloads, result="loaded") == 1
    expiry = value(families, "tronador_webhook_certificate_expiry_timestamp_seconds")
    assert expiry == webhook.certificates.current.not_after.timestamp()  # type: ignore[union-attr]


def test_exposition_escapes_label_values_and_keeps_buckets_cumulative() -> None:
    registry = Registry()
    counter = registry.register(Counter("demo_total", "Demo.", ("path",)))
    histogram = registry.register(Histogram("demo_seconds", "Demo.", ("path",), (0.1, 1.0)))
    odd = 'a "quoted" \\ back\nslash'
    counter.inc(odd)
    counter.inc(odd, amount=2.5)
    for seconds in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(seconds, "/x")

    families = parse_exposition(registry.render())

    assert value(families, "demo_total", path=odd) == 3.5
    assert value(families, "demo_seconds_bucket", path="/x", le="0.1") == 2
    assert value(families, "demo_seconds_bucket", path="/x", le="1") == 3
    assert value(families, "demo_seconds_bucket", path="/x", le="+Inf") == 4
    assert value(families, "demo_seconds_sum", path="/x") == 3.65
