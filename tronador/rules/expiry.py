"""When an EnvironmentProvisioner has expired: no update for longer than its time-to-live.

Pure: the caller passes the EP (typed or as the wire dict), the cluster's `Policy` and `now`.

**TTL.** The EP's annotation `tronador.stakater.com/ttl` overrides `policy.defaultTTL`. Both
take a duration (`72h`, `1h30m`, `7d`); the annotation may also say `never`, `off` or `0` to
keep that EP forever, as `tronador.stakater.com/keep: "true"` does. No annotation and no
`defaultTTL` means the EP never expires. An annotation that is empty counts as absent. With
`policy.allowKeep: false` neither `keep` nor a `never` TTL keeps an EP past `defaultTTL` (the
webhook denies both; one stored before the policy changed is expired all the same).

**Last update.** "The pull request has seen an update" means its EP *changed*: the CI pipeline
re-renders and re-applies the EP on each push, so a new commit shows up as a new image tag in
the spec. The last update is the latest of:
  1. `metadata.creationTimestamp`;
  2. the annotation `tronador.stakater.com/last-update` (RFC 3339), meant to be stamped by the
     mutating webhook when an UPDATE changes `spec` (or by a pipeline that wants to signal
     activity without a spec change);
  3. the newest `metadata.managedFields[].time` of an entry that owns fields of `spec` and is
     not a subresource (status) entry. The API server bumps an entry's time when that manager
     changes a field it owns, so `kubectl apply` of a changed EP counts, a re-apply of the same
     EP does not, and the controller's status writes do not. Managers named in
     `ignore_managers` are skipped.
Re-applying an identical EP therefore does not keep it alive; changing the `ttl` annotation
through a manager that also owns `spec` (as `kubectl apply` does) does.

**Never delete on doubt.** A TTL that does not parse, a `last-update` that does not parse, an
EP without any timestamp, or an EP already being deleted is *not* expired; the decision carries
a warning for the log and the Event instead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from tronador.api import EnvironmentProvisioner, Policy
from tronador.api.constants import KEEP_ANNOTATION, TTL_ANNOTATION
from tronador.rules.durations import parse_duration

LAST_UPDATE_ANNOTATION = "tronador.stakater.com/last-update"
"""RFC 3339 time of the EP's last meaningful change (see the module docstring)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

NEVER_VALUES = frozenset({"never", "off", "0"})
"""TTL annotation values that keep an EP forever (compared case-insensitively)."""


class TTLSource(StrEnum):
    ANNOTATION = "annotation"
    POLICY = "policy"
    NONE = "none"


class ExpiryReason(StrEnum):
    """Event/condition reasons (CamelCase, as Kubernetes reasons are)."""

    EXPIRED = "Expired"
    NOT_EXPIRED = "NotExpired"
    NO_TTL = "NoTTL"
    INVALID_TTL = "InvalidTTL"
    INVALID_LAST_UPDATE = "InvalidLastUpdate"
    NO_TIMESTAMP = "NoTimestamp"
    DELETING = "Deleting"


@dataclass(frozen=True)
class TTL:
    """The TTL that applies to one EP; `value` None means the EP never expires."""

    value: timedelta | None
    source: TTLSource
    text: str = ""
    """What the annotation or policy said, for messages."""
    warning: str | None = None
    """Set when the annotation (or policy) could not be understood; the EP is then kept."""


@dataclass(frozen=True)
class ExpiryDecision:
    expired: bool
    reason: ExpiryReason
    message: str
    """One sentence for the Event and the log line."""
    ttl: TTL
    last_update: datetime | None = None
    expires_at: datetime | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def recheck_after(self, now: datetime) -> timedelta | None:
        """How long until this EP expires (zero when it already has), for the controller to
        requeue; None when it never will as things stand."""
        if self.expires_at is None:
            return None
        return max(self.expires_at - _aware(now), timedelta(0))


# --- reading the EP ---------------------------------------------------------------------------


