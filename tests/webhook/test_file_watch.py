"""The one file watcher behind the serving-certificate reload and the policy file."""

from __future__ import annotations

from pathlib import Path

from tests.webhook.pki import write_atomically
from webhook.file_watch import FileWatcher


def test_a_change_to_any_watched_file_is_seen_once(tmp_path: Path) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    watcher = FileWatcher(cert, key)
    assert watcher.changed()  # the first look
    assert not watcher.changed()  # neither file exists, still
    cert.write_bytes(b"one")
    assert watcher.changed()
    assert not watcher.changed()
    write_atomically(key, b"two")  # a rename over the file
    assert watcher.changed()
    key.unlink()
    assert watcher.changed()
    assert not watcher.changed()
