from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from certs import files, pki
from tests.certs.helpers import T0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def material() -> files.CertFiles:
    ca = pki.generate_ca(T0)
    leaf = pki.issue_serving_cert(ca, pki.ServingSpec(), T0)
    return files.CertFiles(ca.cert_pem, leaf.cert_pem, leaf.key_pem)


def test_writes_three_files_key_0600(tmp_path: Path, material: files.CertFiles) -> None:
    old_umask = os.umask(0)  # even a permissive umask must not widen the key
    try:
        assert files.write(tmp_path / "certs", material)
    finally:
        os.umask(old_umask)
    d = tmp_path / "certs"
    assert sorted(p.name for p in d.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    assert _mode(d / "tls.key") == 0o600
    assert _mode(d / "tls.crt") == 0o644
    assert files.read(d) == material


def test_unchanged_content_is_not_rewritten(tmp_path: Path, material: files.CertFiles) -> None:
    files.write(tmp_path, material)
    inode = (tmp_path / "tls.crt").stat().st_ino
    assert not files.write(tmp_path, material)
    assert (tmp_path / "tls.crt").stat().st_ino == inode


def test_existing_world_readable_key_is_tightened(
    tmp_path: Path, material: files.CertFiles
) -> None:
    files.write(tmp_path, material)
    os.chmod(tmp_path / "tls.key", 0o644)
    files.write(tmp_path, material)
    assert _mode(tmp_path / "tls.key") == 0o600


def test_replace_is_atomic_and_key_never_readable(
    tmp_path: Path, material: files.CertFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Watch every temp file at the moment it is renamed into place."""
    (tmp_path / "tls.key").write_bytes(b"old key")
    os.chmod(tmp_path / "tls.key", 0o600)
    seen: list[tuple[str, int, bytes, bytes]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        target = Path(dst)
        seen.append(
            (
                target.name,
                _mode(Path(src)),
                Path(src).read_bytes(),
                target.read_bytes() if target.exists() else b"",
            )
        )
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    files.write(tmp_path, material)
    assert [s[0] for s in seen] == ["ca.crt", "tls.key", "tls.crt"]
    _, mode, new, old = seen[1]
    assert mode == 0o600
    assert new == material.tls_key  # fully written (and fsynced) before the rename
    assert old == b"old key"  # the reader still saw the complete old file until then
    assert not list(tmp_path.glob(".*.tmp"))


def test_failed_write_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "tls.key"
    target.write_bytes(b"old")

    def boom(_fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        files.write_atomic(target, b"new", 0o600)
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]
