"""EmulatedAPIServer: the store and the HTTP app, served from a background thread."""

from __future__ import annotations

import asyncio
import copy
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import kubernetes.client
from aiohttp import web

from tests.apiserver.app import APIHandler
from tests.apiserver.faults import FaultRules
from tests.apiserver.recorded import RecordedRequest
from tests.apiserver.resources import DEFAULT_RESOURCES, Resource, ResourceTable
from tests.apiserver.store import DEFAULT_NAMESPACES, Obj, Store, WatchEvent
from tests.waiting import wait_until

T = TypeVar("T")


class EmulatedAPIServer:
    """A stateful stand-in for the Kubernetes API server on http://127.0.0.1:<port>.

    The Python methods (get, list, seed, set_status, delete...) act on the state directly: they
    neither go through fault rules nor show up in `requests`. They return copies.
    """

    def __init__(
        self,
        *,
        extra_resources: Iterable[Resource] = (),
        event_window: int = 1000,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
        bookmark_interval: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.table = ResourceTable([*DEFAULT_RESOURCES, *extra_resources])
        self.store = Store(
            self.table, event_window=event_window, namespaces=tuple(namespaces), clock=clock
        )
        self.faults = FaultRules()
        self.requests: list[RecordedRequest] = []
        self._handler = APIHandler(self.store, self.faults, self.requests.append, bookmark_interval)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the emulated API server is not started")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> EmulatedAPIServer:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        failure: list[BaseException] = []
        started = threading.Event()

        async def serve() -> None:
            app = self._handler.make_app()
            self._runner = web.AppRunner(
                app,
                access_log=None,
                keepalive_timeout=3600,
                handle_signals=False,
                shutdown_timeout=0.5,
            )
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:
                failure.append(exc)
                return
            finally:
                started.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="emulated-apiserver", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            self.stop()
            raise RuntimeError("the emulated API server did not start") from failure[0]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            self._handler.shutdown()
            if self._runner is not None:
                await self._runner.cleanup()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            self._thread = self._loop = self._runner = None

    def __enter__(self) -> EmulatedAPIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- clients -----------------------------------------------------------------------------

    def configuration(self) -> kubernetes.client.Configuration:
        """Bound to this server, with urllib3's own retries off so tests see raw failures."""
        configuration = kubernetes.client.Configuration(host=self.url)
        configuration.retries = False
        return configuration

    def api_client(self) -> kubernetes.client.ApiClient:
        return kubernetes.client.ApiClient(self.configuration())

    # -- direct access to the state ----------------------------------------------------------

    def resource(self, api_version: str, plural: str) -> Resource:
        return self.table.require(api_version, plural)

    def get(
        self, api_version: str, plural: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        obj = self.store.find(self.resource(api_version, plural), namespace, name)
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, api_version: str, plural: str, namespace: str | None = None) -> list[Obj]:
        found, _ = self.store.select(self.resource(api_version, plural), namespace)
        return [copy.deepcopy(obj) for _, obj in found]

    def seed(self, obj: Obj) -> Obj:
        """Store `obj` as if created (fills uid, resourceVersion, creationTimestamp...), keeping
        any status, uid or creationTimestamp it has, without the namespace checks."""
        resource = self.table.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        if resource is None:
            raise KeyError(f"no resource for {obj.get('apiVersion')} {obj.get('kind')}")
        return copy.deepcopy(self.store.seed(resource, obj))

    def set_status(
        self,
        api_version: str,
        plural: str,
        name: str,
        namespace: str | None,
        status: dict[str, Any],
    ) -> Obj:
        """A status write by another controller (a test playing Flux, say); unconditional."""
        resource = self.resource(api_version, plural)
        meta = {"name": name, **({"namespace": namespace} if namespace else {})}
        subresource = "status" if resource.status_subresource else None
        if subresource is None:
            current = self.store.get(resource, namespace, name)
            return copy.deepcopy(
                self.store.update(resource, namespace, name, {**current, "status": status})
            )
        return copy.deepcopy(
            self.store.update(
                resource,
                namespace,
                name,
                {"metadata": meta, "status": status},
                subresource="status",
            )
        )

    def patch(
        self,
        api_version: str,
        plural: str,
        name: str,
        namespace: str | None,
        patch: dict[str, Any],
    ) -> Obj:
        """A merge patch of the main resource, as another client would send it."""
        resource = self.resource(api_version, plural)
        return copy.deepcopy(
            self.store.patch(resource, namespace, name, "application/merge-patch+json", patch)
        )

    def apply(
        self, config: Obj, manager: str, force: bool = False, subresource: str | None = None
    ) -> Obj:
        """A server-side apply of `config` as `manager`, as another client would send it."""
        api_version, kind = config["apiVersion"], config["kind"]
        resource = self.store.table.by_kind(api_version, kind)
        assert resource is not None, f"{api_version} {kind} is not served"
        meta = config["metadata"]
        return copy.deepcopy(
            self.store.apply(
                resource,
                meta.get("namespace"),
                meta["name"],
                config,
                manager=manager,
                force=force,
                subresource=subresource,
            )
        )

    def delete(
        self,
        api_version: str,
        plural: str,
        name: str,
        namespace: str | None = None,
        propagation_policy: str | None = None,
    ) -> Obj:
        resource = self.resource(api_version, plural)
        options = {"propagationPolicy": propagation_policy} if propagation_policy else None
        return copy.deepcopy(self.store.delete(resource, namespace, name, options))

    def compact(self) -> None:
        """Drop the event log: watches from any older resourceVersion get 410 Expired."""
        self.store.compact()

    @property
    def resource_version(self) -> str:
        return str(self.store.resource_version)

    def on_event(
        self,
        callback: Callable[[str, Obj], None],
        api_version: str | None = None,
        plural: str | None = None,
        types: Iterable[str] = ("ADDED", "MODIFIED", "DELETED"),
    ) -> Callable[[], None]:
        """Call `callback(type, object)` after each change to the matching kind, in the thread
        that made it, before its HTTP answer is sent. It may write through this object's methods
        to play another controller (e.g. mark a HelmRelease ready once it is created). What it
        raises is logged and kept in `hook_errors`. Returns a function that removes the hook."""
        wanted = set(types)

        def listener(event: WatchEvent) -> None:
            if api_version is not None and event.resource.api_version != api_version:
                return
            if plural is not None and event.resource.plural != plural:
                return
            if event.type in wanted:
                callback(event.type, copy.deepcopy(event.object))

        return self.store.add_listener(listener)

    @property
    def hook_errors(self) -> list[Exception]:
        return self.store.listener_errors

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.01
    ) -> T:
        """Poll `predicate` until it returns something truthy, and return that."""
        return wait_until(predicate, timeout, interval)

    # -- request log -------------------------------------------------------------------------

    def clear_requests(self) -> None:
        self.requests.clear()

    def writes(self) -> list[RecordedRequest]:
        """create, update, patch, delete and deletecollection requests, in order."""
        return [r for r in self.requests if r.is_write]
