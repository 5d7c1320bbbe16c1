"""Hypothesis strategies for fuzzing the admission rules: arbitrary JSON, EP-shaped dicts whose
every field may be wrong, and specs close to the schema (mostly valid, sometimes not)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tronador.api import Policy
from tronador.api.constants import (
    IMAGE_NAME_ANNOTATION,
    IMAGE_NAME_PLACEHOLDER,
    IMAGE_TAG_ANNOTATION,
    IMAGE_TAG_PLACEHOLDER,
    TTL_ANNOTATION,
)
from tronador.rules.config_rules import check_policy
from tronador.rules.findings import Findings

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)

json_values = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
"""Any JSON document."""

json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)

NAMES = st.sampled_from(
    [*["inventory-74"] * 8, "a", "x" * 63, "x" * 64, "Upper", "-bad", "ok-1", "", "under_score"]
)
LABEL_KEYS = st.sampled_from(
    [
        "kind",
        "team",
        "stakater.com/tenant",
        "cost-center",
        "example.com/x",
        "bad key",
        "/x",
        "a" * 64,
        "",
    ]
)
LABEL_VALUES = st.sampled_from(
    ["pr", "veeru", "jai", "gabbar", "", "-bad", "x" * 64, "{{ TENANT }}", "a.b_c-d"]
) | st.text(max_size=8)
GIT_URLS = st.sampled_from(
    [
        *["https://github.com/stakater-lab/stakater-nordmart-inventory"] * 6,
        "https://github.com/stakater-lab/x.git",
        "ssh://git@github.com/acme/chart.git",
        "git@github.com:acme/chart.git",
        "http://github.com/acme/chart",
        "https://user:pass@github.com/acme/chart",
        "not a url",
        "https://gitlab.example.com/team/repo",
        "{{ CHART_URL }}",
        "",
    ]
)
IMAGES = st.sampled_from(
    [
        "nginx",
        "nginx:latest",
        "docker.io/library/nginx:1.25",
        "index.docker.io/acme/app",
        "ghcr.io/acme/app:sha-1",
        "localhost:5000/app",
        "mirror.example.com/dockerhub/library/nginx",
        IMAGE_NAME_PLACEHOLDER,
        "{{APPLICATION_IMAGE_NAME}}",
        "{{ APPLICATION_IMAGE_NAME }}:{{ APPLICATION_IMAGE_TAG }}",
        "{{ OTHER }}",
        "",
    ]
)
TAGS = st.sampled_from(
    ["latest", "1.0", "SNAPSHOT-PR-74-6f50ff2f", "{{APPLICATION_IMAGE_TAG}}", IMAGE_TAG_PLACEHOLDER]
)


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in `n` draws (hypothesis biases integers toward 0, not sampled_from)."""
    return st.sampled_from([False] * (n - 1) + [True])


def maybe(strategy: st.SearchStrategy[Any], wrong_rate: int = 6) -> st.SearchStrategy[Any]:
    """`strategy`, but about once in `wrong_rate + 1` draws any JSON value (a wrong type or
    shape). (`st.one_of` would not do: it merges repeated branches.)"""
    return one_in(wrong_rate + 1).flatmap(lambda wrong: json_values if wrong else strategy)


@st.composite
def optional_fields(
    draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]], required: tuple[str, ...] = ()
) -> dict:
    """A mapping of `fields`, each left out now and then (required ones rarely)."""
    out: dict[str, Any] = {}
    for key, strategy in fields.items():
        if not draw(one_in(25 if key in required else 4)):
            out[key] = draw(strategy)
    if draw(one_in(20)):
        out[draw(st.text(min_size=1, max_size=8))] = draw(json_values)  # an unknown field
    return out


image_block = optional_fields(
    {"repository": maybe(IMAGES), "tag": maybe(TAGS), "pullPolicy": st.just("IfNotPresent")}
)
helm_values = st.one_of(
    st.builds(
        lambda image, extra: {"application": {"deployment": {"image": image}}, **extra},
        image_block,
        st.dictionaries(st.sampled_from(["replicas", "image", "env"]), maybe(IMAGES), max_size=2),
    ),
    st.just({}),
    json_objects,
)
values_from = st.lists(
    maybe(
        st.sampled_from(
            [
                {"configMapKeyRef": {"name": "cm", "key": "values.yaml"}},
                {"secretKeyRef": {"name": "s"}},
                {"chartFileRef": {"path": "values-pr.yaml"}},
                {"externalSourceRef": {"url": "https://example.com/v.yaml"}},
                {},
                {"configMapKeyRef": {"name": "cm"}, "secretKeyRef": {"name": "s"}},
            ]
        )
    ),
    max_size=3,
)
chart = optional_fields(
    {
        "git": maybe(GIT_URLS),
        "path": maybe(
            st.sampled_from(["deploy"] * 4 + ["charts/app", "/abs", "../up", "a/../b", ""])
        ),
        "ref": maybe(st.sampled_from(["main", "run-pipeline", "feature/x_y", "PR-74", ""])),
        "secretRef": maybe(st.just({"name": "git-auth"})),
    },
    required=("git", "path", "ref"),
)
release = optional_fields(
    {
        "chart": maybe(chart),
        "releaseName": maybe(st.sampled_from(["run-pipeline"] * 4 + ["", "Bad_Name", "x" * 54])),
        "values": maybe(helm_values) | st.none(),
        "valuesFrom": maybe(values_from),
    },
    required=("chart",),
)
spec = optional_fields(
    {
        "application": maybe(optional_fields({"release": maybe(release)}, ("release",))),
        "namespaceLabels": maybe(st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=4)) | st.none(),
    }
)
"""Specs close to the schema: right shapes mostly, wrong ones sometimes."""

