"""The certificate files the webhook server reads: ``ca.crt``, ``tls.crt``, ``tls.key``.

Each file is replaced atomically (temp file in the same directory, fsync, ``os.replace``), and
private keys are created with mode 0600 from the first byte, so a reader never sees a
half-written or world-readable key. The three files are written in the order ``ca.crt``,
``tls.key``, ``tls.crt``: a reader that reloads when ``tls.crt`` changes finds the matching key
already in place. A reader polling both may still catch a new key with the old certificate
for a moment, so it must keep its previous TLS context when loading fails and retry.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from certs import defaults


@dataclass(frozen=True)
class CertFiles:
    ca_cert: bytes
    tls_cert: bytes
    tls_key: bytes


def paths(directory: str | os.PathLike[str]) -> dict[str, Path]:
    d = Path(directory)
    return {
        "ca_cert": d / defaults.CA_CERT_FILE,
        "tls_cert": d / defaults.TLS_CERT_FILE,
        "tls_key": d / defaults.TLS_KEY_FILE,
    }


def write_atomic(path: str | os.PathLike[str], content: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``content`` so readers see either the old or the new file."""
    target = Path(path)
    # mkstemp creates the file 0600; we only ever widen it for non-secret files.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def read(directory: str | os.PathLike[str]) -> CertFiles:
    """Read the three files; raises FileNotFoundError naming the first missing one."""
    p = paths(directory)
    return CertFiles(
        ca_cert=p["ca_cert"].read_bytes(),
        tls_cert=p["tls_cert"].read_bytes(),
        tls_key=p["tls_key"].read_bytes(),
    )


def write(directory: str | os.PathLike[str], files: CertFiles) -> bool:
    """Write whichever files differ from ``files``; returns whether anything was written."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    p = paths(d)
    wrote = False
    for name, content, mode in (
        ("ca_cert", files.ca_cert, 0o644),
        ("tls_key", files.tls_key, 0o600),
        ("tls_cert", files.tls_cert, 0o644),
    ):
        if _read(p[name]) != content:
            write_atomic(p[name], content, mode)
            wrote = True
        elif mode == 0o600 and p[name].stat().st_mode & 0o077:
            os.chmod(p[name], mode)  # an existing key someone made readable
    return wrote
