"""The aiohttp application: admission routes, probes and metrics.

Every admission request body is parsed once, decided by the shared rules and answered with one
serialization. Whatever arrives, the answer is well formed: an AdmissionReview denial when the
request's uid can be read, otherwise a 4xx metav1.Status; never a 500 or a traceback.

A body larger than INLINE_BODY_BYTES is decoded and decided in a worker thread, not on the event
loop: a 3 MiB review of small mappings costs up to ~100 ms, and the loop must keep answering the
kubelet's probes and the ordinary reviews meanwhile (bench/flood.py measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from http import HTTPStatus

from aiohttp import web

from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE
from webhook import json_codec, responses, routes, verdict
from webhook.admitters import Admitter, ServedKinds, admitters
from webhook.allocator import ReleaseAfterBurst, freeze_startup_objects
from webhook.collector import collector_paused
from webhook.inflight import in_flight_bound
from webhook.limits import DEFAULT_MAX_REQUESTS_IN_FLIGHT, ServingLimits
from webhook.listener import GuardedTLSSite
from webhook.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from webhook.metrics import UNKNOWN_OPERATION, WebhookMetrics
from webhook.policy_source import PolicySource
from webhook.review import AdmissionRequest, ReviewError, parse_admission_review
from webhook.tls import CertificateReloader, ReloadResult
from webhook.verdict import Verdict

log = logging.getLogger(__name__)

JSON = "application/json"
CERTIFICATE_CHECK_SECONDS = 2.0
INLINE_BODY_BYTES = 64 * 1024
"""Reviews up to this size are decided on the event loop (a 200 KiB EP costs ~1 ms; the seed EP
20 µs, less than a thread hand-off); larger ones in the worker thread."""
WORKER_THREADS = 1
"""One large review decided at a time, as on the loop before: a decoded 3 MiB body of small
mappings takes ~40 MiB, and the container's limit is 128 Mi. More threads would not run the
rules faster (one interpreter lock)."""

POLICY_SOURCE: web.AppKey[PolicySource] = web.AppKey("policy_source")
WORKERS: web.AppKey[Executor] = web.AppKey("workers")
CERTIFICATES: web.AppKey[CertificateReloader | None] = web.AppKey("certificates")
METRICS: web.AppKey[WebhookMetrics] = web.AppKey("metrics", WebhookMetrics)


class _Rejected(Exception):
    """A request that is not an AdmissionReview: answered with a metav1.Status, no review."""

    def __init__(self, code: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AdmissionHandler:
    """One admission route: read, parse, decide, answer, count."""

    def __init__(
        self,
        path: str,
        admitter: Admitter,
        policy_source: PolicySource,
        metrics: WebhookMetrics,
        workers: Executor,
    ) -> None:
        self.path = path
        self.admitter = admitter
        self.policy_source = policy_source
        self.metrics = metrics
        self.workers = workers

    async def handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            return await self._handle(request, started)
        except Exception as exc:  # a bug here must still not become a 500 with a traceback
            log.error(
                "failed to process an admission request",
                extra={"fields": {"route": self.path, "error": type(exc).__name__}},
            )
            message = f"the webhook could not process the request ({type(exc).__name__})"
            return self._reject(HTTPStatus.BAD_REQUEST, message, started)

    async def _handle(self, request: web.Request, started: float) -> web.Response:
        try:
            body = await _read_body(request)
        except _Rejected as exc:
            return self._reject(exc.code, exc.message, started)
        if len(body) <= INLINE_BODY_BYTES:
            return self._process(body, started)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.workers, self._process_large, body, started)

    def _process_large(self, raw: bytes, started: float) -> web.Response:
        with collector_paused():
            return self._process(raw, started)

    def _process(self, raw: bytes, started: float) -> web.Response:
        try:
            body = _decode(raw)
        except _Rejected as exc:
            return self._reject(exc.code, exc.message, started)
        try:
            review = parse_admission_review(body)
        except ReviewError as exc:
            if exc.uid is None:
                message = f"not an AdmissionReview: {exc}"
                return self._reject(HTTPStatus.BAD_REQUEST, message, started)
            answer = verdict.bad_request(f"malformed AdmissionReview: {exc}")
            return self._answer(exc.uid, UNKNOWN_OPERATION, answer, started, None)
        answer = self._decide(review)
        return self._answer(review.uid, review.operation.value, answer, started, review)

    def _decide(self, review: AdmissionRequest) -> Verdict:
        try:
            wrong = self.admitter.wrong_target(review)
            if wrong is not None:
                return wrong
            return self.admitter.admit(review, self.policy_source.policy)
        except Exception as exc:
            log.error(
                "admission failed unexpectedly; denying",
                extra={
                    "fields": {
                        "route": self.path,
                        "uid": review.uid,
                        "error": type(exc).__name__,
                    }
                },
            )
            return verdict.internal_error(
                f"the webhook failed to process this request ({type(exc).__name__}); see its log"
            )

    def _answer(
        self,
        uid: str,
        operation: str,
        answer: Verdict,
        started: float,
        review: AdmissionRequest | None,
    ) -> web.Response:
        body = responses.admission_review(uid, answer)
        outcome = "error" if answer.code == HTTPStatus.INTERNAL_SERVER_ERROR else answer.outcome
        self.metrics.observe(
            self.path, operation, outcome, time.perf_counter() - started, answer.denied_rules
        )
        if not answer.allowed:
            log.info("denied", extra={"fields": self._log_fields(uid, operation, answer, review)})
        elif log.isEnabledFor(logging.DEBUG):
            log.debug(outcome, extra={"fields": self._log_fields(uid, operation, answer, review)})
        return web.Response(body=body, content_type=JSON)

    def _log_fields(
        self, uid: str, operation: str, answer: Verdict, review: AdmissionRequest | None
    ) -> dict[str, object]:
        fields: dict[str, object] = {"route": self.path, "uid": uid, "operation": operation}
        if review is not None:
            fields.update(
                kind=review.kind.kind,
                name=review.name,
                subResource=review.sub_resource,
                dryRun=review.dry_run,
            )
        if not answer.allowed:
            fields.update(code=answer.code, rules=list(answer.denied_rules), reason=answer.message)
        return fields

    def _reject(self, code: HTTPStatus, message: str, started: float) -> web.Response:
        self.metrics.observe(self.path, UNKNOWN_OPERATION, "invalid", time.perf_counter() - started)
        log.warning(
            "rejected a request that is not an AdmissionReview",
            extra={"fields": {"route": self.path, "code": int(code), "reason": message}},
        )
        return web.Response(
            status=code, body=responses.error_status(code, message), content_type=JSON
        )


async def _read_body(request: web.Request) -> bytes:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _Rejected(
            HTTPStatus.BAD_REQUEST,
            f"the body is larger than {routes.MAX_BODY_BYTES} bytes",
        ) from None
    if not body:
        raise _Rejected(HTTPStatus.BAD_REQUEST, "the body is empty; expected an AdmissionReview")
    return body


def _decode(body: bytes) -> object:
    try:
        return json_codec.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _Rejected(
            HTTPStatus.BAD_REQUEST, f"the body is not JSON ({type(exc).__name__})"
        ) from None


async def serve_healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def not_ready(app: web.Application) -> list[str]:
    """Why the webhook is not ready (empty: ready); /readyz and the ready gauge."""
    missing = []
    certificates = app[CERTIFICATES]
    if certificates is not None and not certificates.ready:
        missing.append("no serving certificate loaded")
    if not app[POLICY_SOURCE].synced:
        missing.append("policy not read yet")
    return missing


async def serve_readyz(request: web.Request) -> web.Response:
    missing = not_ready(request.app)
    if missing:
        return web.Response(status=HTTPStatus.SERVICE_UNAVAILABLE, text="; ".join(missing))
    return web.Response(text="ok")


async def serve_metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[METRICS].render(),
        headers={"Content-Type": METRICS_CONTENT_TYPE},
    )


def create_app(
    policy_source: PolicySource,
    *,
    namespace: str = DEFAULT_SYSTEM_NAMESPACE,
    certificates: CertificateReloader | None = None,
    metrics_registry: WebhookMetrics | None = None,
    certificate_check_seconds: float = CERTIFICATE_CHECK_SECONDS,
    max_requests_in_flight: int = DEFAULT_MAX_REQUESTS_IN_FLIGHT,
    served_kinds: ServedKinds | None = None,
) -> web.Application:
    """The webhook application. The policy source is started and stopped with the app; the
    certificates (when given) are checked for changes every `certificate_check_seconds`.
    `namespace` is where Tronador runs: the TronadorConfig singleton's namespace.
    `served_kinds` (discovery, when the webhook watches a cluster) lets TronadorConfig
    admissions warn about `secrets` items of kinds the cluster does not serve."""
    metrics = metrics_registry or WebhookMetrics()
    app = web.Application(
        client_max_size=routes.MAX_BODY_BYTES,
        middlewares=[in_flight_bound(max_requests_in_flight, on_shed=metrics.requests_shed.inc)],
    )
    app[POLICY_SOURCE] = policy_source
    app[CERTIFICATES] = certificates
    app[METRICS] = metrics
    app[METRICS].read_policy_sync_from(lambda: policy_source.last_sync)
    app[METRICS].read_readiness_from(lambda: not not_ready(app))
    app[WORKERS] = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="admission")
    app.on_cleanup.append(_stop_workers)
    for path, admitter in admitters(namespace, served_kinds).items():
        handler = AdmissionHandler(path, admitter, policy_source, app[METRICS], app[WORKERS])
        app.router.add_post(path, handler.handle)
    app.router.add_get(routes.HEALTHZ, serve_healthz)
    app.router.add_get(routes.READYZ, serve_readyz)
    app.router.add_get(routes.METRICS, serve_metrics)
    app.cleanup_ctx.append(_run_policy_source)
    if certificates is not None:
        app.cleanup_ctx.append(_reload_certificates(certificates, certificate_check_seconds))
    return app


async def _stop_workers(app: web.Application) -> None:
    app[WORKERS].shutdown(wait=True)


async def _run_policy_source(app: web.Application) -> AsyncIterator[None]:
    source = app[POLICY_SOURCE]
    await asyncio.to_thread(source.start)
    yield
    await asyncio.to_thread(source.stop)


def _reload_certificates(
    certificates: CertificateReloader, interval: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    def reload(metrics: WebhookMetrics) -> None:
        result = certificates.reload_if_changed()
        if result is not ReloadResult.UNCHANGED:
            metrics.certificate_reloads.labels(result.value).inc()
        current = certificates.current
        if current is not None:
            metrics.certificate_expiry.set(current.not_after.timestamp())
            ca_not_after = current.ca_not_after
            metrics.ca_expiry.set(ca_not_after.timestamp() if ca_not_after is not None else 0)

    async def keep_reloading(app: web.Application) -> None:
        while True:
            await asyncio.sleep(interval)
            reload(app[METRICS])

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        reload(app[METRICS])
        task = asyncio.create_task(keep_reloading(app), name="certificate-reload")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return lifecycle


async def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext,
    limits: ServingLimits | None = None,
    shutdown_timeout: float = 10.0,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting, let in-flight requests finish (up to
    `shutdown_timeout` seconds) and return. Logs the bound address (`port` may be 0)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    limits = limits or ServingLimits()
    metrics = app[METRICS]
    metrics.connection_limit.set(limits.max_connections)
    try:
        site = GuardedTLSSite(
            runner,
            host,
            port,
            ssl_context=ssl_context,
            limits=limits,
            on_connection_closed=ReleaseAfterBurst(),
            count=metrics.connections,
        )
        await site.start()
        freeze_startup_objects()
        bound = runner.addresses[0]
        log.info("listening", extra={"fields": {"address": bound[0], "port": bound[1]}})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down: finishing in-flight requests")
    finally:
        await runner.cleanup()
