"""Every `tronador` subcommand, driven in process with hostile input: alias bombs, huge and deep
documents, runs of braces and spaces, NUL bytes, unicode, malformed URLs carrying credentials.

Each run must end with exit 1 or 2 (a denial or unusable input; exit 0 only where the input
happens to be valid); unusable input (exit 2) is said in one line on stderr; never a
traceback, never the credential in any output or in any file left behind, and within a memory
cap (RLIMIT_AS, raised back after the test), so a regression fails instead of taking the machine.

Deterministic (`derandomize=True`); `TRONADOR_FUZZ_EXAMPLES` sets the examples per command.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tronador.cli import main

SECRET = "s3cr3t-T0KEN-9f2c"
"""Planted in every URL and credential-shaped input; must never come out."""

MEMORY_CAP = 2 * 1024 * 1024 * 1024
"""Address space the process may grow by during a command (a bomb takes ~4 GB without bounds)."""

FUZZ = settings(
    max_examples=int(os.environ.get("TRONADOR_FUZZ_EXAMPLES", "15")),
    derandomize=os.environ.get("TRONADOR_FUZZ_RANDOM") != "1",
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # The inputs are picked whole from the lists above: shrinking them only repeats slow runs.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


def _alias_bomb(levels: int = 9) -> str:
    lines = ["l0: &l0 ['lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol']"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines)


EP_HEAD = (
    "apiVersion: tronador.stakater.com/v1alpha1\nkind: EnvironmentProvisioner\n"
    "metadata: {name: x}\nspec:\n"
)

HOSTILE_DOCUMENTS = [
    _alias_bomb(),
    EP_HEAD + "  values: " + "[" * 5000 + "]" * 5000,
    EP_HEAD + "  values: {a: '{{" + " " * 4000 + "'}",
    EP_HEAD + "  values: '" + "{{ " * 20000 + "'",
    EP_HEAD + "  values: 'x\x00y'",
    "\x00" * 64,
    "\ufeff\u202e\U0001f600: [\udcff]".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "a: " + "b" * (4 * 1024 * 1024),
    "kind: TronadorConfig\napiVersion: tronador.stakater.com/v1alpha1\nspec: " + "{a: " * 200,
    f"apiVersion: v1\nkind: Config\nclusters: [{{cluster: {{server: 'https://u:{SECRET}@[::1'}}}}]",
    f"application:\n  chart_path: 'https://u:{SECRET}@h/x?private_token={SECRET}'",
    "--- !!python/object/apply:os.system ['echo pwned']",
    "",
]

HOSTILE_URLS = [
    f"http://bot:{SECRET}@127.0.0.1:99999/org/gitops.git",
    f"https://bot:{SECRET}@[::1",
    f"https://bot:{SECRET}@:18765:1",
    f"https://git.example.com/org/gitops.git?private_token={SECRET}",
    f"ssh://git:{SECRET}@127.0.0.1:notaport/org/x.git",
    f"git:{SECRET}@127.0.0.1:org/x.git\n",
    "ext::sh -c touch% /tmp/tronador-fuzz-pwned",
    "fd::3",
    "",
    " ",
    f"https://x/{'%' * 300}{SECRET}",
    f"file:///etc/{SECRET}/../../passwd",
    "--upload-pack=touch /tmp/tronador-fuzz-pwned",
    f"https://bot:{SECRET}@127.0.0.1:1/org/gitops.git\n--upload-pack=x",
    f"https://bot:{SECRET}@127.0.0.1:1/org/gitops.git",
]

HOSTILE_WORDS = [
    "",
    "refs/heads/x",
    "HEAD",
    "a..b",
    "x\ny",
    "\x00",
    "../../etc",
    "{{" + " " * 4000,
    "ü" * 300,
    "0",
    "-1",
    "inf",
    "nan",
    "99999999999999999999",
    SECRET,
    "--help",
]

documents = st.one_of(st.sampled_from(HOSTILE_DOCUMENTS), st.text(max_size=300))
urls = st.one_of(
    st.sampled_from(HOSTILE_URLS),
    st.text(max_size=40).map(lambda t: f"https://bot:{SECRET}@{t}"),
    st.text(max_size=40).map(lambda t: f"{t}://bot:{SECRET}@127.0.0.1/org/x.git"),
)
"""Every URL carries the credential in a place it is recognisable as one (user information)."""
words = st.one_of(st.sampled_from(HOSTILE_WORDS), st.text(max_size=40))
"""Argument values; argv cannot hold NUL, so those are replaced before the call."""


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _memory_capped() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    cap = mapped + MEMORY_CAP
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _argv(values: list[str]) -> list[str]:
    return [v.replace("\x00", "\\0") for v in values]


def run(argv: list[str], stdin: str = "") -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    saved_stdin = os.sys.stdin  # type: ignore[attr-defined]
    os.sys.stdin = io.StringIO(stdin)  # type: ignore[attr-defined]
    try:
        with _memory_capped(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(_argv(argv))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.sys.stdin = saved_stdin  # type: ignore[attr-defined]
    return Outcome(code, out.getvalue(), err.getvalue())


PWNED = Path("/tmp/tronador-fuzz-pwned")
"""What the injected git transports and options would create, were they ever run."""


def assert_contract(outcome: Outcome, workdir: Path, *, hostile: bool) -> None:
    assert not PWNED.exists(), "a hostile git transport or option was run"
    assert "Traceback" not in outcome.stderr, outcome.stderr[-2000:]
    assert SECRET not in outcome.stdout, outcome.stdout[:2000]
    assert SECRET not in outcome.stderr, outcome.stderr[:2000]
    for path in workdir.rglob("*"):
        if path.is_relative_to(workdir / INPUTS):
            continue
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 8 * 1024 * 1024:
            assert SECRET.encode() not in path.read_bytes(), f"the credential is in {path}"
    allowed = (1, 2) if hostile else (0, 1, 2)
    assert outcome.code in allowed, (outcome.code, outcome.stderr[-1000:])
    if outcome.code == 2:
        lines = [line for line in outcome.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, outcome.stderr[-2000:]
        assert lines[0].startswith("tronador") or _error_log_line(lines[0]), lines[0][:300]


def _error_log_line(line: str) -> bool:
    """The running parts (webhook, controller) say a startup failure as a structured log line."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("level") == "error" and bool(record.get("msg"))


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="tronador-fuzz-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


