"""The controller benchmark: N EPs to `deployed` against the emulated Kubernetes API server.

For each N (a fresh emulator and a fresh controller each time):
- create: N EPs appear at once (seeded into the emulator's store as ArgoCD's create would leave
  them: through our mutating webhook's rules);
  a Flux stand-in marks each HelmRelease deployed as soon as it sees a generation it has not
  observed; timed until every EP shows `applicationStatus: deployed` for its generation;
- update: every EP's image tag changes (a merge patch: generation 2), timed the same way;
- idle: nothing changes for a few resync periods: writes must be 0, reads are counted.

Every API call the controller makes is in the emulator's request log (the EPs, the TronadorConfig
and Flux's status writes go straight to its store, so the log holds only the controller's calls).
The controller runs in its own process (its RSS and CPU are its own, and it does not share a
GIL with the emulator), pinned to CPU 0; the emulator runs in this process, pinned to CPU 1.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import yaml

from bench import machine, report
from bench.payloads import CONFIG_FILE, seed_ep
from tests.apiserver import EmulatedAPIServer
from tests.apiserver.store import DEFAULT_NAMESPACES, WatchEvent
from tronador.api import Policy, TronadorConfig
from tronador.api.constants import API_VERSION, DEFAULT_SYSTEM_NAMESPACE, EP_PLURAL
from tronador.rules.review import review_environment_provisioner

CONTROLLER_CPU = 0
EMULATOR_CPU = 1
HR_V2 = "helm.toolkit.fluxcd.io/v2"
HR_LEGACY = "helm.fluxcd.io/v1"
GIT_REPOSITORY = "source.toolkit.fluxcd.io/v1"


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...] = (10, 100, 500, 1000)
    idle: float = 12.0
    """Seconds of the idle phase; it spans a few resync periods."""
    resync: float = 5.0
    """The controller's resync period during the benchmark (10 min by default in production)."""
    workers: int = 4
    flavour: str = "flux-v2"
    phase_timeout: float = 900.0
    settle: float = 1.0
    """A phase ends once the controller made no request for this long."""
    probe_requests: int = 4000
    event_window: int = 200_000
    pin: bool = True


SMOKE = Settings(sizes=(3, 12), idle=2.5, resync=1.0, phase_timeout=120.0, probe_requests=200)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def flux_v2_status(obj: dict[str, Any]) -> dict[str, Any]:
    """What helm-controller writes after a successful install or upgrade."""
    meta = obj["metadata"]
    generation = meta.get("generation", 1)
    chart = (((obj.get("spec") or {}).get("chart") or {}).get("spec") or {}).get("chart", "chart")
    release = f"{meta['namespace']}/{obj['spec'].get('releaseName') or meta['name']}"
    message = f"Helm install succeeded for release {release}.v{generation} with chart {chart}@0.1.0"
    now = _now()
    condition = {"status": "True", "reason": "InstallSucceeded", "message": message,
                 "lastTransitionTime": now, "observedGeneration": generation}  # fmt: skip
    return {
        "observedGeneration": generation,
        "lastAttemptedGeneration": generation,
        "lastAttemptedRevision": "0.1.0",
        "conditions": [{"type": "Ready", **condition}, {"type": "Released", **condition}],
        "history": [{
            "name": obj["spec"].get("releaseName") or meta["name"], "namespace": meta["namespace"],
            "chartName": chart, "chartVersion": "0.1.0", "appVersion": "1.0.0",
            "version": generation, "status": "deployed", "digest": "sha256:" + "0" * 64,
            "firstDeployed": now, "lastDeployed": now,
        }],
    }  # fmt: skip


def flux_legacy_status(obj: dict[str, Any]) -> dict[str, Any]:
    """What the Flux v1 Helm Operator writes (as the workflow guide's HelmRelease shows)."""
    meta = obj["metadata"]
    name = obj["spec"].get("releaseName") or meta["name"]
    where = f"Helm release '{name}' in '{meta['namespace']}'."
    now = _now()
    return {
        "observedGeneration": meta.get("generation", 1),
        "phase": "Succeeded",
        "releaseName": name,
        "releaseStatus": "deployed",
        "conditions": [
            {"type": "Deployed", "status": "True", "reason": "Deployed",
             "message": f"Installation or upgrade succeeded for {where}",
             "lastTransitionTime": now, "lastUpdateTime": now},
            {"type": "Released", "status": "True", "reason": "Succeeded",
             "message": f"Release was successful for {where}",
             "lastTransitionTime": now, "lastUpdateTime": now},
        ],
    }  # fmt: skip


