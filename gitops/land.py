"""Land one file's change on the GitOps branch under concurrency: sync to the remote tip, decide
again on what is there now, commit, push without force; when another pipeline pushed first,
back off (full jitter) and redo the change on the new tip, until the deadline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from gitops.git import Author, NotLanded, PushResult, WorkClone
from tronador.rules.gitops import Change, backoff_delay


@dataclass(frozen=True)
class Landed:
    change: Change
    attempts: int
    commit: str | None = None


def land(
    clone: WorkClone,
    path: str,
    decide: Callable[[str | None], Change],
    content: str | None,
    message: str,
    author: Author,
    sleep: Callable[[float], None] = time.sleep,
    fraction: Callable[[], float] = random.random,
) -> Landed:
    """Apply `decide`'s change to `path` (WRITE `content`, or REMOVE) on the remote branch."""
    clone.init()
    attempt = 0
    while True:
        attempt += 1
        clone.sync()
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
        delay = backoff_delay(attempt, fraction())
        if clone.deadline.remaining() <= delay:
            raise NotLanded(
                f"deadline of {clone.deadline.seconds:g}s passed after {attempt} push attempts "
                "(the branch kept moving)"
            )
        sleep(delay)
