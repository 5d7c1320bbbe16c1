"""The aiohttp application: routing, fault rules, the request log and watch streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.apiserver import errors
from tests.apiserver.faults import Fault, FaultRules
from tests.apiserver.recorded import RecordedRequest
from tests.apiserver.routing import TRUE, Route, parse
from tests.apiserver.selectors import Matcher, field_matcher, label_matcher
from tests.apiserver.store import Obj, Store, WatchEvent

JSON = "application/json"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=_dumps(body), content_type=JSON, headers=headers)


def _dry_run(query: dict[str, str]) -> bool:
    value = query.get("dryRun")
    if value is None:
        return False
    if value != "All":
        raise errors.bad_request(f"Invalid dry run value: {value!r}, only 'All' is supported")
    return True


def _is_apply(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "application/apply-patch+yaml"


def _int_param(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError as exc:
        raise errors.bad_request(f"invalid value for {name}: {value!r}") from exc


def _watch_type(event: WatchEvent, matches: Matcher | None) -> str | None:
    """The type a selective watcher sees: objects entering or leaving the selection show up as
    ADDED or DELETED, as with the real watch cache."""
    if matches is None:
        return event.type
    now = matches(event.object)
    if event.type == "MODIFIED" and event.previous is not None:
        before = matches(event.previous)
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        return "DELETED" if before else None
    return event.type if now else None


class APIHandler:
    def __init__(
        self,
        store: Store,
        faults: FaultRules,
        record: Callable[[RecordedRequest], None],
        bookmark_interval: float,
    ) -> None:
        self.store = store
        self.faults = faults
        self.record = record
        self.bookmark_interval = bookmark_interval
        self.stopping = False
        self._watchers: set[asyncio.Event] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_scheduled = False
        store.add_waker(self._wake)

    def make_app(self) -> web.Application:
        self._loop = asyncio.get_running_loop()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # -- waking watchers (called from any thread, under the store lock) -----------------------

    def _wake(self) -> None:
        loop = self._loop
        if self._wake_scheduled or not self._watchers or loop is None or loop.is_closed():
            return
        self._wake_scheduled = True
        try:
            loop.call_soon_threadsafe(self._wake_all)
        except RuntimeError:
            self._wake_scheduled = False

    def _wake_all(self) -> None:
        self._wake_scheduled = False
        for waker in self._watchers:
            waker.set()

    def shutdown(self) -> None:
        self.stopping = True
        self._wake_all()

    # -- requests ------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        query = dict(request.query)
        route = parse(request.method, request.path, query, self.store.table)
        content_type = request.headers.get("Content-Type")
        body: Any = None
        body_error: errors.APIError | None = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                body_error = errors.bad_request(
                    f"the body of the request could not be decoded: {exc}"
                )
        name = route.name
        if name is None and route.verb == "create" and isinstance(body, dict):
            name = (body.get("metadata") or {}).get("name")

        def record(status: int, fault: Fault | None = None) -> None:
            self.record(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    query=query,
                    verb=route.verb,
                    api_version=route.api_version,
                    plural=route.plural,
                    namespace=route.namespace,
                    name=route.name,
                    subresource=route.subresource,
                    status=status,
                    body=body,
                    content_type=content_type,
                    fault=fault,
                )
            )

        fault = self.faults.take(request.method, request.path, name, route.verb)
        if fault is not None:
            if fault.delay and fault.kind != "late":
                await asyncio.sleep(fault.delay)
            if not fault.proceeds:
                return await self._answer_fault(request, route, name, fault, record)

        if route.discovery is not None:
            record(200, fault)
            return _json_response(200, route.discovery)
        try:
            if route.error is not None:
                raise route.error
            if body_error is not None:
                raise body_error
            if route.verb == "watch":
                return await self._watch(request, route, query, lambda s: record(s, fault))
            status, result = self._serve(route, query, body, content_type or "")
        except errors.APIError as exc:
            status, result = exc.code, exc.status
        if fault is not None and fault.kind == "late":
            await asyncio.sleep(fault.delay)
        record(status, fault)
        return _json_response(status, result)

    async def _answer_fault(
        self,
        request: web.Request,
        route: Route,
        name: str | None,
        fault: Fault,
        record: Callable[[int, Fault | None], None],
    ) -> web.StreamResponse:
        if fault.drop_watch:
            record(200, fault)
            response = web.StreamResponse(status=200, headers={"Content-Type": JSON})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b"")
            _abort(request)
            return response
        if fault.kind == "drop":
            record(0, fault)
            _abort(request)
            return web.Response(status=500)
        status = fault.reply_status
        headers = dict(fault.headers)
        if fault.body is None:
            retry_after = headers.get("Retry-After")
            body: Any = errors.for_code(
                status,
                method=request.method,
                resource=route.resource,
                name=name,
                retry_after=int(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        else:
            body = fault.body
        record(status, fault)
        if isinstance(body, dict | list):
            return _json_response(status, body, headers)
        data = body.encode() if isinstance(body, str) else body
        headers.setdefault("Content-Type", JSON)
        return web.Response(status=status, body=data, headers=headers)

    def _serve(
        self, route: Route, query: dict[str, str], body: Any, content_type: str
    ) -> tuple[int, Obj]:
        store, resource = self.store, route.resource
        assert resource is not None
        namespace, name = route.namespace, route.name
        if route.verb == "get":
            assert name is not None
            return 200, store.get(resource, namespace, name)
        if route.verb == "list":
            return 200, store.list(
                resource,
                namespace,
                label_selector=query.get("labelSelector"),
                field_selector=query.get("fieldSelector"),
                limit=_int_param(query, "limit"),
                continue_token=query.get("continue"),
            )
        dry_run = _dry_run(query)
        if route.verb == "create":
            return 201, store.create(resource, namespace, body, dry_run=dry_run)
        if route.verb == "deletecollection":
            return 200, store.delete_collection(
                resource,
                namespace,
                label_selector=query.get("labelSelector"),
                field_selector=query.get("fieldSelector"),
                options=self._delete_options(query, body),
                dry_run=dry_run,
            )
        assert name is not None
        if route.verb == "update":
            return 200, store.update(
                resource, namespace, name, body, subresource=route.subresource, dry_run=dry_run
            )
        if route.verb == "patch" and _is_apply(content_type):
            existed = store.find(resource, namespace, name) is not None
            applied = store.apply(
                resource,
                namespace,
                name,
                body,
                manager=query.get("fieldManager"),
                force=query.get("force") in TRUE,
                subresource=route.subresource,
                dry_run=dry_run,
            )
            return (200 if existed else 201), applied
        if route.verb == "patch":
            return 200, store.patch(
                resource,
                namespace,
                name,
                content_type,
                body,
                subresource=route.subresource,
                dry_run=dry_run,
            )
        if route.verb == "delete":
            options = self._delete_options(query, body)
            return 200, store.delete(resource, namespace, name, options, dry_run=dry_run)
        raise errors.method_not_allowed()

    @staticmethod
    def _delete_options(query: dict[str, str], body: Any) -> Obj:
        options: Obj = dict(body) if isinstance(body, dict) else {}
        if "propagationPolicy" in query:
            options["propagationPolicy"] = query["propagationPolicy"]
        if "orphanDependents" in query:
            options["orphanDependents"] = query["orphanDependents"] in TRUE
        return options

    # -- watch ---------------------------------------------------------------------------------

    async def _watch(
        self,
        request: web.Request,
        route: Route,
        query: dict[str, str],
        record: Callable[[int], None],
    ) -> web.StreamResponse:
        resource = route.resource
        assert resource is not None
        label_selector = query.get("labelSelector")
        field_selector = query.get("fieldSelector")
        if route.name is not None:
            by_name = f"metadata.name={route.name}"
            field_selector = f"{field_selector},{by_name}" if field_selector else by_name
        labels = label_matcher(label_selector)
        fields = field_matcher(field_selector, resource)
        matches: Matcher | None = None
        if label_selector or field_selector:

            def matches(obj: Obj) -> bool:
                return labels(obj) and fields(obj)

        timeout = _int_param(query, "timeoutSeconds")
        bookmarks = query.get("allowWatchBookmarks") in TRUE
        rv_param = query.get("resourceVersion")
        initial: list[Obj] = []
        if rv_param in (None, "", "0"):
            found, cursor = self.store.select(
                resource, route.namespace, label_selector, field_selector
            )
            initial = [obj for _, obj in found]
        else:
            try:
                cursor = int(str(rv_param))
            except ValueError as exc:
                raise errors.bad_request(f"invalid resource version: {rv_param!r}") from exc

        record(200)
        response = web.StreamResponse(
            status=200, headers={"Content-Type": JSON, "Cache-Control": "no-cache, private"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        next_bookmark = loop.time() + self.bookmark_interval
        waker = asyncio.Event()
        self._watchers.add(waker)
        try:
            if initial:
                await response.write(
                    b"".join(_dumps({"type": "ADDED", "object": o}) + b"\n" for o in initial)
                )
            while not self.stopping:
                waker.clear()
                try:
                    events = self.store.events_since(cursor)
                except errors.APIError as exc:
                    await response.write(_dumps({"type": "ERROR", "object": exc.status}) + b"\n")
                    break
                lines = []
                for event in events:
                    cursor = event.rv
                    if event.resource is not resource:
                        continue
                    if route.namespace is not None and (
                        event.object["metadata"].get("namespace") != route.namespace
                    ):
                        continue
                    type_ = _watch_type(event, matches)
                    if type_ is not None:
                        lines.append(_dumps({"type": type_, "object": event.object}) + b"\n")
                if lines:
                    await response.write(b"".join(lines))
                now = loop.time()
                if bookmarks and now >= next_bookmark:
                    bookmark = {
                        "kind": resource.kind,
                        "apiVersion": resource.api_version,
                        "metadata": {"resourceVersion": str(cursor)},
                    }
                    await response.write(_dumps({"type": "BOOKMARK", "object": bookmark}) + b"\n")
                    next_bookmark = now + self.bookmark_interval
                if deadline is not None and now >= deadline:
                    break
                waits = [t - now for t in (deadline, next_bookmark if bookmarks else None) if t]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waker.wait(), min(waits) if waits else None)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self._watchers.discard(waker)
        return response


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
