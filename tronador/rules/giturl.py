"""Git URLs as Flux accepts them: https://, ssh:// and scp-style `git@host:org/repo`."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_SCP = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_SPACE = re.compile(r"\s")

URL_EXPECTATION = "an https://, ssh:// or scp-style (git@host:org/repo) git URL"


@dataclass(frozen=True)
class GitUrl:
    scheme: str
    host: str
    path: str
    user: str | None = None
    port: int | None = None

    def flux_url(self) -> str:
        """The URL as Flux v2's GitRepository needs it: scp-style becomes ssh://."""
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{user}{self.host}{port}/{self.path.lstrip('/')}"


def parse_git_url(url: str) -> GitUrl | None:
    """Parse a git URL, or None when it is not one Flux can clone."""
    if not isinstance(url, str) or not url:
        return None
    return _parse_git_url(url)


@functools.lru_cache(maxsize=512)
def _parse_git_url(url: str) -> GitUrl | None:
    """Cached: every EP of a repository names the same URL, and urlsplit is most of a seed
    EP's validation otherwise (bench/RESULTS.md, profile)."""
    if _SPACE.search(url):
        return None
    match = _SCP.match(url)
    if match and "://" not in url:
        return GitUrl("ssh", match["host"], match["path"], user=match["user"])
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("https", "ssh") or not parts.hostname:
        return None
    if not _HOST.match(parts.hostname) or parts.query or parts.fragment:
        return None
    path = parts.path.strip("/")
    if not path:
        return None
    if parts.scheme == "https" and parts.password:
        return None
    return GitUrl(parts.scheme, parts.hostname, path, user=parts.username, port=port)


def git_reference(ref: str) -> dict[str, str]:
    """A ref as one string (an EP's chart ref) as a Flux GitRepository reference: a branch
    unless it says otherwise."""
    if _SHA.match(ref):
        return {"commit": ref}
    if ref.startswith("refs/tags/"):
        return {"tag": ref.removeprefix("refs/tags/")}
    if ref.startswith("refs/heads/"):
        return {"branch": ref.removeprefix("refs/heads/")}
    if ref.startswith("refs/"):
        return {"name": ref}
    return {"branch": ref}
