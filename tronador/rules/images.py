"""Image references inside Helm values: placeholder substitution and registry rewrites."""

from __future__ import annotations

import functools
from typing import Any

from tronador.api import RegistryRewrite
from tronador.api.constants import IMAGE_NAME_PLACEHOLDER, IMAGE_TAG_PLACEHOLDER
from tronador.api.formats import PLACEHOLDER_RE, placeholder_name

IMAGE_KEYS = frozenset({"repository", "image"})
"""Values keys whose string value is an image reference (the common Helm chart conventions)."""

_DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


def substitute_placeholders(text: str, image_name: str | None, image_tag: str | None) -> str:
    """Replace the image placeholders we know a value for; leave every other `{{...}}` alone."""
    known = {IMAGE_NAME_PLACEHOLDER: image_name, IMAGE_TAG_PLACEHOLDER: image_tag}

    def replace(match: Any) -> str:
        value = known.get(placeholder_name(match))
        return match.group(0) if value is None else value

    return PLACEHOLDER_RE.sub(replace, text)


def _full_reference(image: str) -> str:
    """Docker's normalisation: `nginx` -> `docker.io/library/nginx`."""
    first, slash, rest = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        if first in _DOCKER_HUB_ALIASES:
            return f"{_DOCKER_HUB}/{rest}"
        return image
    if not slash:
        return f"{_DOCKER_HUB}/library/{image}"
    return f"{_DOCKER_HUB}/{image}"


def _under(full: str, prefix: str) -> bool:
    return full == prefix or full.startswith(prefix + "/")


@functools.lru_cache(maxsize=256)
def registry_prefix(value: str) -> str:
    """A rewrite's `from` or `to` as a registry prefix: `index.docker.io/` -> `docker.io`."""
    value = value.rstrip("/")
    host, slash, rest = value.partition("/")
    if host in _DOCKER_HUB_ALIASES:
        return f"{_DOCKER_HUB}{slash}{rest}"
    return value


def rewrite_chain(rewrites: list[RegistryRewrite]) -> tuple[int, int] | None:
    """(i, j) when rewrite i's target is matched by rewrite j's source: such a policy would
    rewrite an image again on every mutate."""
    for i, first in enumerate(rewrites):
        for j, second in enumerate(rewrites):
            if _under(registry_prefix(first.to), registry_prefix(second.from_)):
                return i, j
    return None


def rewrite_registry(image: str, rewrites: list[RegistryRewrite]) -> str:
    """Apply the first matching rewrite; an image no rewrite matches is returned as given.

    An image already under some rewrite's target is left alone, so chained rewrites (a target
    another rewrite matches) cannot rewrite it again on the next mutate: idempotent by design.
    """
    if not image or PLACEHOLDER_RE.search(image):
        return image
    full = _full_reference(image)
    if any(_under(full, registry_prefix(r.to)) for r in rewrites):
        return image
    for rewrite in rewrites:
        prefix = registry_prefix(rewrite.from_)
        if _under(full, prefix):
            return registry_prefix(rewrite.to) + full[len(prefix) :]
    return image


def registry_host_problem(value: str) -> str | None:
    """Why `value` does not start with a registry host, or None. A rewrite target without one
    would be read as a Docker Hub path and be rewritten again on every pass."""
    first = value.partition("/")[0]
    if "." in first or ":" in first or first == "localhost":
        return None
    return f"{value!r} does not start with a registry host (such as mirror.example.com)"
