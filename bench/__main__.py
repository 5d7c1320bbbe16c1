"""`python -m bench webhook|controller|slowloris|flood|publish [--smoke]` (run a benchmark, print
its tables, write JSON) and `python -m bench profile` (where one review's CPU goes, per case)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

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

    flood = sub.add_parser("flood", help="adversarial reviews vs the webhook: probes answered?")
    flood.add_argument("--smoke", action="store_true", help="a seconds-long run")
    flood.add_argument("--clients", type=int, help="concurrent attacking connections (8)")
    flood.add_argument("--duration", type=float, help="seconds of flood (20)")

    pub = sub.add_parser("publish", help="N concurrent `tronador publish` into one git repo")
    pub.add_argument("--smoke", action="store_true", help="3 publishers, one round")
    pub.add_argument("--publishers", type=int, help="concurrent publishers (default 10)")
    pub.add_argument("--rounds", type=int, help="rounds (default 3)")

    sub.add_parser("profile", help="cProfile of one review per case, in process", add_help=False)

    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["profile"]:
        from bench import profile

        return profile.main(argv[1:])
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the servers and the controller process are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.benchmark == "webhook":
        return _webhook(args)
    if args.benchmark == "slowloris":
        return _slowloris(args)
    if args.benchmark == "publish":
        return _publish(args)
    if args.benchmark == "flood":
        return _flood(args)
    return _controller(args)


def _settings(module: ModuleType, args: argparse.Namespace, overrides: dict[str, Any]) -> Any:
    """The benchmark's SMOKE or default Settings, with the flags that were given."""
    settings = module.SMOKE if args.smoke else module.Settings()
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def _write(
    args: argparse.Namespace,
    name: str,
    result: dict[str, Any],
    render: Callable[[dict[str, Any]], str],
) -> None:
    """`<name>[-smoke].json` and, rendered as tables, `.md` in `--out` and on stdout."""
    stem = f"{name}-smoke" if args.smoke else name
    report.write_json(args.out / f"{stem}.json", result)
    tables = render(result)
    (args.out / f"{stem}.md").write_text(tables, encoding="utf-8")
    print(tables)


def _webhook(args: argparse.Namespace) -> int:
    from bench import webhook

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
    settings = _settings(webhook, args, overrides)
    if args.no_pin:
        settings = replace(settings, pin=False)
    result = webhook.run(settings)
    _write(args, "webhook", result, report.webhook_tables)
    failed = [n for n, s in result["servers"].items() if "failed" in s]
    return 1 if failed else 0


def _controller(args: argparse.Namespace) -> int:
    from bench import controller

    overrides = {
        "sizes": args.sizes,
        "idle": args.idle,
        "resync": args.resync,
        "workers": args.workers,
        "flavour": args.flavour,
    }
    result = controller.run(_settings(controller, args, overrides))
    _write(args, "controller", result, controller.tables)
    return 0 if result.get("ok", True) else 1


def _slowloris(args: argparse.Namespace) -> int:
    from bench import slowloris

    overrides = {
        "connections": args.connections,
        "header_interval": args.header_interval,
        "hold": args.hold,
        "phases": args.phases,
        "sustain": args.sustain,
        "server_args": tuple(args.server_args) if args.server_args else None,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    result = slowloris.run(_settings(slowloris, args, overrides), logs=args.out)
    _write(args, "slowloris", result, slowloris.table)
    return 0


def _flood(args: argparse.Namespace) -> int:
    from bench import flood

    overrides = {"clients": args.clients, "duration": args.duration}
    args.out.mkdir(parents=True, exist_ok=True)
    result = flood.run(_settings(flood, args, overrides), logs=args.out)
    _write(args, "flood", result, flood.tables)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from bench import publish

    overrides = {"publishers": args.publishers, "rounds": args.rounds}
    result = publish.run(_settings(publish, args, overrides))
    _write(args, "publish", result, publish.tables)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
