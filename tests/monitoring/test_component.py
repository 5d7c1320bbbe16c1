"""The monitoring component: off by default, renders with kustomize, every object valid against
the Kubernetes or the Prometheus Operator schema, and wired to what the base runs."""

from __future__ import annotations

import json

import yaml

from certs import defaults
from tests.manifests.checks import schema_problems
from tests.manifests.render import (
    BASE,
    CERT_MANAGER_OVERLAY,
    Obj,
    find,
    meta,
    name_of,
    need_kubectl,
    of_kind,
    pod_spec,
    render,
)
from tests.monitoring.component import COMPONENT, OVERLAY, operator_crds
from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE as NS
from tronador.api.crd import all_crds


def _monitored() -> list[Obj]:
    need_kubectl()
    return render(OVERLAY)


def test_the_component_is_a_component_and_off_by_default() -> None:
    component = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    assert component["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
    need_kubectl()
    groups = {str(o["apiVersion"]).split("/")[0] for o in render(BASE)}
    assert "monitoring.coreos.com" not in groups
    assert find(render(BASE), "ConfigMap", "tronador-dashboard", NS) is None
    assert find(render(OVERLAY), "ConfigMap", "tronador-dashboard", NS) is not None


def test_every_object_validates_against_its_schema() -> None:
    objects = _monitored()
    assert of_kind(objects, "ServiceMonitor") and of_kind(objects, "PrometheusRule")
    assert schema_problems(objects, [*all_crds().values(), *operator_crds()]) == []


def test_a_broken_servicemonitor_is_caught_by_the_schema() -> None:
    objects = _monitored()
    monitor = of_kind(objects, "ServiceMonitor")[0]
    monitor["spec"]["endpoints"][0]["scheme"] = "gopher"
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    problems = schema_problems([monitor], operator_crds())
    assert any("gopher" in p for p in problems), problems
    assert any("intervall" in p for p in problems), problems


def _services_selected(objects: list[Obj], monitor: Obj) -> list[Obj]:
    wanted = monitor["spec"]["selector"]["matchLabels"].items()
    namespaces = monitor["spec"]["namespaceSelector"]["matchNames"]
    return [
        service
        for service in of_kind(objects, "Service")
        if meta(service).get("namespace") in namespaces
        and wanted <= (meta(service).get("labels") or {}).items()
    ]


def test_each_servicemonitor_scrapes_a_named_port_of_exactly_one_service() -> None:
    objects = _monitored()
    monitors = {name_of(m): m for m in of_kind(objects, "ServiceMonitor")}
    assert set(monitors) == {"tronador-webhook", "tronador-controller"}
    for name, monitor in monitors.items():
        services = _services_selected(objects, monitor)
        assert [name_of(s) for s in services] == [name], name  # job label = Service name
        ports = {p["name"]: p for p in services[0]["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in ports
            assert endpoint["path"] == "/metrics"


def test_the_services_reach_the_containers_serving_metrics() -> None:
    objects = _monitored()
    for component, scheme in (("webhook", "https"), ("controller", "http")):
        deployment = find(objects, "Deployment", f"tronador-{component}", NS)
        assert deployment is not None
        service = find(objects, "Service", f"tronador-{component}", NS)
        assert service is not None
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        container_ports = {
            p["name"] for c in pod_spec(deployment)["containers"] for p in c.get("ports", [])
        }
        monitor = find(objects, "ServiceMonitor", f"tronador-{component}", NS)
        assert monitor is not None
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["scheme"] == scheme
        port = next(p for p in service["spec"]["ports"] if p["name"] == endpoint["port"])
        assert port["targetPort"] in container_ports


def test_the_webhook_is_scraped_over_tls_verified_by_its_own_ca() -> None:
    monitor = find(_monitored(), "ServiceMonitor", "tronador-webhook", NS)
    assert monitor is not None
    tls = monitor["spec"]["endpoints"][0]["tlsConfig"]
    assert "insecureSkipVerify" not in tls
    # The Secret `tronador certs` writes (and cert-manager, in components/cert-manager).
    assert tls["ca"]["secret"] == {"name": defaults.SECRET_NAME, "key": defaults.SECRET_CA_BUNDLE}
    assert tls["serverName"] == f"{defaults.SERVICE_NAME}.{NS}.svc"
    need_kubectl()
    cert_manager = render(CERT_MANAGER_OVERLAY)
    certificate = next(
        c for c in of_kind(cert_manager, "Certificate") if name_of(c) != "tronador-ca"
    )
    assert certificate["spec"]["secretName"] == defaults.SECRET_NAME
    assert tls["serverName"] in certificate["spec"]["dnsNames"]


def test_the_dashboard_is_discovered_by_grafana_and_is_json() -> None:
    objects = _monitored()
    config_map = find(objects, "ConfigMap", "tronador-dashboard", NS)
    assert config_map is not None
    assert meta(config_map)["labels"]["grafana_dashboard"] == "1"
    board = json.loads(config_map["data"]["tronador.json"])
    assert board["uid"] == "tronador"
    assert all("gridPos" in panel for panel in board["panels"])
