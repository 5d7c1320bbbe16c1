"""/metrics is valid Prometheus text (format 0.0.4) from prometheus_client, and counts by route,
verdict and rule."""

from __future__ import annotations

import time

from tests.metrics_text import parse_exposition, value
from tests.webhook.conftest import TLSFiles
from tests.webhook.helpers import (
    CONFIG_KIND,
    CONFIG_RESOURCE,
    RunningWebhook,
    StaticPolicySource,
    review,
    running_webhook,
    seed_ep,
)
from tronador.api import Policy
from webhook import routes
from webhook.metrics import CONTENT_TYPE


async def test_metrics_count_requests_by_route_operation_verdict_and_rule(
    webhook: RunningWebhook, tls_files: TLSFiles
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
    ca_expiry = value(families, "tronador_webhook_ca_expiry_timestamp_seconds")
    assert ca_expiry == tls_files.ca.cert.not_valid_after_utc.timestamp()
    synced = value(families, "tronador_webhook_policy_last_sync_timestamp_seconds")
    assert 0 < synced <= time.time()
    assert value(families, "tronador_webhook_ready") == 1

    assert families["process_resident_memory_bytes"].type == "gauge"
    assert value(families, "process_resident_memory_bytes") > 0
    assert families["process_cpu_seconds_total"].type == "counter"
    assert value(families, "python_gc_collections_total", generation="0") >= 0
    assert families["python_gc_collections_total"].samples


async def test_two_webhooks_in_one_process_count_apart(
    webhook: RunningWebhook, tls_files: TLSFiles, seed_policy: Policy
) -> None:
    second_source = StaticPolicySource(seed_policy)
    async with running_webhook(second_source, tls_files.cert, tls_files.key, tls_files.ca) as other:
        await other.post(routes.VALIDATE_ENVIRONMENT_PROVISIONERS, review("CREATE", seed_ep()))
        families = parse_exposition((await other.get(routes.METRICS)).text)
    first = parse_exposition((await webhook.get(routes.METRICS)).text)
    requests = "tronador_webhook_requests_total"
    labels = {"route": routes.VALIDATE_ENVIRONMENT_PROVISIONERS, "operation": "CREATE"}
    assert value(families, requests, **labels, verdict="allowed") == 1
    assert value(first, requests, **labels, verdict="allowed") == 0
    assert "process_resident_memory_bytes" in first
