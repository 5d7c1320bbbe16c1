"""Rendering an EP or an Environment from an application's `.tronador.yaml`: what the CI pipeline
runs on each PR.

The image placeholders are substituted in the file's text before YAML parsing, as the original
pipeline did, so `repository: {{APPLICATION_IMAGE_NAME}}` works unquoted. The file (a PR's, so
hostile until shown otherwise) is parsed safely and bounded (`tronador.yamlio.load_one`): nothing
in it is evaluated, and an alias bomb or a deep nesting is refused before it is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tronador.api import ConfigFile
from tronador.api.config_file import ConfigFileApplication
from tronador.api.constants import (
    API_VERSION,
    ENV_API_VERSION,
    ENV_KIND,
    EP_KIND,
    IMAGE_NAME_ANNOTATION,
    IMAGE_NAME_PLACEHOLDER,
    IMAGE_TAG_ANNOTATION,
    IMAGE_TAG_PLACEHOLDER,
    PULL_REQUEST_ANNOTATION,
    REPO_NAME_ANNOTATION,
)
from tronador.api.formats import DNS1123_LABEL, PLACEHOLDER_RE, placeholder_name
from tronador.patterns import bounded
from tronador.rules.findings import violations_from_pydantic
from tronador.rules.gitops import ref_name_ok
from tronador.rules.giturl import URL_EXPECTATION, git_reference, parse_git_url
from tronador.rules.mutate import default_release_name
from tronador.rules.names import dns_label, repo_name
from tronador.rules.urls import shown_url
from tronador.yamlio import DocumentError, load_one

_IMAGE_NAME = bounded(r"^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$", 255)
_IMAGE_TAG = bounded(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", 128)
_DIGITS = bounded(r"[0-9]+", 20)


class RenderError(ValueError):
    """A problem with the render inputs; the message names the input and what was expected."""


@dataclass(frozen=True)
class RenderInputs:
    repo_url: str
    ref: str
    pull_request: str
    image_name: str
    image_tag: str
    name: str | None = None


_SENTINELS = {
    IMAGE_NAME_PLACEHOLDER: "tronadorimagename0sentinel",
    IMAGE_TAG_PLACEHOLDER: "tronadorimagetag0sentinel",
}
"""Plain scalars that stand in for the placeholders while the YAML is parsed, so a tag such as
`1.10` stays the string "1.10" instead of becoming the number 1.1."""


def substitute_text(text: str, source: str = "config") -> str:
    """Put sentinels where the image placeholders stand; any other placeholder is an error
    naming its line."""
    unknown = [
        f"{source}:{text.count(chr(10), 0, m.start()) + 1}: unknown placeholder {m.group(0)!r} "
        f"(only {{{{{IMAGE_NAME_PLACEHOLDER}}}}} and {{{{{IMAGE_TAG_PLACEHOLDER}}}}} exist)"
        for m in PLACEHOLDER_RE.finditer(text)
        if placeholder_name(m) not in _SENTINELS
    ]
    if unknown:
        raise RenderError("; ".join(unknown))
    return PLACEHOLDER_RE.sub(lambda m: _SENTINELS[placeholder_name(m)], text)


def _fill_sentinels(node: Any, image_name: str, image_tag: str) -> Any:
    if isinstance(node, str):
        return node.replace(_SENTINELS[IMAGE_NAME_PLACEHOLDER], image_name).replace(
            _SENTINELS[IMAGE_TAG_PLACEHOLDER], image_tag
        )
    if isinstance(node, dict):
        return {k: _fill_sentinels(v, image_name, image_tag) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill_sentinels(v, image_name, image_tag) for v in node]
    return node


def _check_inputs(inputs: RenderInputs) -> None:
    problems = []
    if parse_git_url(inputs.repo_url) is None:
        shown = shown_url(inputs.repo_url)
        problems.append(f"--repo-url {shown} is not {URL_EXPECTATION}")
    if not inputs.ref.strip():
        problems.append("--ref must not be empty")
    elif not ref_name_ok(inputs.ref):
        problems.append(f"--ref {inputs.ref[:200]!r} is not a valid git ref name")
    if not _DIGITS.fullmatch(inputs.pull_request) or int(inputs.pull_request) < 1:
        problems.append(
            f"--pr {inputs.pull_request[:40]!r} must be a pull request number (1 or more)"
        )
    if not _IMAGE_NAME.match(inputs.image_name):
        problems.append(
            f"--image-name {inputs.image_name!r} is not an image repository "
            "(lowercase letters, digits, '.', '_', '-', '/', ':')"
        )
    if not _IMAGE_TAG.match(inputs.image_tag):
        problems.append(
            f"--image-tag {inputs.image_tag!r} is not an image tag "
            "(at most 128 letters, digits, '_', '.', '-', not starting with '.' or '-')"
        )
    if inputs.name is not None and not DNS1123_LABEL.matches(inputs.name):
        problems.append(f"--name {inputs.name!r} is not {DNS1123_LABEL.explanation}")
    if problems:
        raise RenderError("; ".join(problems))


def load_config_file(text: str, inputs: RenderInputs, source: str = "config") -> ConfigFile:
    substituted = substitute_text(text, source)
    try:
        data = _fill_sentinels(load_one(substituted, source), inputs.image_name, inputs.image_tag)
    except DocumentError as exc:
        raise RenderError(str(exc)) from None
    if not isinstance(data, dict):
        raise RenderError(f"{source}: must be a mapping with an 'application' section")
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise RenderError(
            "; ".join(f"{source}: {v}" for v in violations_from_pydantic(exc))
        ) from None


def environment_name(repo_url: str, pull_request: str, kind: str = EP_KIND) -> str:
    """The object's (and its namespace's) name: `<repo>-<pr>` for an EP, `pr-<pr>-<repo>` for an
    Environment as current Tronador names them; a DNS-1123 label, cut with a stable hash."""
    repo = repo_name(repo_url)
    return dns_label(f"pr-{pull_request}-{repo}" if kind == ENV_KIND else f"{repo}-{pull_request}")


def source_name(ref: str) -> str:
    """The Environment's GitRepository: `dte-<branch>`, as Tronador's environment template has."""
    return dns_label(f"dte-{ref}")


RENDERED_KINDS = (EP_KIND, ENV_KIND)


def render(
    config_text: str, inputs: RenderInputs, source: str = "config", kind: str = EP_KIND
) -> dict[str, Any]:
    """The EP or Environment (wire form) the pipeline pushes to the GitOps repository."""
    _check_inputs(inputs)
    config = load_config_file(config_text, inputs, source).application
    metadata = {
        "name": inputs.name or environment_name(inputs.repo_url, inputs.pull_request, kind),
        "annotations": {
            IMAGE_NAME_ANNOTATION: inputs.image_name,
            IMAGE_TAG_ANNOTATION: inputs.image_tag,
            PULL_REQUEST_ANNOTATION: inputs.pull_request,
            REPO_NAME_ANNOTATION: repo_name(inputs.repo_url),
        },
    }
    if kind == ENV_KIND:
        return _environment(config, inputs, metadata)
    return _environment_provisioner(config, inputs, metadata)


def _release_values(config: ConfigFileApplication, inputs: RenderInputs) -> dict[str, Any]:
    """The release's name and values, the same in the EP and the Environment."""
    fields: dict[str, Any] = {
        "releaseName": default_release_name(inputs.ref),
        "values": config.value_overrides,
    }
    if config.values_from is not None:
        fields["valuesFrom"] = [source.to_wire() for source in config.values_from]
    return fields