INPUTS = "in"
"""The scratch folder's inputs (which hold the credential on purpose): not scanned for it."""


def _file(folder: Path, text: str, name: str = "input.yaml") -> str:
    path = folder / INPUTS / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return str(path)


Command = Callable[[Path, str, str, str], list[str]]
"""(scratch folder, document, url, word) -> argv."""

COMMANDS: dict[str, Command] = {
    "validate": lambda d, doc, url, w: ["validate", _file(d, doc)],
    "validate-policy": lambda d, doc, url, w: [
        "validate", "--config", _file(d, doc), _file(d, doc, "ep.yaml")
    ],
    "review": lambda d, doc, url, w: ["review", _file(d, doc)],
    "convert": lambda d, doc, url, w: ["convert", _file(d, doc)],
    "audit": lambda d, doc, url, w: ["audit", "--from-file", _file(d, doc)],
    "render": lambda d, doc, url, w: [
        "render", "--config-file", _file(d, doc), "--repo-url", url, "--ref", w,
        "--pr", w, "--image-name", w, "--image-tag", w,
    ],
    "render-url": lambda d, doc, url, w: [
        "render", "--config-file", _file(d, "application: {chart_path: deploy}\n"),
        "--repo-url", url, "--ref", "main", "--pr", "7", "--image-name", "i", "--image-tag", "t",
    ],
    "publish": lambda d, doc, url, w: [
        "publish", "--file", _file(d, doc), "--gitops-repo", url, "--branch", w,
        "--work-dir", str(d / "work"), "--timeout", "5",
    ],
    "publish-url": lambda d, doc, url, w: [
        "publish", "--file", _seed_ep_file(d), "--gitops-repo", url,
        "--work-dir", str(d / "work"), "--timeout", "5",
    ],
    "retire": lambda d, doc, url, w: [
        "retire", "--repo-url", url, "--pr", w, "--gitops-repo", url, "--branch", w,
        "--work-dir", str(d / "work"), "--timeout", "5",
    ],
    "crds": lambda d, doc, url, w: ["crds", "--out", str(d / "out") + "/" + w],
    "certs": lambda d, doc, url, w: [
        "certs", "generate", "--out", str(d / "tls") + w, "--dns", w, "--namespace", w,
    ],
    "webhook": lambda d, doc, url, w: [
        "webhook", "--cert", _file(d, doc, "tls.crt"), "--key", _file(d, doc, "tls.key"),
        "--config", _file(d, doc), "--port", w, "--address", "127.0.0.1",
    ],
    "controller": lambda d, doc, url, w: [
        "controller", "--kubeconfig", _file(d, doc, "kubeconfig"), "--no-leader-elect",
        "--metrics-address", "127.0.0.1:0",
    ],
    "audit-cluster": lambda d, doc, url, w: ["audit", "--kubeconfig", _file(d, doc, "kc")],
}  # fmt: skip


def _seed_ep_file(folder: Path) -> str:
    from tests.seeds import EXAMPLES

    return _file(folder, (EXAMPLES / "environment-provisioner.yaml").read_text(), "ep.yaml")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_hostile_input_in_one_line(command: str) -> None:
    build = COMMANDS[command]

    @FUZZ
    @given(document=documents, url=urls, word=words)
    def check(document: str, url: str, word: str) -> None:
        with _scratch() as folder:
            outcome = run(build(folder, document, url, word))
            hostile = (
                document in HOSTILE_DOCUMENTS[:4] and command not in ("crds", "certs", "render-url")
            ) or (url in HOSTILE_URLS and command in ("render-url", "publish-url"))
            assert_contract(outcome, folder, hostile=hostile)

    check()
