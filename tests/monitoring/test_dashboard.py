"""The dashboard's and the alerts' PromQL: every dashboard expression parses (promtool, as a
recording rule), and every metric they read is in the /metrics output of a running webhook or
controller."""

from __future__ import annotations

import contextlib
import subprocess
import urllib.request
from pathlib import Path

import yaml

from controller.runtime import Replica
from tests.apiserver import EmulatedAPIServer, Fault
from tests.controller.harness import Cluster, settings
from tests.controller.test_extras import _external_auth
from tests.metrics_text import parse_exposition
from tests.monitoring.component import (
    PROMETHEUS_METRICS,
    alerts,
    dashboard,
    dashboard_exprs,
    metric_names,
)
from tests.tools import need_tool
from tests.webhook.helpers import StaticPolicySource, review, running_webhook, seed_config, seed_ep
from tests.webhook.pki import install_pair, issue_serving_pair, make_ca
from tronador.api import Policy
from webhook import routes

WEBHOOK, CONTROLLER, PROCESS = "tronador_webhook_", "tronador_controller_", ("process_", "python_")


def _read_names() -> set[str]:
    exprs = dashboard_exprs() + [rule["expr"] for rule in alerts()]
    return set().union(*(metric_names(expr) for expr in exprs)) - PROMETHEUS_METRICS


def _served(text: str) -> set[str]:
    return {sample for family in parse_exposition(text).values() for sample, _ in family.samples}


def _check_rules(tmp_path: Path, rules: list[dict[str, str]]) -> subprocess.CompletedProcess[str]:
    """`promtool check rules` on one rule group holding `rules`."""
    promtool = need_tool("promtool", "the dashboard's PromQL is parsed by promtool")
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]})
    )
    return subprocess.run(
        [promtool, "check", "rules", "rules.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    exprs = dashboard_exprs()
    assert exprs
    rules = [{"record": f"tronador:dashboard:{n}", "expr": e} for n, e in enumerate(exprs)]
    done = _check_rules(tmp_path, rules)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout


def test_a_broken_expression_is_caught(tmp_path: Path) -> None:
    rules = [{"record": "tronador:dashboard:broken", "expr": "sum by (le (rate(x[5m]))"}]
    done = _check_rules(tmp_path, rules)
    assert done.returncode != 0


def test_the_dashboard_shows_what_the_issue_asks_for() -> None:
    exprs = " ".join(dashboard_exprs())
    for needed in (
        "sum by (route, verdict) (rate(tronador_webhook_requests_total",
        "histogram_quantile(0.99, sum by (le, route) (rate(tronador_webhook_request_duration",
        "sum by (rule) (rate(tronador_webhook_denials_total",
        "tronador_controller_reconciles_total",
        "tronador_controller_reconcile_duration_seconds_bucket",
        "max by (phase) (tronador_controller_environments)",
        "tronador_webhook_certificate_expiry_timestamp_seconds",
        "tronador_webhook_ca_expiry_timestamp_seconds",
    ):
        assert needed in exprs, needed
    assert all(panel.get("targets") for panel in dashboard()["panels"] if panel["type"] != "row")


def test_every_metric_read_belongs_to_the_webhook_the_controller_or_their_processes() -> None:
    names = _read_names()
    assert names
    assert {n for n in names if not n.startswith((WEBHOOK, CONTROLLER, *PROCESS))} == set()


async def test_every_webhook_metric_read_is_served_by_a_running_webhook(tmp_path: Path) -> None:
    ca = make_ca()
    install_pair(issue_serving_pair(ca), tmp_path / "tls.crt", tmp_path / "tls.key")
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
    ep = seed_ep()
    ep["spec"]["namespaceLabels"]["stakater.com/tenant"] = "not-allowed"
    policy = Policy.model_validate(seed_config()["spec"]["policy"])
    source = StaticPolicySource(policy)
    async with running_webhook(source, tmp_path / "tls.crt", tmp_path / "tls.key", ca) as webhook:
        await webhook.post(routes.VALIDATE_ENVIRONMENT_PROVISIONERS, review("CREATE", ep))
        served = _served((await webhook.get(routes.METRICS)).text)
    wanted = {n for n in _read_names() if n.startswith((WEBHOOK, *PROCESS))}
    assert wanted - served == set()


def test_every_controller_metric_read_is_served_by_a_running_controller(
    apiserver: EmulatedAPIServer,
) -> None:
    cluster = Cluster(apiserver)
    cluster.seed_config(_external_auth)  # a kind the emulator does not serve: kind_refused
    cluster.create_ep()
    apiserver.faults.add(Fault(method="PATCH", path_regex=r"/status$", status=503, times=1))
    client = apiserver.api_client()
    replica = Replica(client, settings(), metrics_address="127.0.0.1:0")
    try:
        replica.start(sync_timeout=10)
        cluster.wait(lambda: cluster.condition("Ready").get("status") is not None)
        cluster.wait(lambda: cluster.condition("SecretsReady").get("reason") == "KindNotServed")
        port = replica.health.port  # type: ignore[union-attr]
        wanted = {n for n in _read_names() if n.startswith((CONTROLLER, *PROCESS))}

        def served() -> set[str]:
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                return _served(response.read().decode())

        # the EP stays queued (its refused kind is retried): wait for the series, not a settle
        with contextlib.suppress(TimeoutError):
            cluster.wait(lambda: wanted <= served(), timeout=10)
        missing = wanted - served()
    finally:
        replica.stop(timeout=5)
        client.close()
    assert missing == set()
