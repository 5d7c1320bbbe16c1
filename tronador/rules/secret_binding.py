"""Which TronadorConfig secrets an environment gets (pure): one rule for the controller, the
config's validation and the docs (docs/security.md, "Secrets bound to their repository").

- A mapping's secrets go only to environments whose chart git URL names one of its repositories,
  compared as host, owner and name (`tronador.rules.giturl.RepoRef`). A bare name in `repos`
  (real Tronador's form) is qualified by the mapping's `organisation`, else by the owners that
  `policy.allowedChartGitPrefixes` confines charts to (an entry naming a host and an owner);
  with neither it names no repository at all.
- `orgLevelSecrets` go only to repositories under its `organisation` (else under those allowed
  chart owners) that no mapping names; with neither they go nowhere.
- A `spec.secrets` item that no mapping and no `orgLevelSecrets` names goes to every
  environment (TronadorConfig's reference: "resources which are required in DTEs").
- Nothing an EP author sets (the `stakater.com/repo-name` annotation, a name) selects a mapping.

So git credentials only ever reach a GitRepository on the host the admin wrote them for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tronador.api import TronadorConfig
from tronador.api.tronador_config import RepoSecretMapping
from tronador.rules.giturl import (
    OrgRef,
    RepoRef,
    is_bare_repo_name,
    parse_org_ref,
    parse_repo_ref,
    prefix_organisation,
    repo_ref,
)


@dataclass(frozen=True)
class _BareRef(RepoRef):
    """A bare name qualified by an organisation: a repository of that name anywhere under it
    (the organisation may be a whole host, or a group with subgroups)."""


def _binds(known: RepoRef, ref: RepoRef) -> bool:
    if isinstance(known, _BareRef):
        return known.name == ref.name and ref.under(OrgRef(known.host, known.owner))
    return known == ref


@dataclass(frozen=True)
class MappingRepos:
    repos: list[RepoRef]
    unbound: list[str] = field(default_factory=list)
    """Bare names with no organisation to qualify them: they match nothing."""
    invalid: list[tuple[int, str]] = field(default_factory=list)
    """(index, entry) of entries that are neither host/owner/name, a git URL nor a bare name."""


def chart_organisations(config: TronadorConfig) -> list[OrgRef]:
    """Where `policy.allowedChartGitPrefixes` confines every chart: what qualifies real
    Tronador's bare names (and `orgLevelSecrets`) when no organisation is given."""
    found = (prefix_organisation(p) for p in config.spec.policy.allowed_chart_git_prefixes)
    return [org for org in found if org is not None and org.owner]


def mapping_repos(mapping: RepoSecretMapping, fallback: list[OrgRef] | None = None) -> MappingRepos:
    """The repositories a mapping names. A bare name is qualified by the mapping's
    organisation, else by each of `fallback` (the allowed chart sources)."""
    org = parse_org_ref(mapping.organisation) if mapping.organisation else None
    orgs = [org] if org is not None else list(fallback or [])
    repos: list[RepoRef] = []
    unbound: list[str] = []
    invalid: list[tuple[int, str]] = []
    for index, entry in enumerate(mapping.repos):
        ref = parse_repo_ref(entry)
        if ref is not None:
            repos.append(ref)
        elif is_bare_repo_name(entry):
            if orgs:
                name = entry.lower().removesuffix(".git")
                repos.extend(_BareRef(o.host, o.owner, name) for o in orgs)
            else:
                unbound.append(entry)
        else:
            invalid.append((index, entry))
    return MappingRepos(repos, unbound, invalid)


@dataclass(frozen=True)
class SecretChoice:
    """The TronadorConfig secrets items an environment's repository gets, and why."""

    repo: str
    """The repository, as host/owner/name (or the URL as given when it is not a git URL)."""
    auth_secret: str | None = None
    image_pull_secret: str | None = None
    source: str = ""
    """Where the choice came from: `spec.mappings[i]`, `spec.orgLevelSecrets`, or ""."""
    notes: list[str] = field(default_factory=list)
    """Why secrets that look meant for this repository are not given (for the status)."""

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(n for n in (self.auth_secret, self.image_pull_secret) if n))


def choose_secrets(chart_url: str, config: TronadorConfig | None) -> SecretChoice:
    """The secrets the repository of `chart_url` gets under `config` (see the module doc)."""
    ref = repo_ref(chart_url)
    if ref is None:
        return SecretChoice(chart_url[:200])
    if config is None:
        return SecretChoice(str(ref))
    notes: list[str] = []
    fallback = chart_organisations(config)
    for index, mapping in enumerate(config.spec.mappings):
        bound = mapping_repos(mapping, fallback)
        if any(_binds(known, ref) for known in bound.repos):
            return SecretChoice(
                str(ref), mapping.auth_secret, mapping.image_pull_secret, f"spec.mappings[{index}]"
            )
        if ref.name in (name.lower().removesuffix(".git") for name in bound.unbound):
            notes.append(
                f"spec.mappings[{index}] names {ref.name!r} without a host and owner (and "
                "policy.allowedChartGitPrefixes is empty), so it matches no repository; write it "
                "as host/owner/name or set the mapping's organisation"
            )
    org = config.spec.org_level_secrets
    if org is not None and (org.auth_secret or org.image_pull_secret):
        given = parse_org_ref(org.organisation) if org.organisation else None
        organisations = [given] if given is not None else fallback
        if any(ref.under(o) for o in organisations):
            return SecretChoice(
                str(ref), org.auth_secret, org.image_pull_secret, "spec.orgLevelSecrets", notes
            )
        if not organisations:
            notes.append(
                "spec.orgLevelSecrets has no organisation (and policy.allowedChartGitPrefixes "
                "is empty), so its secrets go to no repository"
            )
    return SecretChoice(str(ref), notes=notes)


def named_items(config: TronadorConfig) -> set[str]:
    """The `spec.secrets` items some mapping or `orgLevelSecrets` names."""
    named = {n for m in config.spec.mappings for n in (m.auth_secret, m.image_pull_secret) if n}
    org = config.spec.org_level_secrets
    if org is not None:
        named.update(n for n in (org.auth_secret, org.image_pull_secret) if n)
    return named


def items_for(choice: SecretChoice, config: TronadorConfig | None) -> list[str]:
    """The names of the `spec.secrets` items an environment gets: those its repository's choice
    names, then every item nothing names, in the config's order."""
    if config is None:
        return choice.names
    named = named_items(config)
    everyone = [
        str(name)
        for item in config.spec.secrets
        if (name := (item.get("metadata") or {}).get("name")) and name not in named
    ]
    return list(dict.fromkeys([*choice.names, *everyone]))
