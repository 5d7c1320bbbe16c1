"""The retry loop on its own, with a scripted clone: what happens on each rejected push."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gitops.git import Author, Deadline, NotLanded, PushResult
from gitops.land import land
from kube.backoff import Backoff
from tronador.rules.gitops import Change, publish_change, retire_change

AUTHOR = Author("ci", "ci@example.com")


@dataclass
class ScriptedClone:
    """The remote file as each sync sees it, and each push's answer."""

    remote_files: list[str | None]
    pushes: list[PushResult]
    deadline: Deadline = field(default_factory=lambda: Deadline(60))
    log: list[str] = field(default_factory=list)

    def init(self) -> None:
        self.log.append("init")

    current: str | None = None

    def sync(self) -> bool:
        self.current = (
            self.remote_files.pop(0) if len(self.remote_files) > 1 else self.remote_files[0]
        )
        self.log.append("sync")
        return True

    def read(self, path: str) -> str | None:
        return self.current

    def write(self, path: str, content: str) -> None:
        self.log.append(f"write {path}")

    def remove(self, path: str) -> None:
        self.log.append(f"remove {path}")

    def commit(self, message: str, author: Author) -> str:
        self.log.append("commit")
        return "c0ffee"

    def push(self) -> PushResult:
        self.log.append("push")
        return self.pushes.pop(0) if len(self.pushes) > 1 else self.pushes[0]


def test_rejected_pushes_are_redone_on_the_new_tip_after_a_growing_backoff() -> None:
    clone = ScriptedClone([None], [PushResult.STALE, PushResult.STALE, PushResult.OK])
    slept: list[float] = []
    landed = land(
        clone, "e/a.yaml", lambda c: publish_change(c, "new"), "new", "m", AUTHOR,
        sleep=slept.append, backoff=Backoff(base=0.05, maximum=2.0, rng=lambda: 1.0),
    )  # fmt: skip
    assert (landed.change, landed.attempts, landed.commit) == (Change.WRITE, 3, "c0ffee")
    assert slept == [pytest.approx(0.05), pytest.approx(0.1)]
    assert clone.log.count("sync") == 3 and clone.log.count("push") == 3


def test_another_publisher_landing_our_content_first_ends_unchanged() -> None:
    clone = ScriptedClone(["old", "new"], [PushResult.STALE])
    landed = land(
        clone, "e/a.yaml", lambda c: publish_change(c, "new"), "new", "m", AUTHOR,
        sleep=lambda _: None,
    )  # fmt: skip
    assert (landed.change, landed.attempts, landed.commit) == (Change.UNCHANGED, 2, None)
    assert clone.log.count("commit") == 1


def test_a_retire_whose_file_vanished_meanwhile_ends_absent() -> None:
    clone = ScriptedClone(["there", None], [PushResult.STALE])
    landed = land(
        clone,
        "e/a.yaml",
        retire_change,
        None,
        "m",
        AUTHOR,
        sleep=lambda _: None,
    )
    assert (landed.change, landed.attempts) == (Change.ABSENT, 2)


def test_a_branch_that_keeps_moving_ends_at_the_deadline() -> None:
    clone = ScriptedClone([None], [PushResult.STALE], deadline=Deadline(0.3))
    with pytest.raises(NotLanded, match=r"deadline of 0\.3s passed after \d+ push attempts"):
        land(clone, "e/a.yaml", lambda c: Change.WRITE, "x", "m", AUTHOR)
