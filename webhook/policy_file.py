"""The policy from a TronadorConfig file (`tronador webhook --config FILE`), for running outside a
cluster. The file is re-read when it changes; a broken edit keeps the last good policy."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from tronador.api import Policy
from tronador.config_loading import ConfigFileError, load_tronador_config
from webhook.file_watch import FileWatcher
from webhook.policy_source import PolicyHolder

log = logging.getLogger(__name__)


class FilePolicySource:
    def __init__(self, path: str | Path, check_interval: float = 2.0) -> None:
        self.path = Path(path)
        self.check_interval = check_interval
        self._holder = PolicyHolder(namespace=None, origin=f"file:{self.path}")
        self._file = FileWatcher(self.path)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def policy(self) -> Policy | None:
        return self._holder.policy

    @property
    def synced(self) -> bool:
        return self._holder.synced

    @property
    def last_sync(self) -> float | None:
        return self._holder.last_sync

    def load(self) -> None:
        """Read the file now; raises `ConfigFileError` if it is unusable (for the first load,
        so a wrong --config fails at startup rather than later)."""
        self._file.changed()
        config = load_tronador_config(self.path)
        self._holder.apply(config.model_dump(by_alias=True, exclude_none=True, mode="json"))

    def reload_if_changed(self) -> None:
        if not self._file.changed():
            if self.path.exists():
                self._holder.confirm()
            return
        try:
            self.load()
        except ConfigFileError as exc:
            self._holder.unusable()
            log.error(
                "policy file unusable; keeping the last good policy",
                extra={"fields": {"path": str(self.path), "error": str(exc)}},
            )

    def start(self) -> None:
        if self.policy is None:
            self.reload_if_changed()
        self._thread = threading.Thread(target=self._run, name="policy-file", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.check_interval + 1)

    def _run(self) -> None:
        while not self._stopping.wait(self.check_interval):
            self.reload_if_changed()
