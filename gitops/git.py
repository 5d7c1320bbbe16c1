"""The real `git` CLI, run as a subprocess against one work clone, with every message scrubbed
of secrets before it leaves this module."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

_CONFIG = (
    "-c", "credential.helper=",
    "-c", "core.autocrlf=false",
    "-c", "advice.detachedHead=false",
    "-c", "init.defaultBranch=main",
    "-c", "gc.auto=0",
)  # fmt: skip
"""No credential helper may store the token; no line-ending or gc surprises."""

_STALE = ("fetch first", "non-fast-forward", "stale info", "failed to update ref", "cannot lock")
"""Push rejections that mean someone else moved the branch first: fetch and try again."""

_NO_REF = ("couldn't find remote ref", "could not find remote ref")


GENERIC_TRANSPORT_FAILURE = "fatal: Could not read from remote repository."
GIT_MESSAGE_PREFIXES = (
    "fatal:", "error:", "remote:", "hint:", "warning:", "Cloning into", "Warning: Permanently added"
)  # fmt: skip
"""Lines of git's (and ssh's) stderr that are not a transport's reason for failing."""


class GitError(RuntimeError):
    """git failed; the message is one line, without secrets."""


class NotLanded(GitError):
    """The remote refused the push, or the deadline passed: nothing of ours landed."""


class PushResult(Enum):
    OK = "ok"
    STALE = "stale"


@dataclass(frozen=True)
class Author:
    name: str
    email: str


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()


class WorkClone:
    """A shallow work clone of one branch of the GitOps repository."""

    def __init__(
        self,
        directory: Path,
        remote: str,
        branch: str,
        env: dict[str, str],
        secrets: tuple[str, ...],
        deadline: Deadline,
    ) -> None:
        self.dir = directory
        self.remote = remote
        self.branch = branch
        self.env = env
        self.secrets = tuple(s for s in secrets if s)
        self.deadline = deadline

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise NotLanded(f"deadline of {self.deadline.seconds:g}s passed before git {args[0]}")
        try:
            done = subprocess.run(
                ["git", *_CONFIG, *args],
                cwd=self.dir,
                env=self.env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=remaining,
            )
        except subprocess.TimeoutExpired:
            raise NotLanded(
                f"deadline of {self.deadline.seconds:g}s passed during git {args[0]}"
            ) from None
        except FileNotFoundError:
            raise GitError("the `git` command is not installed") from None
        if check and done.returncode != 0:
            raise GitError(f"git {args[0]} failed: {self.last_line(done.stderr)}")
        return done

    def last_line(self, stderr: str, first: tuple[str, ...] = ("fatal:", "error:")) -> str:
        """The line of git's stderr that says what went wrong (fatal/error first). When it is
        git's generic "could not read from remote repository", the transport's own reason that
        came before it is put in front (ssh's "Host key verification failed.", "Permission
        denied (publickey).")."""
        lines = [line.strip() for line in self.scrub(stderr).splitlines() if line.strip()]
        for prefix in (*first, "fatal:", "error:", "remote:"):
            picked = [index for index, line in enumerate(lines) if line.startswith(prefix)]
            if picked:
                line = lines[picked[0]]
                if line != GENERIC_TRANSPORT_FAILURE:
                    return line
                causes = [
                    earlier
                    for earlier in lines[: picked[0]]
                    if not earlier.startswith(GIT_MESSAGE_PREFIXES)
                ]
                return f"{causes[-1]} ({line})" if causes else line
        return lines[-1] if lines else "no message"

    def init(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.dir / ".git").exists():
            self.run("init", "-q")
            self.run("remote", "add", "origin", self.remote)
        else:
            self.run("remote", "set-url", "origin", self.remote)

    def sync(self) -> bool:
        """Check out the remote branch's current tip, discarding local work; False when the
        branch does not exist yet (the work tree is then empty)."""
        fetched = self.run(
            "fetch", "-q", "--depth", "1", "--no-tags", "origin",
            f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}",
            check=False,
        )  # fmt: skip
        if fetched.returncode != 0:
            if any(marker in fetched.stderr.lower() for marker in _NO_REF):
                self.run("checkout", "-q", "--orphan", f"tronador-new-{time.monotonic_ns()}")
                self.run("rm", "-rfq", "--cached", "--ignore-unmatch", ".")
                self.run("clean", "-fdxq")
                return False
            raise GitError(f"cannot fetch {self.branch}: {self.last_line(fetched.stderr)}")
        self.run("checkout", "-q", "--force", "-B", "tronador-work", f"origin/{self.branch}")
        self.run("clean", "-fdxq")
        return True

    def _inside(self, path: str) -> Path:
        """`path` in the work tree, refused when any part of it is a symbolic link or not a
        directory where one is needed: a link committed to the GitOps repository must never
        make us read or write outside it, nor overwrite its target."""
        file = self.dir / path
        current = self.dir
        parts = Path(path).parts
        for index, part in enumerate(parts):
            current = current / part
            if current.is_symlink():
                raise GitError(
                    f"{'/'.join(parts[: index + 1])} is a symbolic link in the GitOps "
                    "repository; refusing to follow it"
                )
            if index < len(parts) - 1 and current.exists() and not current.is_dir():
                raise GitError(f"{'/'.join(parts[: index + 1])} is a file, not a directory")
        if file.is_dir():
            raise GitError(f"{path} is a directory in the GitOps repository, not a file")
        return file

    def read(self, path: str) -> str | None:
        file = self._inside(path)
        try:
            return file.read_text(encoding="utf-8") if file.is_file() else None
        except UnicodeDecodeError:
            return file.read_bytes().decode("utf-8", "replace")

    def write(self, path: str, content: str) -> None:
        file = self._inside(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(content, encoding="utf-8")
        self.run("add", "--", path)

    def remove(self, path: str) -> None:
        self._inside(path)
        self.run("rm", "-q", "--", path)

    def commit(self, message: str, author: Author) -> str:
        identity = ("-c", f"user.name={author.name}", "-c", f"user.email={author.email}")
        self.run(*identity, "commit", "-q", "--no-verify", "-F", "-", stdin=message)
        return self.run("rev-parse", "HEAD").stdout.strip()

    def push(self) -> PushResult:
        """Push HEAD to the branch, never forced: STALE when someone else pushed first."""
        done = self.run(
            "push", "--porcelain", "origin", f"HEAD:refs/heads/{self.branch}", check=False
        )
        if done.returncode == 0:
            return PushResult.OK
        rejected = [line for line in done.stdout.splitlines() if line.startswith("!")]
        reason = (rejected[0].split("\t")[-1] if rejected else "") + " " + done.stderr
        if any(marker in reason.lower() for marker in _STALE):
            return PushResult.STALE
        if rejected:
            detail = self.last_line(done.stderr, first=("remote:",))
            raise NotLanded(f"push refused: {self.scrub(rejected[0].split(chr(9))[-1])}; {detail}")
        raise GitError(f"push failed: {self.last_line(done.stderr)}")
