"""The pure half of publish/retire: paths, messages, decisions, backoff."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronador.rules.gitops import (
    DEFAULT_PATH_TEMPLATE,
    Change,
    PublishError,
    Subject,
    check_branch,
    commit_message,
    parse_source_time,
    publish_change,
    render_path,
    retire_change,
    strip_credentials,
    subject_of,
    with_source_time,
)

EP = {
    "apiVersion": "tronador.stakater.com/v1alpha1",
    "kind": "EnvironmentProvisioner",
    "metadata": {
        "name": "shop-12",
        "annotations": {
            "stakater.com/repo-name": "shop",
            "tronador.stakater.com/pull-request": "12",
            "tronador.stakater.com/image-tag": "abc",
        },
    },
    "spec": {"namespaceLabels": {"stakater.com/tenant": "veeru"}},
}


def test_subject_and_paths() -> None:
    subject = subject_of(EP, "stakater.com/tenant")
    assert subject == Subject("EnvironmentProvisioner", "shop-12", "shop", "12", "veeru", "abc")
    fields = subject.path_fields()
    assert render_path(DEFAULT_PATH_TEMPLATE, fields) == "environments/shop-12.yaml"
    assert render_path("{tenant}/{repo}/{pr}.yaml", fields) == "veeru/shop/12.yaml"
    assert subject_of(EP, "other/tenant").tenant is None


def test_the_kind_is_the_objects_own() -> None:
    other = {**EP, "kind": "Environment", "apiVersion": "tronador.stakater.com/v1alpha2"}
    assert subject_of(other, "stakater.com/tenant").kind == "Environment"
    with pytest.raises(PublishError, match=r"metadata\.name"):
        subject_of({"kind": "Environment", "metadata": {}}, "t")


@pytest.mark.parametrize(
    ("template", "fields", "message"),
    [
        ("{who}.yaml", {}, "unknown placeholder {who}"),
        ("{name!s}.yaml", {"name": "a"}, "unknown placeholder {name!s}"),
        ("{0}.yaml", {}, "unknown placeholder {0}"),
        ("../{name}.yaml", {"name": "a"}, "leaves the repository"),
        ("a//{name}.yaml", {"name": "a"}, "empty part"),
        ("/{name}.yaml", {"name": "a"}, "relative path"),
        ("a/.GIT/{name}", {"name": "a"}, "into .git"),
        ("{tenant}/{name}.yaml", {"name": "a", "tenant": None}, "--tenant"),
        ("{name}", {"name": ".."}, "one path part"),
        ("{name}.yaml}", {"name": "a"}, "Single '}'"),
    ],
)
def test_bad_templates(template: str, fields: dict[str, str | None], message: str) -> None:
    with pytest.raises(PublishError, match=re.escape(message)):
        render_path(template, fields)


def test_strip_credentials() -> None:
    assert strip_credentials("https://u:tok@git.example.com:8443/o/r.git") == (
        "https://git.example.com:8443/o/r.git",
        "u",
        "tok",
    )
    assert strip_credentials("https://tok@git.example.com/o/r") == (
        "https://git.example.com/o/r",
        None,
        "tok",
    )
    assert strip_credentials("https://u:a%2Fb%40c@h/o/r") == ("https://h/o/r", "u", "a/b@c")
    assert strip_credentials("ssh://git@host/o/r") == ("ssh://git@host/o/r", "git", None)
    assert strip_credentials("git@host:o/r") == ("git@host:o/r", None, None)
    assert strip_credentials("/srv/gitops.git") == ("/srv/gitops.git", None, None)


def test_commit_message_names_repo_pr_and_tag_without_credentials() -> None:
    subject = subject_of(EP, "stakater.com/tenant")
    message = commit_message("publish", subject, "e/shop-12.yaml", "https://github.com/o/shop")
    assert message.splitlines()[0] == (
        "tronador publish EnvironmentProvisioner/shop-12 (shop PR #12, image tag abc)"
    )
    assert "App-Repository: https://github.com/o/shop" in message
    retire = commit_message("retire", subject, "e/shop-12.yaml", "https://t@github.com/o/shop")
    assert retire.splitlines()[0] == "tronador retire EnvironmentProvisioner/shop-12 (shop PR #12)"
    assert "t@" not in retire


def test_publish_decisions() -> None:
    early = (
        "a: 1\nmetadata: {annotations: {tronador.stakater.com/source-time: 2026-01-01T00:00:00Z}}"
    )
    late = (
        "a: 2\nmetadata: {annotations: {tronador.stakater.com/source-time: 2026-01-02T00:00:00Z}}"
    )
    assert publish_change(None, late) is Change.WRITE
    assert publish_change(late, late) is Change.UNCHANGED
    assert publish_change(early, late) is Change.WRITE
    assert publish_change(late, early) is Change.SUPERSEDED
    assert publish_change("a: 1\n", early) is Change.WRITE
    assert publish_change(late, "a: 3\n") is Change.WRITE
    assert publish_change("not: [yaml", late) is Change.WRITE
    naive = "metadata: {annotations: {tronador.stakater.com/source-time: '2026-01-03T00:00:00'}}"
    assert publish_change(naive, late) is Change.SUPERSEDED
    assert retire_change(None) is Change.ABSENT
    assert retire_change("x") is Change.REMOVE


def test_source_time() -> None:
    assert parse_source_time("1700000000") == "2023-11-14T22:13:20Z"
    assert parse_source_time("2023-11-15T00:13:20+02:00") == "2023-11-14T22:13:20Z"
    for bad in ("yesterday", "2023-11-14T22:13:20", ""):
        with pytest.raises(PublishError, match="--source-time"):
            parse_source_time(bad)
    stamped = with_source_time(EP, "2023-11-14T22:13:20Z")
    assert stamped["metadata"]["annotations"]["tronador.stakater.com/source-time"]
    assert "tronador.stakater.com/source-time" not in EP["metadata"]["annotations"]


def test_branch_names() -> None:
    assert check_branch("main") == "main"
    assert check_branch("envs/staging") == "envs/staging"
    for bad in ("", "-x", "a..b", "a b", "a:b", "x.lock", "a/", "@{u}"):
        with pytest.raises(PublishError, match="--branch"):
            check_branch(bad)


_PIECES = st.sampled_from(
    ["{name}", "{repo}", "{pr}", "{tenant}", "/", ".", "..", "a", ".git", "-"]
)
_VALUES = st.text(alphabet="ab./-", min_size=0, max_size=4)


@given(
    st.lists(_PIECES, max_size=8).map("".join),
    st.fixed_dictionaries({"name": _VALUES, "repo": _VALUES, "pr": _VALUES, "tenant": _VALUES}),
)
def test_an_accepted_path_never_leaves_the_repository(
    template: str, fields: dict[str, str]
) -> None:
    try:
        path = render_path(template, fields)
    except PublishError:
        return
    parts = path.split("/")
    assert path and not path.startswith("/")
    assert all(part not in ("", ".", "..") and part.lower() != ".git" for part in parts)