def _metadata(ep: EnvironmentProvisioner | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(ep, EnvironmentProvisioner):
        return ep.metadata.to_wire()
    metadata = ep.get("metadata") if isinstance(ep, Mapping) else None
    return dict(metadata) if isinstance(metadata, Mapping) else {}


def _annotations(metadata: Mapping[str, Any]) -> dict[str, Any]:
    annotations = metadata.get("annotations")
    return dict(annotations) if isinstance(annotations, Mapping) else {}


def parse_timestamp(text: Any) -> datetime | None:
    """An RFC 3339 time (`2024-05-01T10:00:00Z`, with or without fraction or offset) in UTC,
    or None. A time without an offset is taken as UTC."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return _aware(parsed)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    return _aware(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(span: timedelta) -> str:
    """`3d2h`, `45m`, `0s`: the form the TTL annotation takes, whole seconds."""
    seconds = max(int(span.total_seconds()), 0)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _policy_ttl(policy: Policy | None) -> TTL:
    text = policy.default_ttl if policy is not None else None
    if text is None or not text.strip():
        return TTL(None, TTLSource.NONE)
    if text.strip().lower() in NEVER_VALUES:
        return TTL(None, TTLSource.POLICY, text)
    value = parse_duration(text)
    if value is None:
        return TTL(
            None,
            TTLSource.POLICY,
            text,
            warning=f"policy.defaultTTL {text!r} is not a duration like 72h; no EP expires",
        )
    return TTL(value, TTLSource.POLICY, text)


def keeps(annotations: Mapping[str, Any]) -> bool:
    """Whether the keep annotation asks to keep the environment past its TTL."""
    value = annotations.get(KEEP_ANNOTATION)
    return isinstance(value, str) and value.strip().lower() == "true"


def ttl_for(ep: EnvironmentProvisioner | Mapping[str, Any], policy: Policy | None) -> TTL:
    """The TTL of this EP: kept by its keep annotation, else its TTL annotation if set, else
    the policy's default (the policy's alone when it does not allow keeping)."""
    annotations = _annotations(_metadata(ep))
    keep_allowed = policy is None or policy.allow_keep
    if keep_allowed and keeps(annotations):
        return TTL(None, TTLSource.ANNOTATION, f"{KEEP_ANNOTATION}=true")
    annotation = annotations.get(TTL_ANNOTATION)
    if annotation is None or (isinstance(annotation, str) and not annotation.strip()):
        return _policy_ttl(policy)
    never = isinstance(annotation, str) and annotation.strip().lower() in NEVER_VALUES
    if never and not keep_allowed:
        return _policy_ttl(policy)
    if not isinstance(annotation, str):
        return TTL(
            None,
            TTLSource.ANNOTATION,
            repr(annotation),
            warning=f"annotation {TTL_ANNOTATION} is not a string; the EP is kept",
        )
    text = annotation.strip()
    if text.lower() in NEVER_VALUES:
        return TTL(None, TTLSource.ANNOTATION, text)
    value = parse_duration(text)
    if value is None:
        return TTL(
            None,
            TTLSource.ANNOTATION,
            text,
            warning=f"annotation {TTL_ANNOTATION}={text!r} is not a duration like 72h, 1h30m "
            "or 7d (or 'never'); the EP is kept",
        )
    return TTL(value, TTLSource.ANNOTATION, text)


def _owns_spec(entry: Mapping[str, Any]) -> bool:
    fields = entry.get("fieldsV1")
    return isinstance(fields, Mapping) and "f:spec" in fields


def last_update(
    ep: EnvironmentProvisioner | Mapping[str, Any], ignore_managers: Collection[str] = ()
) -> tuple[datetime | None, list[str]]:
    """The time of the EP's last meaningful change (see the module docstring) and warnings
    about timestamps that could not be read."""
    metadata = _metadata(ep)
    warnings: list[str] = []
    candidates: list[datetime] = []
    created = parse_timestamp(metadata.get("creationTimestamp"))
    if created is not None:
        candidates.append(created)
    stamped = _annotations(metadata).get(LAST_UPDATE_ANNOTATION)
    if stamped is not None:
        moment = parse_timestamp(stamped)
        if moment is None:
            warnings.append(
                f"annotation {LAST_UPDATE_ANNOTATION}={stamped!r} is not an RFC 3339 time"
            )
        else:
            candidates.append(moment)
    entries = metadata.get("managedFields")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping) or entry.get("subresource"):
            continue
        if entry.get("manager") in ignore_managers or not _owns_spec(entry):
            continue
        moment = parse_timestamp(entry.get("time"))
        if moment is not None:
            candidates.append(moment)
    return (max(candidates) if candidates else None), warnings


# --- deciding ---------------------------------------------------------------------------------


def _describe_ttl(ttl: TTL) -> str:
    if ttl.source is TTLSource.ANNOTATION:
        return f"TTL {ttl.text} from annotation {TTL_ANNOTATION}"
    return f"TTL {ttl.text} from policy.defaultTTL"


def decide(
    ep: EnvironmentProvisioner | Mapping[str, Any],
    policy: Policy | None,
    now: datetime,
    ignore_managers: Collection[str] = (),
) -> ExpiryDecision:
    """Whether the EP has expired at `now`, with the reason and a message for the Event."""
    now = _aware(now)
    ttl = ttl_for(ep, policy)
    metadata = _metadata(ep)
    if metadata.get("deletionTimestamp"):
        return ExpiryDecision(False, ExpiryReason.DELETING, "the EP is already being deleted", ttl)
    if ttl.warning is not None:
        return ExpiryDecision(
            False, ExpiryReason.INVALID_TTL, ttl.warning, ttl, warnings=(ttl.warning,)
        )
    if ttl.value is None:
        if ttl.source is TTLSource.NONE:
            message = "no TTL: neither the EP nor the policy sets one"
        else:
            message = f"{_describe_ttl(ttl)}: kept forever"
        return ExpiryDecision(False, ExpiryReason.NO_TTL, message, ttl)
    updated, warnings = last_update({"metadata": metadata}, ignore_managers)
    if warnings:
        message = f"{warnings[0]}; the EP is kept"
        return ExpiryDecision(
            False, ExpiryReason.INVALID_LAST_UPDATE, message, ttl, updated, None, tuple(warnings)
        )
    if updated is None:
        message = "the EP has no creationTimestamp or update time; the EP is kept"
        return ExpiryDecision(False, ExpiryReason.NO_TIMESTAMP, message, ttl, warnings=(message,))
    deadline = updated + ttl.value
    idle = format_duration(now - updated)
    if now >= deadline:
        message = (
            f"no update for {idle} ({_describe_ttl(ttl)}; last update "
            f"{format_timestamp(updated)}, expired at {format_timestamp(deadline)})"
        )
        return ExpiryDecision(True, ExpiryReason.EXPIRED, message, ttl, updated, deadline)
    message = (
        f"expires at {format_timestamp(deadline)} ({_describe_ttl(ttl)}; "
        f"last update {format_timestamp(updated)})"
    )
    return ExpiryDecision(False, ExpiryReason.NOT_EXPIRED, message, ttl, updated, deadline)


def expires_at(
    ep: EnvironmentProvisioner | Mapping[str, Any],
    policy: Policy | None,
    ignore_managers: Collection[str] = (),
) -> datetime | None:
    """When the EP expires if nothing changes, or None when it never will (no TTL, a TTL or
    timestamp that does not parse, or already being deleted)."""
    return decide(ep, policy, _EPOCH, ignore_managers).expires_at