class Flux(threading.Thread):
    """Plays helm-controller and source-controller: a HelmRelease whose generation has not been
    observed gets a successful status; a GitRepository gets Ready. In its own thread, like a
    separate controller, through the emulator's direct methods (not in the request log)."""

    def __init__(self, server: EmulatedAPIServer, flavour: str) -> None:
        super().__init__(name="flux", daemon=True)
        self.server = server
        self.hr_api = HR_LEGACY if flavour == "legacy" else HR_V2
        self.status = flux_legacy_status if flavour == "legacy" else flux_v2_status
        self.todo: queue.Queue[tuple[str, str, str] | None] = queue.Queue()
        self.writes = 0

    def listener(self, event: WatchEvent) -> None:
        if event.type == "DELETED":
            return
        resource, obj = event.resource, event.object
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        if resource.plural == "helmreleases" and resource.api_version == self.hr_api:
            if status.get("observedGeneration") != meta.get("generation"):
                self.todo.put((self.hr_api, meta["namespace"], meta["name"]))
        elif (
            resource.plural == "gitrepositories"
            and resource.api_version == GIT_REPOSITORY
            and not status
        ):
            self.todo.put((GIT_REPOSITORY, meta["namespace"], meta["name"]))

    def run(self) -> None:
        while (item := self.todo.get()) is not None:
            api_version, namespace, name = item
            plural = "gitrepositories" if api_version == GIT_REPOSITORY else "helmreleases"
            obj = self.server.get(api_version, plural, name, namespace)
            if obj is None:
                continue
            if plural == "gitrepositories":
                status = {"conditions": [{"type": "Ready", "status": "True",
                          "reason": "Succeeded", "message": "stored artifact",
                          "lastTransitionTime": _now()}]}  # fmt: skip
            elif (obj.get("status") or {}).get("observedGeneration") == obj["metadata"].get(
                "generation"
            ):
                continue
            else:
                status = self.status(obj)
            with contextlib.suppress(Exception):
                self.server.set_status(api_version, plural, name, namespace, status)
                self.writes += 1

    def stop(self) -> None:
        self.todo.put(None)
        self.join(5)


@dataclass
class Tracker:
    """When each EP first shows `deployed` for the generation a phase waits for."""

    wanted: dict[str, int] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    done: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    all_done: threading.Event = field(default_factory=threading.Event)

    def expect(self, names: list[str], generation: int) -> None:
        with self.lock:
            self.wanted = dict.fromkeys(names, generation)
            self.done = {}
            self.all_done.clear()

    def listener(self, event: WatchEvent) -> None:
        if event.resource.plural != EP_PLURAL or event.type == "DELETED":
            return
        obj = event.object
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        with self.lock:
            wanted = self.wanted.get(name)
            if wanted is None or name in self.done:
                return
            if (
                status.get("applicationStatus") == "deployed"
                and (status.get("observedGeneration") or 0) >= wanted
            ):
                self.done[name] = time.perf_counter()
                if len(self.done) == len(self.wanted):
                    self.all_done.set()


