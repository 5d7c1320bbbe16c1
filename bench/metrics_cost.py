"""What the Prometheus metrics cost: one admission's counting (on every request's path), and one
scrape of /metrics (render time and size) for the webhook and for a controller with N EPs.

    python -m bench.metrics_cost [--budget SECONDS] [--eps 100,1000,5000]

Prints a Markdown table; asserts nothing (figures go to bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from typing import Any

from bench.timing import batch_samples_us
from controller.metrics import ControllerMetrics
from webhook import routes
from webhook.metrics import WebhookMetrics

ROUTES = (
    routes.MUTATE_ENVIRONMENT_PROVISIONERS,
    routes.VALIDATE_ENVIRONMENT_PROVISIONERS,
    routes.VALIDATE_TRONADOR_CONFIGS,
)


def per_call_us(fn: Callable[[], Any], budget_s: float, repeats: int = 5) -> float:
    """Median of `repeats` timed batches sized to fill `budget_s` in total, in microseconds."""
    samples, _ = batch_samples_us(fn, budget_s, repeats)
    return statistics.median(samples)


def _busy_webhook() -> WebhookMetrics:
    metrics = WebhookMetrics()
    for route in ROUTES:
        for operation in ("CREATE", "UPDATE", "DELETE"):
            for verdict in ("allowed", "patched", "denied"):
                metrics.observe(route, operation, verdict, 0.002, ("tenant-allowed",))
    return metrics


def _eps(count: int) -> list[dict[str, Any]]:
    phases = ("Waiting For Next Reconciliation Loop", "Creating Helm Release", "Invalid Spec")
    return [
        {
            "metadata": {"name": f"pr-{n}"},
            "status": {
                "currentPhase": phases[n % len(phases)],
                "conditions": [{"type": "Ready", "status": "True" if n % 3 == 0 else "False"}],
            },
        }
        for n in range(count)
    ]


def rows(budget: float, sizes: tuple[int, ...]) -> list[tuple[str, str, str]]:
    webhook = _busy_webhook()
    route = routes.VALIDATE_ENVIRONMENT_PROVISIONERS

    def allowed() -> None:
        webhook.observe(route, "CREATE", "allowed", 0.001)

    def denied() -> None:
        webhook.observe(route, "CREATE", "denied", 0.001, ("tenant-allowed", "image-allowed"))

    out = [
        ("webhook: count one admission (allowed)", f"{per_call_us(allowed, budget):.2f}", ""),
        ("webhook: count one denial (2 rules)", f"{per_call_us(denied, budget):.2f}", ""),
        (
            "webhook: render /metrics",
            f"{per_call_us(webhook.render, budget):.0f}",
            f"{len(webhook.render())}",
        ),
    ]
    for size in sizes:
        controller = ControllerMetrics()
        eps = _eps(size)

        def scrape(c: ControllerMetrics = controller, e: list[dict[str, Any]] = eps) -> str:
            return c.render(queue_depth=0, environments=e, leader=True)

        out.append(
            (f"controller: render /metrics, {size} EPs", f"{per_call_us(scrape, budget):.0f}",
             f"{len(scrape())}")
        )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_cost", description=__doc__)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per figure")
    parser.add_argument("--eps", default="100,1000,5000", help="controller cache sizes")
    args = parser.parse_args(argv)
    sizes = tuple(int(x) for x in args.eps.split(",") if x)
    print("| what | µs per call (median) | bytes |")
    print("| --- | ---: | ---: |")
    for what, micros, size in rows(args.budget, sizes):
        print(f"| {what} | {micros} | {size} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
