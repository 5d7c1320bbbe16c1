"""Prefix checks on parsed http(s) URLs (pure): the host must be equal, then whole path
segments, never a string prefix (`https://a.example` must not admit `https://a.example.evil`)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048


def _split(url: str) -> SplitResult | None:
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return parts


def _segments(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def http_url_has_prefix(url: str, prefix: str) -> bool:
    """Whether `url` is under `prefix`: same scheme, host and port, then whole path segments.
    URLs with credentials never match."""
    got, wanted = _split(url), _split(prefix)
    if got is None or wanted is None:
        return False
    if (got.scheme, got.hostname, got.port) != (wanted.scheme, wanted.hostname, wanted.port):
        return False
    head = _segments(wanted.path)
    return _segments(got.path)[: len(head)] == head


def http_url_problem(url: str) -> str | None:
    """Why `url` cannot be an http(s) URL prefix, or None."""
    return None if _split(url) is not None else "is not an http(s) URL without credentials"


def shown_url(url: str) -> str:
    """`url` as an error message may show it: never with a credential in it (user information
    or a query, where tokens go)."""
    netloc = url.split("://", 1)[1].split("/", 1)[0] if "://" in url else ""
    if "@" in netloc or "?" in url:
        return "(not shown: it may hold a credential)"
    return repr(url[:300])
