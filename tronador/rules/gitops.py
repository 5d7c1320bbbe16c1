"""What `tronador publish` and `tronador retire` decide, without touching git: the file's path
from the path template, the commit message, and whether the repository needs a change.

The object published is any rendered object with a kind and a name (an EnvironmentProvisioner
today), so these functions take the object, not a model of one kind.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from tronador.api.constants import (
    IMAGE_TAG_ANNOTATION,
    PULL_REQUEST_ANNOTATION,
    REPO_NAME_ANNOTATION,
    SOURCE_TIME_ANNOTATION,
)
from tronador.patterns import linear
from tronador.yamlio import DocumentError, load_one

DEFAULT_PATH_TEMPLATE = "environments/{name}.yaml"
PLACEHOLDERS = ("name", "repo", "pr", "tenant")


class PublishError(ValueError):
    """An input publish/retire cannot use; the message names the input and the rule."""


# --- the path --------------------------------------------------------------------------------


def template_placeholders(template: str) -> list[str]:
    """The placeholders a path template uses; anything but a bare known `{name}` is an error."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise PublishError(f"--path-template {template!r}: {exc}") from None
    used = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            raise PublishError(
                f"--path-template {template!r}: unknown placeholder {shown} "
                f"(only {', '.join('{' + p + '}' for p in PLACEHOLDERS)})"
            )
        used.append(field)
    return used


def check_relative_path(path: str, what: str) -> str:
    """`path` as a file inside the repository: relative, no `.`/`..`/empty parts, not in .git."""
    if not path or path.startswith("/") or "\\" in path or any(ord(c) < 32 for c in path):
        raise PublishError(f"{what} {path!r} must be a relative path inside the repository")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise PublishError(
            f"{what} {path!r} leaves the repository or has an empty part "
            "(no '.', '..' or '//' allowed)"
        )
    if any(part.lower() == ".git" for part in parts):
        raise PublishError(f"{what} {path!r} points into .git")
    return path


def render_path(template: str, fields: Mapping[str, str | None]) -> str:
    """The file the object lives in, from the template and the object's fields."""
    used = template_placeholders(template)
    values: dict[str, str] = {}
    for name in used:
        value = fields.get(name)
        if not value:
            raise PublishError(
                f"--path-template {template!r} uses {{{name}}}, which is not known here"
                + (" (give --tenant, or set the tenant label)" if name == "tenant" else "")
            )
        if "/" in value or value in (".", ".."):
            raise PublishError(f"{{{name}}} = {value!r} cannot be one path part")
        values[name] = value
    return check_relative_path(template.format(**values), f"--path-template {template!r} gives")


def check_path_template(template: str) -> None:
    """Fail early on a template that can never give a safe path, whatever the object."""
    render_path(template, dict.fromkeys(PLACEHOLDERS, "x"))


def ref_name_ok(branch: str) -> bool:
    """Whether git accepts `branch` as a ref name (the rules of `git check-ref-format`)."""
    return not (
        not branch
        or branch.startswith(("-", "/", "."))
        or branch.endswith(("/", ".", ".lock"))
        or any(c.isspace() or c in "~^:?*[\\" or ord(c) < 32 for c in branch)
        or ".." in branch
        or "//" in branch
        or "@{" in branch
        or branch == "@"
        or any(part.startswith(".") or part.endswith(".lock") for part in branch.split("/"))
        or any(ord(c) == 127 for c in branch)
    )


def check_branch(branch: str) -> str:
    """A branch's short name git accepts, not a full ref nor HEAD."""
    if not ref_name_ok(branch):
        raise PublishError(f"--branch {branch!r} is not a valid git branch name")
    if branch == "HEAD" or branch.startswith("refs/"):
        raise PublishError(
            f"--branch {branch!r} must be a branch's short name (e.g. main), not a ref; "
            "it is pushed to refs/heads/<branch>"
        )
    return branch


# --- what is published -----------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """The object a commit is about, and where it came from."""

    kind: str
    name: str
    repo: str | None = None
    pr: str | None = None
    tenant: str | None = None
    image_tag: str | None = None

    def path_fields(self) -> dict[str, str | None]:
        return {"name": self.name, "repo": self.repo, "pr": self.pr, "tenant": self.tenant}


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str | int)}


