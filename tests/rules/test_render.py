from __future__ import annotations

import pytest

from tests.seeds import seed_config_file_text, seed_environment_provisioner
from tronador.rules.names import dns_label, repo_name
from tronador.rules.render import RenderError, RenderInputs, render

SEED_INPUTS = RenderInputs(
    repo_url="https://github.com/stakater-lab/stakater-nordmart-inventory",
    ref="run-pipeline",
    pull_request="74",
    image_name="nexus-docker-stakater-nexus.apps.binero-test.8sdzwd1l.kubeapp.cloud/"
    "stakater-nordmart-inventory",
    image_tag="SNAPSHOT-PR-74-6f50ff2f",
)


def test_seed_config_file_renders_to_the_seed_ep() -> None:
    ep = render(seed_config_file_text(), SEED_INPUTS)
    seed = seed_environment_provisioner()
    assert ep["spec"] == seed["spec"]
    assert ep["metadata"]["name"] == seed["metadata"]["name"]
    assert ep["apiVersion"] == seed["apiVersion"]


def test_placeholder_spacing_and_numeric_looking_tags_stay_strings() -> None:
    text = (
        "application:\n  chart_path: deploy\n  value_overrides:\n    image:\n"
        "      repository: {{  APPLICATION_IMAGE_NAME}}\n      tag: {{APPLICATION_IMAGE_TAG }}\n"
    )
    inputs = RenderInputs("https://github.com/a/b", "main", "1", "reg.io/b", "1.10")
    ep = render(text, inputs)
    assert ep["spec"]["application"]["release"]["values"] == {
        "image": {"repository": "reg.io/b", "tag": "1.10"}
    }


def test_unknown_placeholder_names_itself_and_its_line() -> None:
    text = "application:\n  chart_path: deploy\n  value_overrides:\n    x: {{ SECRET_TOKEN }}\n"
    with pytest.raises(RenderError) as error:
        render(text, SEED_INPUTS, source=".tronador.yaml")
    assert str(error.value).startswith(".tronador.yaml:4: unknown placeholder '{{ SECRET_TOKEN }}'")


def test_malformed_yaml_names_line_and_column() -> None:
    with pytest.raises(RenderError, match=r"^cfg:3:1: not valid YAML: expected .,. or .\]."):
        render("application:\n  chart_path: [deploy\n", SEED_INPUTS, "cfg")


def test_unknown_config_field_is_an_error() -> None:
    text = "application:\n  chart_path: deploy\n  chartPath: deploy\n"
    with pytest.raises(RenderError, match=r"application.chartPath: unknown field"):
        render(text, SEED_INPUTS, "cfg")


def test_yaml_tags_are_never_evaluated() -> None:
    text = "application: !!python/object/apply:os.system ['echo pwned']\n"
    with pytest.raises(RenderError, match="not valid YAML"):
        render(text, SEED_INPUTS, "cfg")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("repo_url", "not a url", "--repo-url"),
        ("pull_request", "74a", "--pr"),
        ("image_tag", "bad tag\nx: 1", "--image-tag"),
        ("image_name", "Upper/Case", "--image-name"),
    ],
)
def test_bad_inputs_are_rejected(field: str, value: str, message: str) -> None:
    inputs = RenderInputs(**{**SEED_INPUTS.__dict__, field: value})
    with pytest.raises(RenderError, match=message):
        render(seed_config_file_text(), inputs)


def test_long_names_are_cut_with_a_stable_hash() -> None:
    long_repo = "https://github.com/acme/" + "very-long-repository-name-" * 4
    inputs = RenderInputs(**{**SEED_INPUTS.__dict__, "repo_url": long_repo})
    name = render(seed_config_file_text(), inputs)["metadata"]["name"]
    again = render(seed_config_file_text(), inputs)["metadata"]["name"]
    assert name == again
    assert len(name) <= 63
    other = RenderInputs(**{**inputs.__dict__, "pull_request": "75"})
    assert render(seed_config_file_text(), other)["metadata"]["name"] != name


def test_dns_label() -> None:
    assert dns_label("Feature/ABC_1") == "feature-abc-1"
    assert dns_label("--x--") == "x"
    cut = dns_label("a" * 100)
    assert len(cut) == 63 and cut.startswith("a" * 56 + "-")
    assert dns_label("a" * 100, 53) != dns_label("a" * 101, 53)
    assert dns_label("___") != ""


def test_repo_name() -> None:
    assert repo_name("https://github.com/org/app.git") == "app"
    assert repo_name("git@github.com:org/app.git") == "app"
    assert repo_name("git@github.com:app") == "app"
