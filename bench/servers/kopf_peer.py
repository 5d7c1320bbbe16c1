"""The Python peer: kopf's admission webhook server with handlers that call our pure rules.

kopf has no public "serve webhooks only" mode: `kopf.run()`/`kopf.operator()` start the webhook
server only after the resource observer has scanned a live API server, and they also patch
webhook configurations, watch resources and post events. So this runs the same two pieces
`kopf.operator()` wires together for admission (kopf/_core/reactor/running.py):
`kopf.WebhookServer` (its aiohttp TLS server, one route `/{id}`) serving
`kopf._core.engines.admission.serve_admission_request` (its admission engine: resource
lookup, causes, handler selection by webhook id, handler execution, response building, the
JSON Patch diff), with `Insights.webhook_resources` set to the EP resource instead of being
discovered from a cluster. Everything between the socket and our handler is kopf's own code.

To give kopf its best case: the handlers are `async` (sync ones go through a thread pool),
logging is at WARNING (kopf's `--quiet`: no per-request "Handler succeeded" lines) and k8s event
posting is off.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import kopf
from kopf._cogs.structs import ephemera, references
from kopf._core.engines import admission, indexing
from kopf._core.intents import registries
from kopf._core.reactor import inventory

from bench.payloads import MUTATE_PATH, VALIDATE_PATH, policy
from bench.servers.common import arguments, wait_for_signal
from tronador.api.constants import EP_KIND, EP_PLURAL, GROUP, VERSION
from tronador.rules.findings import Severity
from tronador.rules.mutate import mutate_environment_provisioner
from tronador.rules.validate import validate_environment_provisioner

POLICY = policy()
registry = registries.OperatorRegistry()


def _raw(body: Any) -> dict[str, Any]:
    """The plain dict under kopf's read-only Body view (our rules take plain JSON objects)."""
    return body._src  # type: ignore[no-any-return]


@kopf.on.validate(
    GROUP, VERSION, EP_PLURAL, id=VALIDATE_PATH.lstrip("/"), registry=registry,
    operations=["CREATE", "UPDATE"],
)  # fmt: skip
async def validate(body: Any, old: Any, operation: str, warnings: list[str], **_: Any) -> None:
    previous = _raw(old) if old is not None and operation == "UPDATE" else None
    findings = validate_environment_provisioner(_raw(body), POLICY, previous)
    warnings.extend(findings.warnings)
    if not findings.allowed:
        code = 403 if findings.severity is Severity.POLICY else 400
        raise kopf.AdmissionError(findings.message(), code=code)


def _apply(operations: list[dict[str, Any]], obj: dict[str, Any]) -> None:
    """Our add/replace operations applied in place (kopf diffs the result into its patch)."""
    for op in operations:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node: Any = obj
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(parts[-1])] = op["value"]
        else:
            node[parts[-1]] = op["value"]


@kopf.on.mutate(
    GROUP, VERSION, EP_PLURAL, id=MUTATE_PATH.lstrip("/"), registry=registry,
    operations=["CREATE", "UPDATE"],
)  # fmt: skip
async def mutate(body: Any, patch: kopf.Patch, **_: Any) -> None:
    operations = mutate_environment_provisioner(_raw(body), POLICY)
    if operations:
        patch.fns.append(functools.partial(_apply, operations))


async def serve(host: str, port: int, cert: str, key: str) -> None:
    settings = kopf.OperatorSettings()
    settings.posting.enabled = False
    insights = references.Insights()
    insights.webhook_resources.add(
        references.Resource(
            group=GROUP, version=VERSION, plural=EP_PLURAL, kind=EP_KIND, namespaced=False,
            verbs=frozenset({"create", "update", "patch"}),
        )
    )  # fmt: skip
    insights.ready_resources.set()
    indexers = indexing.OperatorIndexers()
    indexers.ensure(registry._indexing.get_all_handlers())
    webhookfn = functools.partial(
        admission.serve_admission_request,
        settings=settings,
        registry=registry,
        insights=insights,
        memories=inventory.ResourceMemories(),
        memobase=ephemera.AnyMemo(ephemera.Memo()),
        indices=indexers.indices,
    )
    server = kopf.WebhookServer(addr=host, port=port, certfile=cert, pkeyfile=key)
    async with server:
        serving = server(webhookfn)
        await serving.__anext__()  # listening from here on
        try:
            await wait_for_signal()
        finally:
            await serving.aclose()


def main() -> None:
    args = arguments(__doc__ or "")
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.host, args.port, args.cert, args.key))


if __name__ == "__main__":
    main()
