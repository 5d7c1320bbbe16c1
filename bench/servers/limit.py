"""The limit: a minimal aiohttp TLS server that parses the AdmissionReview and answers `allowed`.

It does what any admission server must do and nothing else (read the body, decode it, take
the uid, encode an answer), so its throughput is the best this stack can do on this machine.
`--json orjson` (the default) decodes and encodes with orjson, as the webhook does
(`webhook/json_codec.py`); `--json stdlib` with `json`, as the webhook did before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from bench.servers.common import MAX_BODY_BYTES, arguments, serve_app

Handler = Callable[[web.Request], Any]


def reviewer(loads: Callable[[bytes], Any], dumps: Callable[[Any], bytes]) -> Handler:
    async def review(request: web.Request) -> web.Response:
        body = loads(await request.read())
        answer = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": body["request"]["uid"], "allowed": True},
        }
        return web.Response(body=dumps(answer), content_type="application/json")

    return review


CODECS: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes]]] = {
    "orjson": (orjson.loads, orjson.dumps),
    "stdlib": (json.loads, lambda answer: json.dumps(answer, separators=(",", ":")).encode()),
}


def _with_codec(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", choices=sorted(CODECS), default="orjson")


def main() -> None:
    args = arguments(__doc__ or "", _with_codec)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/{path:.*}", reviewer(*CODECS[args.json]))
    asyncio.run(serve_app(app, args))


if __name__ == "__main__":
    main()
