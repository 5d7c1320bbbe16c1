"""The alert rules: promtool checks them and runs their unit tests (every alert fires when it
should and stays silent when it should not), and every alert has a runbook."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.manifests.render import BASE, need_kubectl, of_kind, render, webhooks
from tests.monitoring.component import OVERLAY, RUNBOOKS, alerts, rule_groups
from tests.tools import need_tool
from webhook.metrics import LATENCY_BUCKETS

CASES = Path(__file__).with_name("alerts.test.yaml")


def _promtool() -> str:
    return need_tool("promtool", "the alert rules are checked and tested with promtool")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _write_rules(path: Path, groups: list[dict[str, Any]]) -> None:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))


def _without_annotations(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """promtool's unit tests compare annotations too; the cases test when alerts fire, and
    `promtool check rules` checks the annotation templates."""
    bare = copy.deepcopy(groups)
    for group in bare:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return bare


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    _write_rules(tmp_path / "rules.yaml", rule_groups())
    done = _run("check", "rules", "rules.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule_groups())} rules found" in done.stdout


def test_the_shipped_rule_is_the_tested_source() -> None:
    need_kubectl()
    (shipped,) = of_kind(render(OVERLAY), "PrometheusRule")
    assert shipped["spec"]["groups"] == rule_groups()


def test_every_alert_fires_and_stays_silent_as_its_promtool_cases_say(tmp_path: Path) -> None:
    _write_rules(tmp_path / "rules.yaml", _without_annotations(rule_groups()))
    shutil.copy(CASES, tmp_path / CASES.name)
    done = _run("test", "rules", CASES.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_cases_cover_every_alert_firing_and_silent() -> None:
    cases = yaml.safe_load(CASES.read_text())
    firing: set[str] = set()
    silent: set[str] = set()
    for case in cases["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert len(names) == len(alerts()), "two alerts share a name"
    assert names - firing == set(), "alerts never shown firing"
    assert names - silent == set(), "alerts never shown silent"


def test_a_broken_rule_fails_its_cases(tmp_path: Path) -> None:
    groups = _without_annotations(rule_groups())
    for group in groups:
        for rule in group["rules"]:
            if rule["alert"] == "TronadorPolicyNotSynced":
                rule["expr"] = rule["expr"].replace("> 600", "> 6000")
    _write_rules(tmp_path / "rules.yaml", groups)
    shutil.copy(CASES, tmp_path / CASES.name)
    done = _run("test", "rules", CASES.name, cwd=tmp_path)
    assert done.returncode != 0
    assert "TronadorPolicyNotSynced" in done.stdout + done.stderr


def _anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


def test_every_alert_links_to_its_runbook_paragraph() -> None:
    text = RUNBOOKS.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (\S+)\n\n(.+?)(?=^#|\Z)", text, re.MULTILINE | re.DOTALL))
    for rule in alerts():
        name = rule["alert"]
        assert rule["annotations"]["runbook_url"] == f"docs/monitoring.md#{_anchor(name)}"
        assert name in sections, f"no runbook section '### {name}' in {RUNBOOKS.name}"
        assert len(sections[name].split()) >= 30, f"the runbook of {name} is too short"
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}


def test_the_latency_alert_stays_under_every_webhook_timeout() -> None:
    need_kubectl()
    timeouts = [hook["timeoutSeconds"] for _, hook in webhooks(render(BASE))]
    (rule,) = [r for r in alerts() if r["alert"] == "TronadorWebhookLatencyNearTimeout"]
    threshold = float(re.findall(r">\s*([0-9.]+)\s*$", rule["expr"])[0])
    assert threshold == pytest.approx(0.8 * min(timeouts))
    assert threshold < max(LATENCY_BUCKETS), "p99 could never be seen above the threshold"
