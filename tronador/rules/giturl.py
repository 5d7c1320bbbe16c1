"""Git URLs as Flux accepts them: https://, ssh:// and scp-style `git@host:org/repo`."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

from tronador.patterns import bounded, linear

_SCP = linear(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$")
_SHA = bounded(r"^[0-9a-f]{40}$", 40)
_HOST = bounded(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", 253)
_SPACE = linear(r"\s")

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


@dataclass(frozen=True)
class RepoRef:
    """A repository as the TronadorConfig binds secrets to it: host, owner (the path segments
    before the last, e.g. an organisation or a GitLab group) and repository name, compared
    case-insensitively, without `.git`. Never taken from a name an EP author sets."""

    host: str
    owner: str
    name: str

    def __str__(self) -> str:
        return f"{self.host}/{self.owner}/{self.name}" if self.owner else f"{self.host}/{self.name}"

    def under(self, organisation: OrgRef) -> bool:
        """Whether this repository lives under `organisation` (whole path segments)."""
        if self.host != organisation.host:
            return False
        own = self.owner.split("/") if self.owner else []
        theirs = organisation.owner.split("/") if organisation.owner else []
        return own[: len(theirs)] == theirs


@dataclass(frozen=True)
class OrgRef:
    """An organisation (host and owner path) that secrets are given for: `github.com/stakater`."""

    host: str
    owner: str

    def __str__(self) -> str:
        return f"{self.host}/{self.owner}"


def _segments(path: str) -> list[str]:
    parts = [p for p in path.strip("/").split("/") if p]
    if parts:
        parts[-1] = parts[-1].removesuffix(".git")
    return [p.lower() for p in parts]


def repo_ref(url: str) -> RepoRef | None:
    """The repository a git URL names, or None when it is not a git URL Flux can clone."""
    parsed = parse_git_url(url)
    if parsed is None:
        return None
    parts = _segments(parsed.path)
    if not parts or not parts[-1]:
        return None
    return RepoRef(parsed.host.lower(), "/".join(parts[:-1]), parts[-1])


_BARE = bounded(r"^[A-Za-z0-9._-]{1,100}$", 100)


def parse_repo_ref(text: str) -> RepoRef | None:
    """A TronadorConfig's repository entry: `host/owner/repo`, or a git URL; None for anything
    else (a bare name is not a repository: it says nothing of host or owner)."""
    if "://" in text or ("@" in text and ":" in text):
        return repo_ref(text)
    return _host_path(text)


def parse_org_ref(text: str) -> OrgRef | None:
    """An organisation entry: `host/owner` (owner may have several segments, e.g. GitLab)."""
    found = _host_path(text + "/x")
    if found is None or not found.owner:
        return None
    return OrgRef(found.host, found.owner)


def _host_path(text: str) -> RepoRef | None:
    if len(text) > 512 or _SPACE.search(text):
        return None
    host, _, path = text.partition("/")
    parts = _segments(path)
    if not _HOST.match(host) or "." not in host or len(parts) < 2:
        return None
    if not all(_BARE.match(p) and p not in (".", "..") for p in parts):
        return None
    return RepoRef(host.lower(), "/".join(parts[:-1]), parts[-1])


def is_bare_repo_name(text: str) -> bool:
    return bool(_BARE.match(text)) and text not in (".", "..")


def url_has_prefix(url: str, prefix: str) -> bool:
    """Whether git URL `url` is under `prefix`, compared as parsed URLs: the same scheme, host
    and port, then whole path segments (`https://git.example.com` does not admit
    `https://git.example.com.attacker.net/...`, nor `.../app` admit `.../app-evil`)."""
    parsed = parse_git_url(url)
    wanted = _parse_prefix(prefix)
    if parsed is None or wanted is None:
        return False
    if (parsed.scheme, parsed.host.lower(), parsed.port) != (
        wanted.scheme,
        wanted.host.lower(),
        wanted.port,
    ):
        return False
    if (wanted.user or None) is not None and parsed.user != wanted.user:
        return False
    head = [p for p in _segments(wanted.path) if p != PREFIX_PROBE]
    return _segments(parsed.path)[: len(head)] == head


PREFIX_PROBE = "tronador-prefix-probe"


def _parse_prefix(prefix: str) -> GitUrl | None:
    """A prefix is a URL that may stop anywhere after the host: parsed with a probe segment."""
    if not isinstance(prefix, str) or not prefix:
        return None
    separator = "" if prefix.endswith(("/", ":")) else "/"
    return parse_git_url(prefix + separator + PREFIX_PROBE)


def prefix_organisation(prefix: str) -> OrgRef | None:
    """The host and owner path an `allowedChartGitPrefixes` entry admits (owner "" for a whole
    host), or None when it is not a git URL prefix."""
    parsed = _parse_prefix(prefix)
    if parsed is None:
        return None
    owner = [p for p in _segments(parsed.path) if p != PREFIX_PROBE]
    return OrgRef(parsed.host.lower(), "/".join(owner))


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
