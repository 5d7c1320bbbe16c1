"""Server-side cost of one review in-process, in microseconds, without the network.

`rules`: the pure mutate / validate rules alone on the decoded object. `handler`: what our server
does per request around them (decoding the AdmissionReview with the webhook's JSON codec,
parsing it into the typed request, the route's admitter, encoding the answer), when `webhook/`
is importable. `json_loads` / `orjson_loads`: decoding the body alone, with each library.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

import orjson

from bench.payloads import Case, cases, is_environment, mutate_patch, policy
from bench.timing import batch_samples_us
from tronador.api import Policy
from tronador.rules.validate import validate_environment, validate_environment_provisioner


def _per_call_us(fn: Callable[[], Any], budget_s: float, repeats: int = 5) -> dict[str, float]:
    """Median and best of `repeats` timed batches sized to fill `budget_s` in total, in this
    process's CPU time (other jobs on a shared machine inflate it less than wall time)."""
    samples, number = batch_samples_us(fn, budget_s, repeats)
    return {
        "median_us": round(statistics.median(samples), 2),
        "best_us": round(min(samples), 2),
        "calls": number * repeats,
    }


def _rule(case: Case, pol: Policy) -> Callable[[], Any]:
    if case.path.startswith("/mutate"):
        return lambda: mutate_patch(case.obj, pol)
    validate = (
        validate_environment if is_environment(case.obj) else validate_environment_provisioner
    )
    return lambda: validate(case.obj, pol, None)


def handler_for(case: Case, pol: Policy) -> Callable[[], Any]:
    """The server's per-request work for `case`, without aiohttp."""
    handler = _handler(case, pol)
    if handler is None:
        raise RuntimeError("webhook/ is not importable")
    return handler


def _handler(case: Case, pol: Policy) -> Callable[[], Any] | None:
    try:
        from webhook import json_codec
        from webhook.admitters import admitters
        from webhook.responses import admission_review
        from webhook.review import parse_admission_review
    except ImportError:
        return None
    admitter = admitters("tronador-system")[case.path]

    def handle() -> bytes:
        request = parse_admission_review(json_codec.loads(case.body))
        verdict = admitter.wrong_target(request) or admitter.admit(request, pol)
        return admission_review(request.uid, verdict)

    return handle


def measure(budget_s: float = 1.0) -> dict[str, dict[str, Any]]:
    """{"mutate/seed": {"rules": {...}, "handler": {...}, "body_bytes": n}, ...}"""
    pol = policy()
    out: dict[str, dict[str, Any]] = {}
    for case in cases(pol):
        entry: dict[str, Any] = {"body_bytes": len(case.body)}
        entry["rules"] = _per_call_us(_rule(case, pol), budget_s)
        handler = _handler(case, pol)
        if handler is not None:
            entry["handler"] = _per_call_us(handler, budget_s)
        entry["json_loads"] = _per_call_us(lambda c=case: json.loads(c.body), budget_s / 2)
        entry["orjson_loads"] = _per_call_us(lambda c=case: orjson.loads(c.body), budget_s / 2)
        out[case.name] = entry
    return out