class Child:
    """The controller process: one JSON line per command."""

    def __init__(self, argv: list[str], log: IO[bytes]) -> None:
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
        )
        self.first = self._line(120)

    def _line(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not result or not result[0]:
            raise RuntimeError(
                f"the controller process did not answer (exit {self.process.poll()})"
            )
        return json.loads(result[0])  # type: ignore[no-any-return]

    def ask(self, command: str, timeout: float = 60) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._line(timeout)

    def close(self) -> dict[str, Any] | None:
        try:
            return self.ask("stop", timeout=30)
        except (RuntimeError, OSError, ValueError):
            return None
        finally:
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _pinning(settings: Settings) -> bool:
    return settings.pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def _emulator_thread_cpu() -> float:
    """CPU seconds of the emulator's serving thread (it runs its own event loop)."""
    for thread in threading.enumerate():
        if thread.name == "emulated-apiserver" and thread.native_id is not None:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _settle(server: EmulatedAPIServer, quiet: float, limit: float) -> None:
    """Wait until the controller made no request for `quiet` seconds (at most `limit`)."""
    deadline = time.monotonic() + limit
    count, since = len(server.requests), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = len(server.requests)
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def _calls(requests: list[Any], n: int) -> dict[str, Any]:
    by_verb = Counter(r.verb for r in requests)
    by_kind = Counter(
        f"{r.verb} {r.plural or '-'}{'/' + r.subresource if r.subresource else ''}"
        for r in requests
    )
    return {
        "total": len(requests),
        "writes": sum(1 for r in requests if r.is_write),
        "per_ep": round(len(requests) / n, 2),
        "per_ep_by_verb": {k: round(v / n, 2) for k, v in sorted(by_verb.items())},
        "by_verb_resource": dict(sorted(by_kind.items())),
        "errors": sum(1 for r in requests if r.status >= 400),
    }


def _ep(index: int, base: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """EP number `index` as the API server stores it: through our mutating webhook's rules
    (labels, defaults, the cleanup finalizer), as every EP that reaches a cluster is."""
    ep = copy.deepcopy(base)
    ep["metadata"] = {"name": f"nordmart-inventory-pr-{index}"}
    review = review_environment_provisioner(ep, policy)
    assert review.findings.allowed, review.findings.message()
    return review.result  # type: ignore[no-any-return]


def _phase(
    name: str, server: EmulatedAPIServer, child: Child, tracker: Tracker, names: list[str],
    generation: int, act: Any, settings: Settings,
) -> dict[str, Any]:  # fmt: skip
    tracker.expect(names, generation)
    first = len(server.requests)
    before = child.ask("stats")
    cpu_emulator = _emulator_thread_cpu()
    start = time.perf_counter()
    act()
    acted = time.perf_counter()
    finished = tracker.all_done.wait(settings.phase_timeout)
    end = time.perf_counter()
    _settle(server, settings.settle, limit=30)
    settled = time.perf_counter()
    after = child.ask("stats")
    emulator_s = _emulator_thread_cpu() - cpu_emulator
    requests = server.requests[first:]
    n = len(names)
    latencies = sorted(t - start for t in tracker.done.values())
    return {
        "phase": name,
        "all_deployed": finished,
        "deployed": len(tracker.done),
        "act_s": round(acted - start, 3),
        "time_to_all_deployed_s": round(end - start, 3) if finished else None,
        "per_ep_deployed_s": {
            "p50": round(latencies[len(latencies) // 2], 3) if latencies else None,
            "p99": round(latencies[int(len(latencies) * 0.99)], 3) if latencies else None,
        },
        "calls": _calls(requests, n),
        "reconciles": after["reconciles"] - before["reconciles"],
        "reconciles_per_ep": round((after["reconciles"] - before["reconciles"]) / n, 2),
        "controller_cpu_s": round(after["cpu_s"] - before["cpu_s"], 2),
        "controller_cpu_ms_per_ep": round((after["cpu_s"] - before["cpu_s"]) * 1000 / n, 2),
        "emulator_cpu_s": round(emulator_s, 2),
        "emulator_busy": round(emulator_s / (settled - start), 2) if settled > start else None,
        "emulator_us_per_request": round(emulator_s * 1e6 / len(requests), 1) if requests else None,
        "wall_s": round(settled - start, 3),
    }


def run_size(n: int, settings: Settings, logs: Path) -> dict[str, Any]:
    namespaces = (*DEFAULT_NAMESPACES, DEFAULT_SYSTEM_NAMESPACE)
    server = EmulatedAPIServer(namespaces=namespaces, event_window=settings.event_window).start()
    flux = Flux(server, settings.flavour)
    tracker = Tracker()
    removers = [
        server.store.add_listener(flux.listener),
        server.store.add_listener(tracker.listener),
    ]
    flux.start()
    config = yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))
    server.seed(config)
    argv = [
        sys.executable, "-m", "bench.controller_child", "--url", server.url,
        "--workers", str(settings.workers), "--resync", str(settings.resync),
        "--flavour", settings.flavour,
    ]  # fmt: skip
    if _pinning(settings):
        argv = ["taskset", "-c", str(CONTROLLER_CPU), *argv]
    log = (logs / f"controller-{n}.log").open("wb")
    child: Child | None = None
    out: dict[str, Any] = {"n": n}
    try:
        started = time.perf_counter()
        child = Child(argv, log)
        _settle(server, 0.5, limit=10)  # the last informers' watches may start just after
        out["startup"] = {
            "seconds": round(time.perf_counter() - started, 3),
            "calls": _calls(list(server.requests), 1),
        }
        base = seed_ep()
        policy = TronadorConfig.model_validate(config).spec.policy
        eps = [_ep(i, base, policy) for i in range(n)]
        names = [ep["metadata"]["name"] for ep in eps]

        def create() -> None:
            for ep in eps:
                server.seed(ep)

        def update() -> None:
            for name in names:
                server.patch(API_VERSION, EP_PLURAL, name, None, {"spec": {"application": {
                    "release": {"values": {"application": {"deployment": {"image": {
                        "tag": "SNAPSHOT-PR-74-0123abcd"}}}}}}}})  # fmt: skip

        out["create"] = _phase("create", server, child, tracker, names, 1, create, settings)
        out["update"] = _phase("update", server, child, tracker, names, 2, update, settings)
        first = len(server.requests)
        before = child.ask("stats")
        time.sleep(settings.idle)
        after = child.ask("stats")
        idle = server.requests[first:]
        out["idle"] = {
            "seconds": settings.idle,
            "resync_period_s": settings.resync,
            "calls": _calls(idle, n),
            "writes": sum(1 for r in idle if r.is_write),
            "reads": sum(1 for r in idle if not r.is_write),
            "reconciles": after["reconciles"] - before["reconciles"],
            "controller_cpu_s": round(after["cpu_s"] - before["cpu_s"], 2),
        }
        out["flux_status_writes"] = flux.writes
        final = child.close()
        child = None
        if final is not None:
            out["controller_memory_kib"] = final["memory_kib"]
            out["controller_threads"] = final["threads"]
    finally:
        if child is not None:
            child.close()
        for remove in removers:
            remove()
        flux.stop()
        server.stop()
        log.close()
    return out


def probe_emulator(settings: Settings, logs: Path) -> dict[str, Any]:
    """The emulator alone: how many requests a second it answers from a client process."""
    server = EmulatedAPIServer().start()
    try:
        argv = [sys.executable, "-m", "bench.controller_child", "--url", server.url,
                "--probe", str(settings.probe_requests)]  # fmt: skip
        if _pinning(settings):
            argv = ["taskset", "-c", str(CONTROLLER_CPU), *argv]
        cpu = _emulator_thread_cpu()
        count = len(server.requests)
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
        if done.returncode != 0:
            return {"failed": done.stderr[-2000:]}
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        served = len(server.requests) - count
        result["emulator_us_per_request"] = round(
            (_emulator_thread_cpu() - cpu) * 1e6 / max(served, 1), 1
        )
        return result
    finally:
        server.stop()


def fit(xs: list[float], ys: list[float]) -> dict[str, float] | None:
    """Least squares y = a + b*x, with R²."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    total = sum((y - my) ** 2 for y in ys)
    residual = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return {"per_ep": b, "fixed": a, "r2": 1 - residual / total if total else 1.0}


def growth(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [s for s in sizes if s.get("create", {}).get("all_deployed")]
    ns = [float(s["n"]) for s in rows]
    metrics = {
        "create_seconds": [s["create"]["time_to_all_deployed_s"] for s in rows],
        "create_calls": [float(s["create"]["calls"]["total"]) for s in rows],
        "update_seconds": [s["update"]["time_to_all_deployed_s"] or 0.0 for s in rows],
        "update_calls": [float(s["update"]["calls"]["total"]) for s in rows],
        "create_controller_cpu_s": [s["create"]["controller_cpu_s"] for s in rows],
        "peak_rss_mib": [s.get("controller_memory_kib", {}).get("VmHWM", 0) / 1024 for s in rows],
    }
    return {name: fit(ns, ys) for name, ys in metrics.items()}


def run(settings: Settings) -> dict[str, Any]:
    logs = Path(__file__).resolve().parent / "out" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    previous = os.sched_getaffinity(0)
    if _pinning(settings):
        os.sched_setaffinity(0, {EMULATOR_CPU})
    try:
        print("emulator probe ...", file=sys.stderr, flush=True)
        probe = probe_emulator(settings, logs)
        sizes = []
        for n in settings.sizes:
            print(f"{n} EPs ...", file=sys.stderr, flush=True)
            sizes.append(run_size(n, settings, logs))
            _progress(sizes[-1])
    finally:
        os.sched_setaffinity(0, previous)
    result = {
        "benchmark": "controller",
        "machine": machine.describe(),
        "settings": {**settings.__dict__, "pinned": _pinning(settings)},
        "emulator_probe": probe,
        "sizes": sizes,
        "growth": growth(sizes),
    }
    result["ok"] = all(
        s.get("create", {}).get("all_deployed") and s.get("update", {}).get("all_deployed")
        for s in sizes
    )
    return result


def _progress(size: dict[str, Any]) -> None:
    for phase in ("create", "update"):
        p = size[phase]
        print(
            f"  {phase}: {p['deployed']}/{size['n']} deployed in {p['time_to_all_deployed_s']} s, "
            f"{p['calls']['per_ep']} calls/EP {p['calls']['per_ep_by_verb']}, "
            f"{p['reconciles_per_ep']} reconciles/EP, emulator busy {p['emulator_busy']}",
            file=sys.stderr,
            flush=True,
        )
    idle = size["idle"]
    print(
        f"  idle {idle['seconds']} s: writes {idle['writes']}, reads {idle['reads']}, "
        f"reconciles {idle['reconciles']}; RSS peak "
        f"{size.get('controller_memory_kib', {}).get('VmHWM', 0) / 1024:.1f} MiB",
        file=sys.stderr,
        flush=True,
    )


def tables(result: dict[str, Any]) -> str:
    parts = ["### Machine", report.machine_lines(result["machine"])]
    s = result["settings"]
    parts.append(
        f"flavour {s['flavour']}, {s['workers']} workers, resync {s['resync']:g} s, "
        f"pinned (controller CPU 0, emulator CPU 1): {s['pinned']}"
    )
    rows = []
    for size in result["sizes"]:
        for phase in ("create", "update"):
            p = size[phase]
            verbs = p["calls"]["per_ep_by_verb"]
            rows.append([
                size["n"], phase, p["time_to_all_deployed_s"], p["per_ep_deployed_s"]["p50"],
                p["per_ep_deployed_s"]["p99"], p["calls"]["per_ep"],
                " ".join(f"{k} {v:g}" for k, v in verbs.items()), p["reconciles_per_ep"],
                p["controller_cpu_ms_per_ep"], p["emulator_busy"], p["calls"]["errors"],
            ])  # fmt: skip
    parts += [
        "### To deployed (create: N new EPs at once; update: every EP's image tag changed)",
        report.table(
            ["N", "phase", "all deployed s", "EP p50 s", "EP p99 s", "calls/EP",
             "calls/EP by verb", "reconciles/EP", "ctl CPU ms/EP", "emulator busy", "4xx/5xx"],
            rows,
        ),
    ]  # fmt: skip
    rows = []
    for size in result["sizes"]:
        idle = size["idle"]
        memory = size.get("controller_memory_kib", {})
        rows.append([
            size["n"], idle["seconds"], idle["resync_period_s"], idle["writes"], idle["reads"],
            idle["reconciles"], idle["controller_cpu_s"],
            report._mib(memory.get("VmRSS")), report._mib(memory.get("VmHWM")),
            size["startup"]["calls"]["total"],
        ])  # fmt: skip
    parts += [
        "### Idle resync, memory, startup",
        report.table(
            ["N", "idle s", "resync s", "writes", "reads", "reconciles", "ctl CPU s",
             "RSS MiB", "peak RSS MiB", "startup calls"],
            rows,
        ),
    ]  # fmt: skip
    rows = []
    for name, f in result["growth"].items():
        if f:
            rows.append([name, f"{f['per_ep']:.4g}", f"{f['fixed']:.4g}", f"{f['r2']:.3f}"])
    parts += [
        "### Growth with N (least squares y = fixed + per_ep * N)",
        report.table(["metric", "per EP", "fixed", "R²"], rows),
    ]
    probe = result["emulator_probe"]
    parts += [
        "### The emulated API server alone (4 client threads in another process)",
        report.table(
            ["GET/s", "status PATCH/s", "emulator CPU µs/request"],
            [[probe.get("get_per_s"), probe.get("status_patch_per_s"),
              probe.get("emulator_us_per_request")]],
        ),
    ]  # fmt: skip
    return "\n\n".join(parts) + "\n"
