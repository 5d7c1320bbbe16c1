"""The limit: a minimal aiohttp TLS server that parses the AdmissionReview and answers `allowed`.

It does what any admission server must do and nothing else (read the body, json.loads it, take
the uid, json.dumps an answer), so its throughput is the best this stack can do on this machine.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bench.servers.common import MAX_BODY_BYTES, arguments, serve_app


async def review(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    answer = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": body["request"]["uid"], "allowed": True},
    }
    return web.Response(
        body=json.dumps(answer, separators=(",", ":")).encode(), content_type="application/json"
    )


def main() -> None:
    args = arguments(__doc__ or "")
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/{path:.*}", review)
    asyncio.run(serve_app(app, args))


if __name__ == "__main__":
    main()