annotations = st.dictionaries(
    st.sampled_from([IMAGE_NAME_ANNOTATION, IMAGE_TAG_ANNOTATION, TTL_ANNOTATION, "note"]),
    maybe(
        IMAGES | TAGS | st.sampled_from(["72h", "never", "bogus", "acme/app", "pr-74"]),
        wrong_rate=10,
    ),
    max_size=3,
)
metadata = optional_fields(
    {
        "name": maybe(NAMES),
        "labels": maybe(st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=3)),
        "annotations": maybe(annotations),
        "generation": st.integers(1, 5),
        "resourceVersion": st.just("42"),
    },
    required=("name",),
)
environment_provisioners = optional_fields(
    {
        "apiVersion": maybe(st.just("tronador.stakater.com/v1alpha1"), wrong_rate=15),
        "kind": maybe(st.just("EnvironmentProvisioner"), wrong_rate=15),
        "metadata": maybe(metadata),
        "spec": maybe(spec),
    },
    required=("apiVersion", "kind", "metadata", "spec"),
)
"""EP-shaped dicts: every field may be missing, wrongly typed or unknown."""


def _valid(policy: Policy) -> bool:
    findings = Findings()
    check_policy(policy, findings)
    return findings.allowed


REGISTRIES = st.sampled_from(
    ["docker.io", "ghcr.io/acme", "mirror.example.com", "nexus.example.com/dockerhub", "quay.io"]
)
_generated_policies = st.builds(
    lambda tenant, required, defaults, prefixes, rewrites: Policy.model_validate(
        {
            "tenant": tenant,
            "requiredNamespaceLabels": required,
            "defaultNamespaceLabels": defaults,
            "allowedChartGitPrefixes": prefixes,
            "imageRegistryRewrites": rewrites,
        }
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "required": st.booleans(),
            "allowedValues": st.lists(st.sampled_from(["veeru", "jai"]), max_size=2),
        },
    ),
    st.lists(st.sampled_from(["kind", "team", "cost-center"]), max_size=2, unique=True),
    st.dictionaries(
        st.sampled_from(["kind", "cost-center", "stakater.com/tenant"]),
        st.sampled_from(["pr", "dev", "veeru"]),
        max_size=2,
    ),
    st.lists(
        st.sampled_from(["https://github.com/stakater-lab/", "git@github.com:", "ssh://git@"]),
        max_size=2,
    ),
    st.lists(st.fixed_dictionaries({"from": REGISTRIES, "to": REGISTRIES}), max_size=2),
).filter(_valid)
policies = st.one_of(st.just(Policy()), _generated_policies)
"""Policies the TronadorConfig validation accepts (the defaults half of the time)."""

git_repository = optional_fields(
    {
        "url": maybe(GIT_URLS),
        "ref": maybe(
            optional_fields(
                {
                    "branch": maybe(st.sampled_from(["main", "master", "feature/x_y", ""])),
                    "tag": maybe(st.sampled_from(["v1.0.0", ""])),
                    "commit": st.just("a" * 40),
                }
            )
        ),
        "interval": maybe(st.sampled_from(["1m0s", "5m"])),
        "timeout": st.just("20s"),
        "gitImplementation": st.sampled_from(["go-git", "libgit2"]),
        "accessFrom": st.just({"namespaceSelectors": []}),
        "secretRef": maybe(st.just({"name": "git-auth"})),
    },
    required=("url", "ref"),
)
flux_chart = optional_fields(
    {
        "spec": maybe(
            optional_fields(
                {
                    "chart": maybe(st.sampled_from(["deploy/", "deploy", "/abs", "../up"])),
                    "sourceRef": maybe(
                        optional_fields(
                            {
                                "kind": maybe(st.just("GitRepository")),
                                "name": st.just("dte-main"),
                            },
                            required=("kind", "name"),
                        )
                    ),
                    "version": st.just("*"),
                    "reconcileStrategy": maybe(st.sampled_from(["ChartVersion", "Revision"])),
                },
                required=("chart", "sourceRef"),
            )
        )
    },
    required=("spec",),
)
_flux_release = optional_fields(
    {
        "chart": maybe(flux_chart),
        "interval": st.just("1m0s"),
        "releaseName": maybe(st.sampled_from(["main"] * 4 + ["", "Bad_Name", "x" * 54])),
        "values": maybe(helm_values) | st.none(),
        "valuesFrom": maybe(values_from),
        "install": st.just({"remediation": {"retries": 3}}),
    },
    required=("chart",),
)
flux_release = st.tuples(_flux_release, one_in(8)).map(
    lambda drawn: {**drawn[0], "targetNamespace": "kube-system"} if drawn[1] else drawn[0]
)
environments = optional_fields(
    {
        "apiVersion": maybe(st.just("tronador.stakater.com/v1alpha2"), wrong_rate=15),
        "kind": maybe(st.just("Environment"), wrong_rate=15),
        "metadata": maybe(metadata),
        "spec": maybe(
            optional_fields(
                {
                    "application": maybe(
                        optional_fields(
                            {
                                "gitRepository": maybe(git_repository),
                                "release": maybe(flux_release),
                            },
                            ("gitRepository", "release"),
                        )
                    ),
                    "namespaceLabels": maybe(st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=4))
                    | st.none(),
                },
                required=("application",),
            )
        ),
    },
    required=("apiVersion", "kind", "metadata", "spec"),
)
"""Environments close to the schema, with the Flux fields it drops or confines now and then."""
