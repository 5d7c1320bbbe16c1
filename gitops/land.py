"""Land one file's change on the GitOps branch under concurrency: sync to the remote tip, decide
again on what is there now, commit, push without force; when another pipeline pushed first,
back off (jittered, exponential) and redo the change on the new tip, until the deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from gitops.git import Author, Deadline, NotLanded, PushResult
from kube.backoff import Backoff
from tronador.rules.gitops import Change

PUSH_BACKOFF = Backoff(base=0.05, maximum=2.0)
"""Between a rejected push and the next attempt: 25-50 ms, then doubling up to 1-2 s."""


class Clone(Protocol):
    """What the loop needs of a work clone (gitops.git.WorkClone)."""

    deadline: Deadline

    def init(self) -> None: ...
    def sync(self) -> bool: ...
    def read(self, path: str) -> str | None: ...
    def write(self, path: str, content: str) -> None: ...
    def remove(self, path: str) -> None: ...
    def commit(self, message: str, author: Author) -> str: ...
    def push(self) -> PushResult: ...


@dataclass(frozen=True)
class Landed:
    change: Change
    attempts: int
    commit: str | None = None


class MissingBranch(Exception):
    """The remote has no such branch (and the change needs one)."""


def land(
    clone: Clone,
    path: str,
    decide: Callable[[str | None], Change],
    content: str | None,
    message: str,
    author: Author,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff = PUSH_BACKOFF,
    branch_must_exist: bool = False,
) -> Landed:
    """Apply `decide`'s change to `path` (WRITE `content`, or REMOVE) on the remote branch.
    With `branch_must_exist` (retire: a typo must not read as "nothing to retire"), a branch
    the remote does not have is an error."""
    clone.init()
    attempt = 0
    while True:
        attempt += 1
        if not clone.sync() and branch_must_exist:
            raise MissingBranch("the branch does not exist in the GitOps repository")
        change = decide(clone.read(path))
        if change not in (Change.WRITE, Change.REMOVE):
            return Landed(change, attempt)
        if change is Change.WRITE:
            assert content is not None
            clone.write(path, content)
        else:
            clone.remove(path)
        commit = clone.commit(message, author)
        if clone.push() is PushResult.OK:
            return Landed(change, attempt, commit)
        delay = backoff.delay(attempt)
        if clone.deadline.remaining() <= delay:
            raise NotLanded(
                f"deadline of {clone.deadline.seconds:g}s passed after {attempt} push attempts "
                "(the branch kept moving)"
            )
        sleep(delay)
