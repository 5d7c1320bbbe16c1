"""Small helpers for tests that talk to the emulated API server through the real client."""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import kubernetes.watch
from kubernetes.client import ApiException


def error_status(exc: ApiException) -> dict[str, Any]:
    """The Status body the server answered with."""
    return json.loads(exc.body or "{}")


def raw_request(
    url: str, method: str, path: str, body: Any = None, content_type: str = "application/json"
) -> tuple[int, Any]:
    """One request outside the kubernetes client: (status, parsed JSON body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    return status, json.loads(payload) if payload else None


_END = object()


class WatchCollector:
    """Runs `kubernetes.watch.Watch().stream(func, *args, **kwargs)` in a thread and queues the
    events, so a test can act and then assert on what a watcher saw."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._watch = kubernetes.watch.Watch()
        self._queue: queue.Queue[Any] = queue.Queue()
        self.error: BaseException | None = None
        self.ended = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, args=(func, args, kwargs), name="watch-collector", daemon=True
        )
        self._thread.start()

    def _run(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            for event in self._watch.stream(func, *args, **kwargs):
                self._queue.put(event)
        except BaseException as exc:
            if not self._stopping:
                self.error = exc
        finally:
            self.ended.set()
            self._queue.put(_END)

    def next(self, timeout: float = 5.0) -> dict[str, Any]:
        item = self._queue.get(timeout=timeout)
        if item is _END:
            self._queue.put(_END)
            raise EOFError(f"the watch ended (error: {self.error!r})")
        return item

    def take(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return [self.next(timeout) for _ in range(count)]

    def pending(self, wait: float = 0.2) -> list[dict[str, Any]]:
        """Whatever arrives within `wait` seconds."""
        time.sleep(wait)
        found = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return found
            if item is _END:
                self._queue.put(_END)
                return found
            found.append(item)

    def stop(self) -> None:
        self._stopping = True
        self._watch.stop()
        self._thread.join(5)

    def __enter__(self) -> WatchCollector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def summary(event: dict[str, Any]) -> tuple[str, str]:
    """(type, name) of a watch event, whatever the object's model."""
    obj = event["raw_object"]
    return event["type"], obj.get("metadata", {}).get("name", "")
