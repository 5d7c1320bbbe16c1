"""The Environment kind: its models accept the docs' example and its CRD is generated from them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.seeds import example_environment
from tronador.api import Environment
from tronador.api.crd import all_crds

CRD = "tronador.stakater.com_environments.yaml"


def test_the_docs_example_parses_with_its_passthrough_fields() -> None:
    env = Environment.model_validate(example_environment())
    assert env.name == "pr-123-stakater-nordmart-inventory"
    assert env.git_repository.git_implementation == "go-git"
    assert env.git_repository.ref is not None and env.git_repository.ref.branch == "master"
    assert env.release.chart.spec.source_ref.name == "dte-master"
    assert env.release.chart.spec.chart == "deploy/"
    assert env.release.values == {"application": {"deployment": {"image": {"tag": "native"}}}}
    assert env.spec.namespace_labels["stakater.com/tenant"] == "veeru"


def test_a_field_flux_does_not_have_is_unknown() -> None:
    obj = example_environment()
    obj["spec"]["application"]["gitRepository"]["branch"] = "main"
    with pytest.raises(ValidationError, match=r"gitRepository\.branch"):
        Environment.model_validate(obj)


def test_crd_is_cluster_scoped_v1alpha2_with_status_and_columns() -> None:
    crd = all_crds()[CRD]
    assert crd["spec"]["scope"] == "Cluster"
    assert crd["spec"]["names"]["kind"] == "Environment"
    (version,) = crd["spec"]["versions"]
    assert version["name"] == "v1alpha2"
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Phase"] == ".status.currentPhase"
    assert columns["Branch"] == ".spec.application.gitRepository.ref.branch"


def test_crd_schema_keeps_values_free_and_fields_closed() -> None:
    schema = all_crds()[CRD]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    application = schema["properties"]["spec"]["properties"]["application"]["properties"]
    release = application["release"]["properties"]
    assert release["values"]["x-kubernetes-preserve-unknown-fields"] is True
    assert release["chart"]["properties"]["spec"]["properties"]["sourceRef"]["properties"]["kind"][
        "enum"
    ] == ["GitRepository"]
    git = application["gitRepository"]
    assert git["required"] == ["url"]
    assert "x-kubernetes-preserve-unknown-fields" not in git
    assert "gitImplementation" in git["properties"]