def _environment_provisioner(
    config: ConfigFileApplication, inputs: RenderInputs, metadata: dict[str, Any]
) -> dict[str, Any]:
    release: dict[str, Any] = {
        "chart": {"git": inputs.repo_url, "path": config.chart_path, "ref": inputs.ref},
        **_release_values(config, inputs),
    }
    return {
        "apiVersion": API_VERSION,
        "kind": EP_KIND,
        "metadata": metadata,
        "spec": {
            "application": {"release": release},
            "namespaceLabels": dict(config.namespace_labels),
        },
    }


def _environment(
    config: ConfigFileApplication, inputs: RenderInputs, metadata: dict[str, Any]
) -> dict[str, Any]:
    release: dict[str, Any] = {
        "chart": {
            "spec": {
                "chart": config.chart_path,
                "reconcileStrategy": "Revision",
                "sourceRef": {"kind": "GitRepository", "name": source_name(inputs.ref)},
            }
        },
        "interval": "1m0s",
        **_release_values(config, inputs),
    }
    return {
        "apiVersion": ENV_API_VERSION,
        "kind": ENV_KIND,
        "metadata": metadata,
        "spec": {
            "namespaceLabels": dict(config.namespace_labels),
            "application": {
                "gitRepository": {
                    "url": inputs.repo_url,
                    "ref": git_reference(inputs.ref),
                    "interval": "1m0s",
                    "timeout": "60s",
                },
                "release": release,
            },
        },
    }
