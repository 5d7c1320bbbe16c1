"""Which labels an environment may put on its namespace (pure): the admin's
`policy.namespaceLabels`, shared by the webhook, the controller and `tronador audit`.

Globs have one wildcard, `*` (any run of characters, `/` included), matched without regular
expressions: linear in the label's length whatever the pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

from tronador.api import Policy


def glob_match(pattern: str, text: str) -> bool:
    """Whether `text` matches `pattern`, where `*` stands for any run of characters."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return text == pattern
    head, *middle, tail = parts
    if len(text) < len(head) + len(tail) or not text.startswith(head) or not text.endswith(tail):
        return False
    position, end = len(head), len(text) - len(tail)
    for part in middle:
        found = text.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


def _any(patterns: list[str], text: str) -> str | None:
    return next((p for p in patterns if glob_match(p, text)), None)


@dataclass(frozen=True)
class LabelProblem:
    key: str
    rule: str
    message: str


def admin_labels(policy: Policy) -> dict[str, str]:
    """Labels the admin gives every environment (its defaults, then the enforced ones)."""
    return {**policy.default_namespace_labels, **policy.namespace_labels.enforced}


def label_problems(labels: dict[str, object], policy: Policy) -> list[LabelProblem]:
    """Each namespace label the policy does not let an environment set. The admin's own labels
    (defaults and enforced, with their value) are never a problem."""
    rules = policy.namespace_labels
    given = admin_labels(policy)
    problems: list[LabelProblem] = []
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        enforced = rules.enforced.get(key)
        if enforced is not None and value != enforced:
            problems.append(
                LabelProblem(
                    key,
                    "label-enforced",
                    f"the cluster's policy sets this label to {enforced!r} on every "
                    f"environment namespace (policy.namespaceLabels.enforced)",
                )
            )
            continue
        if given.get(key) == value or key == policy.tenant.label_key:
            continue
        denied = _any(rules.denied_keys, key)
        if denied is not None:
            problems.append(
                LabelProblem(
                    key,
                    "label-denied",
                    f"label {key!r} may not be set by an environment "
                    f"(policy.namespaceLabels.deniedKeys: {denied!r})",
                )
            )
            continue
        if rules.allowed_keys and _any(rules.allowed_keys, key) is None:
            problems.append(
                LabelProblem(
                    key,
                    "label-allowed",
                    f"label {key!r} is not among the keys the cluster's policy allows "
                    f"(policy.namespaceLabels.allowedKeys: {', '.join(rules.allowed_keys)})",
                )
            )
            continue
        values = rules.allowed_values.get(key)
        if values is not None and _any(values, value) is None:
            problems.append(
                LabelProblem(
                    key,
                    "label-value-allowed",
                    f"{value[:100]!r} is not an allowed value of {key!r} "
                    f"(policy.namespaceLabels.allowedValues: {', '.join(values)})",
                )
            )
    return problems
