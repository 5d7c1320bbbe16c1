"""Noticing that files changed, by polling their (inode, mtime, size): a rewrite, a rename over
them or a Secret volume's symlink swap all change it."""

from __future__ import annotations

import os
from pathlib import Path

FileStamp = tuple[int, int, int] | None
"""(inode, mtime in ns, size) of a file, None when it cannot be read."""


def file_stamp(path: Path) -> FileStamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class FileWatcher:
    """Whether any of some files changed since the last look."""

    def __init__(self, *paths: Path) -> None:
        self.paths = paths
        self._seen: tuple[FileStamp, ...] | None = None

    def changed(self) -> bool:
        """True the first time and whenever a file's stamp differs from the last look's."""
        stamps = tuple(file_stamp(path) for path in self.paths)
        if stamps == self._seen:
            return False
        self._seen = stamps
        return True
