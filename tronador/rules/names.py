"""Deriving Kubernetes-safe names from free text (repo names, branches, PR numbers)."""

from __future__ import annotations

import hashlib

from tronador.patterns import linear

_INVALID = linear(r"[^a-z0-9-]+")
_DASHES = linear(r"-{2,}")
_HASH_LEN = 6


def dns_label(text: str, max_length: int = 63) -> str:
    """Lowercase `text` and squeeze it into a DNS-1123 label of at most `max_length` characters.

    When the text had to be cut, a short hash of the whole text is appended, so two long names
    that share a prefix still get different labels, and the same input always gives the same one.
    """
    cleaned = _INVALID.sub("-", text.lower()).strip("-")
    cleaned = _DASHES.sub("-", cleaned)
    if len(cleaned) <= max_length and cleaned:
        return cleaned
    digest = hashlib.sha256(text.encode()).hexdigest()[:_HASH_LEN]
    head = cleaned[: max_length - _HASH_LEN - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest


def repo_name(git_url: str) -> str:
    """The bare repository name of a git URL: `https://host/org/app.git` -> `app`."""
    tail = git_url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return tail.removesuffix(".git")