def subject_of(obj: Mapping[str, Any], tenant_label: str) -> Subject:
    """The subject of a rendered object: kind and name, with the PR's annotations and its tenant
    (a label on the object, or among the namespace labels it asks for)."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise PublishError("metadata.name: the object to publish has no name")
    annotations = _str_map(metadata.get("annotations"))
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    tenant = _str_map(metadata.get("labels")).get(tenant_label) or _str_map(
        spec.get("namespaceLabels")
    ).get(tenant_label)
    return Subject(
        kind=str(obj.get("kind") or "object"),
        name=name,
        repo=annotations.get(REPO_NAME_ANNOTATION),
        pr=annotations.get(PULL_REQUEST_ANNOTATION),
        tenant=tenant,
        image_tag=annotations.get(IMAGE_TAG_ANNOTATION),
    )


GITOPS_SCHEMES = ("https", "http", "ssh", "git", "file")
"""Transports a GitOps repository is reached by (also given to git as GIT_ALLOW_PROTOCOL): never
a remote helper such as `fd::` or `ext::`, which run commands or read descriptors."""
_SCP_LIKE = linear(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")


def gitops_repo_problem(url: str | None) -> str | None:
    """Why `url` cannot name a GitOps repository, or None. The message never repeats the URL:
    it may hold a token."""
    if url is None or not url.strip():
        return (
            "--gitops-repo is empty (or TRONADOR_GITOPS_REPO is set to nothing): give the GitOps "
            "repository's URL or path; an empty one would commit into the current directory's "
            "repository"
        )
    if url != url.strip() or any(c in url for c in "\n\r\0"):
        return "--gitops-repo has surrounding spaces or control characters"
    if url.startswith("-"):
        return "--gitops-repo must not start with '-' (git would take it for an option)"
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        if scheme not in GITOPS_SCHEMES:
            return f"--gitops-repo uses {scheme!r}; allowed: {', '.join(GITOPS_SCHEMES)}"
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            return (
                "--gitops-repo is not a valid URL (its host or port cannot be read); it is not "
                "shown, as it may hold a credential"
            )
        if scheme != "file" and not parts.hostname:
            return "--gitops-repo has no host"
        if parts.query or parts.fragment or url.endswith(("?", "#")):
            return (
                "--gitops-repo must not have a query or fragment: a token there would reach "
                "git's command line; give it in TRONADOR_GIT_TOKEN or --credentials-dir"
            )
        return None
    if "::" in url:
        return "--gitops-repo names a git remote helper ('transport::address'); not allowed"
    if ":" in url and not _SCP_LIKE.match(url) and not url.startswith(("/", "./", "../")):
        return "--gitops-repo is neither a URL, user@host:path nor a local path"
    return None


def strip_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(url without a password or token, user, secret). `https://TOKEN@host/...` counts the
    lone user part as the secret; `git@host:org/repo` and local paths have none."""
    if "://" not in url:
        return url, None, None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url, None, None
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    user = unquote(parts.username) if parts.username is not None else None
    secret = unquote(parts.password) if parts.password is not None else None
    if secret is None and parts.scheme in ("http", "https"):
        user, secret = None, user
    if user and parts.scheme not in ("http", "https"):
        netloc = f"{user}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), user, secret


def commit_message(action: str, subject: Subject, path: str, app_repo_url: str | None) -> str:
    """`tronador publish|retire <kind>/<name> (<repo> PR #<n>, image tag <t>)`, with trailers."""
    origin = " ".join(
        part for part in (subject.repo, f"PR #{subject.pr}" if subject.pr else None) if part
    )
    tag = subject.image_tag if action == "publish" else None
    details = ", ".join(part for part in (origin, f"image tag {tag}" if tag else None) if part)
    title = f"tronador {action} {subject.kind}/{subject.name}"
    lines = [title + (f" ({details})" if details else ""), ""]
    if app_repo_url:
        lines.append(f"App-Repository: {strip_credentials(app_repo_url)[0]}")
    if subject.pr:
        lines.append(f"Pull-Request: {subject.pr}")
    if tag:
        lines.append(f"Image-Tag: {tag}")
    lines.append(f"File: {path}")
    return "\n".join(lines) + "\n"


# --- newer wins ------------------------------------------------------------------------------


def parse_source_time(text: str) -> str:
    """`--source-time` (seconds since the epoch, as Tekton's git-clone reports a commit's
    committer date, or RFC 3339) as RFC 3339 UTC."""
    value = text.strip()
    try:
        moment = (
            datetime.fromtimestamp(int(value), UTC)
            if value.isdigit()
            else datetime.fromisoformat(value.replace("Z", "+00:00"))
        )
    except (ValueError, OverflowError, OSError):
        raise PublishError(
            f"--source-time {text!r} is not seconds since the epoch or an RFC 3339 time"
        ) from None
    if moment.tzinfo is None:
        raise PublishError(f"--source-time {text!r} has no time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_source_time(obj: dict[str, Any], source_time: str) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    annotations = {**(metadata.get("annotations") or {}), SOURCE_TIME_ANNOTATION: source_time}
    metadata["annotations"] = annotations
    return {**obj, "metadata": metadata}


def _source_time_in(text: str) -> datetime | None:
    try:
        doc = load_one(text, "the published file")
    except DocumentError:
        return None
    metadata = doc.get("metadata") if isinstance(doc, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    value = annotations.get(SOURCE_TIME_ANNOTATION) if isinstance(annotations, dict) else None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Change(Enum):
    UNCHANGED = "unchanged"
    WRITE = "write"
    SUPERSEDED = "superseded"
    REMOVE = "remove"
    ABSENT = "absent"


def publish_change(current: str | None, desired: str) -> Change:
    """Write unless the file already says the same, or holds a publish of a newer source
    commit (both carry a source time and the one there is later). Without source times the
    last writer wins; every write replaces the whole file, so the file is never a mix."""
    if current == desired:
        return Change.UNCHANGED
    if current is not None:
        there, ours = _source_time_in(current), _source_time_in(desired)
        if there is not None and ours is not None and there > ours:
            return Change.SUPERSEDED
    return Change.WRITE


def retire_change(current: str | None) -> Change:
    return Change.ABSENT if current is None else Change.REMOVE
