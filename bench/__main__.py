"""`python -m bench webhook|controller|slowloris|publish [--smoke]`: run a benchmark, print its
tables, write JSON."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from bench import report

OUT = Path(__file__).resolve().parent / "out"


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


def _names(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.split(",") if x)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT, help="directory for JSON and Markdown")
    sub = parser.add_subparsers(dest="benchmark", required=True)

    web = sub.add_parser("webhook", help="limit vs kopf vs ours under wrk, plus in-process cost")
    web.add_argument("--smoke", action="store_true", help="a seconds-long run")
    web.add_argument("--concurrency", type=_ints, help="e.g. 1,8,32,128")
    web.add_argument("--duration", type=float, help="seconds per closed-loop run (default 5)")
    web.add_argument("--rate", type=float, help="fixed-rate run, requests/s (default 200)")
    web.add_argument("--rate-duration", type=float, help="seconds of the fixed-rate run")
    web.add_argument("--servers", type=_names, help="subset of limit,kopf,ours")
    web.add_argument("--cases", type=_names, help="subset of mutate/seed,validate/seed,...")
    web.add_argument("--repeat", type=int, help="rounds of closed-loop runs (median shown)")
    web.add_argument("--generator", choices=("auto", "wrk", "python"))
    web.add_argument("--no-pin", action="store_true", help="do not pin with taskset")

    ctl = sub.add_parser("controller", help="N EPs to deployed against the emulated API server")
    ctl.add_argument("--smoke", action="store_true", help="a seconds-long run")
    ctl.add_argument("--sizes", type=_ints, help="numbers of EPs, e.g. 10,100,500,1000")
    ctl.add_argument("--idle", type=float, help="seconds of idle resync to watch")
    ctl.add_argument("--resync", type=float, help="the controller's resync period, seconds")
    ctl.add_argument("--workers", type=int, help="the controller's workers (default 4)")
    ctl.add_argument("--flavour", choices=("flux-v2", "legacy"), help="HelmRelease kind")

    slow = sub.add_parser("slowloris", help="slow TLS clients vs the webhook: closed? memory?")
    slow.add_argument("--smoke", action="store_true", help="a seconds-long run")
    slow.add_argument("--connections", type=int, help="slow connections (default 2000)")
    slow.add_argument("--header-interval", type=float, help="seconds between headers (1)")
    slow.add_argument("--hold", type=float, help="seconds a slow client waits to be closed (20)")
    slow.add_argument(
        "--phases", type=_names, help="subset of per_connection,per_connection_body,defaults"
    )
    slow.add_argument("--sustain", type=float, help="seconds the defaults phase goes on (20)")
    slow.add_argument(
        "--server-arg",
        action="append",
        dest="server_args",
        help="extra `tronador webhook` flag for the defaults phase (repeat)",
    )

    pub = sub.add_parser("publish", help="N concurrent `tronador publish` into one git repo")
    pub.add_argument("--smoke", action="store_true", help="3 publishers, one round")
    pub.add_argument("--publishers", type=int, help="concurrent publishers (default 10)")
    pub.add_argument("--rounds", type=int, help="rounds (default 3)")

    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the servers and the controller process are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.benchmark == "webhook":
        return _webhook(args)
    if args.benchmark == "slowloris":
        return _slowloris(args)
    if args.benchmark == "publish":
        return _publish(args)
    return _controller(args)


def _webhook(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from bench import webhook

    settings = webhook.SMOKE if args.smoke else webhook.Settings()
    overrides = {
        "concurrency": args.concurrency,
        "duration": args.duration,
        "rate": args.rate,
        "rate_duration": args.rate_duration,
        "servers": args.servers,
        "cases": args.cases,
        "generator": args.generator,
        "repeat": args.repeat,
    }
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    if args.no_pin:
        settings = replace(settings, pin=False)
    result = webhook.run(settings)
    name = "webhook-smoke" if args.smoke else "webhook"
    report.write_json(args.out / f"{name}.json", result)
    tables = report.webhook_tables(result)
    (args.out / f"{name}.md").write_text(tables, encoding="utf-8")
    print(tables)
    failed = [n for n, s in result["servers"].items() if "failed" in s]
    return 1 if failed else 0


def _controller(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from bench import controller

    settings = controller.SMOKE if args.smoke else controller.Settings()
    overrides = {
        "sizes": args.sizes,
        "idle": args.idle,
        "resync": args.resync,
        "workers": args.workers,
        "flavour": args.flavour,
    }
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    result = controller.run(settings)
    name = "controller-smoke" if args.smoke else "controller"
    report.write_json(args.out / f"{name}.json", result)
    tables = controller.tables(result)
    (args.out / f"{name}.md").write_text(tables, encoding="utf-8")
    print(tables)
    return 0 if result.get("ok", True) else 1


def _slowloris(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from bench import slowloris

    settings = slowloris.SMOKE if args.smoke else slowloris.Settings()
    overrides = {
        "connections": args.connections,
        "header_interval": args.header_interval,
        "hold": args.hold,
        "phases": args.phases,
        "sustain": args.sustain,
        "server_args": tuple(args.server_args) if args.server_args else None,
    }
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    args.out.mkdir(parents=True, exist_ok=True)
    result = slowloris.run(settings, logs=args.out)
    name = "slowloris-smoke" if args.smoke else "slowloris"
    report.write_json(args.out / f"{name}.json", result)
    table = slowloris.table(result)
    (args.out / f"{name}.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from bench import publish

    settings = publish.SMOKE if args.smoke else publish.Settings()
    overrides = {"publishers": args.publishers, "rounds": args.rounds}
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    result = publish.run(settings)
    name = "publish-smoke" if args.smoke else "publish"
    report.write_json(args.out / f"{name}.json", result)
    tables = publish.tables(result)
    (args.out / f"{name}.md").write_text(tables, encoding="utf-8")
    print(tables)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
