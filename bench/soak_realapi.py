"""Soak against a real control plane: the controller's memory under EP create/update/delete
churn on a real kube-apiserver + etcd (not the emulator). Not a test.

    python -m bench.soak_realapi --minutes 30 --live-eps 20 --rate 2 --out /tmp/soak-realapi.json
    python -m bench.soak_realapi --minutes 2          # a smoke run

What it starts, all on 127.0.0.1 and all stopped on exit (also on Ctrl-C or SIGTERM):

- etcd, kube-apiserver and kube-controller-manager (its namespace controller finalizes the
  namespaces the controller deletes) from `tests.realapi.controlplane.ControlPlane`: the
  binaries are found through $TRONADOR_ENVTEST_BIN (etcd there or on PATH). Our CRDs and the
  vendored Flux CRDs are installed, then the system namespace and the seed TronadorConfig.
- The controller as `python -m tronador controller` in its own process (an admin kubeconfig,
  so RBAC is not what is measured; `--no-leader-elect`; its /metrics on a free port), so the
  RSS sampled is its alone. No webhook runs; nothing runs Flux.

Then this process churns EPs for `--minutes`: `--rate` operations a second keeping about
`--live-eps` EPs (the seed EP under a new name: create, update its image tag, play Flux's part
by writing the HelmRelease's status, delete the oldest), checks that each deleted EP's object
and namespace go away, and every `--interval` samples the controller's VmRSS/VmHWM from /proc,
its /metrics (reconciles, retries, API errors) and the errors and warnings in its log.

The report: controller RSS at the start of the churn, after the warm-up (`--warmup-minutes`,
default 5; half the run when the run is shorter than twice that), at the end and at most, and the
least-squares slope of RSS in MiB/h over the samples after the warm-up (and over the second
half); EPs churned, deletions cleaned up, errors. At the end the live EPs are deleted and their
cleanup awaited (the drain). JSON goes to `--out`, the Markdown table to stdout and next to it
(`.md`), the controller's log and the control plane's log tails to `--logs`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import os
import random
import re
import signal
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from kubernetes.client.rest import ApiException

from bench.controller import fit
from bench.machine import describe, rss_kib
from tests.controller.harness import flux_status
from tests.controller.helpers import seed_config_dict
from tests.realapi.controlplane import (
    ControlPlane,
    _die_with_parent,
    _write_kubeconfig,
    find_binaries,
    free_port,
)
from tests.realapi.kube import CRD_FILES, Obj, Rest, install_crds
from tests.seeds import seed_environment_provisioner
from tronador.api.constants import API_VERSION, DEFAULT_SYSTEM_NAMESPACE, EP_KIND, EP_PLURAL

PREFIX = "soak-"
"""Every EP (and so every namespace) the churn creates is named soak-N."""
HR_API = "helm.toolkit.fluxcd.io/v2"
STUCK_AFTER = 120.0
"""Seconds after its delete by which a deleted EP and its namespace should be gone."""
READY_TIMEOUT = 120.0
DRAIN_TIMEOUT = 240.0
METRICS = re.compile(
    r"^(tronador_controller_(?:reconciles_total|retries_total|api_errors_total)"
    r"|process_resident_memory_bytes)(?:\{([^}]*)\})? (\S+)$"
)


class Interrupted(Exception):
    """SIGTERM arrived (Ctrl-C raises KeyboardInterrupt, handled alike): stop churning, report
    what was measured, stop everything."""


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


# --- the cluster and the controller -----------------------------------------------------------


def prepare(plane: ControlPlane) -> None:
    """The CRDs (ours and Flux's) Established, the system namespace and the seed config."""
    with plane.admin_client() as admin:
        install_crds(admin, CRD_FILES)
        rest = Rest(admin)
        rest.ensure(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": DEFAULT_SYSTEM_NAMESPACE},
            }
        )
        rest.ensure(seed_config_dict())


def start_controller(
    plane: ControlPlane, logs: Path, workers: int, resync: str
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`tronador controller` in its own process as admin; (process, metrics URL, log path)."""
    assert plane.pki is not None
    kubeconfig = _write_kubeconfig(
        logs / "admin.kubeconfig", plane.url, plane.pki.ca, plane.pki.admin
    )
    port = free_port()
    argv = [
        sys.executable, "-m", "tronador", "controller", "--kubeconfig", str(kubeconfig),
        "--namespace", DEFAULT_SYSTEM_NAMESPACE, "--no-leader-elect",
        "--metrics-address", f"127.0.0.1:{port}", "--workers", str(workers),
        "--resync-period", resync, "--log-level", "info",
    ]  # fmt: skip
    log_path = logs / "controller.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # a SIGKILLed soak leaves no controller behind
            cwd=Path(__file__).resolve().parents[1],
        )
    return process, f"http://127.0.0.1:{port}", log_path


def wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> float:
    """Seconds until the controller's /readyz answers 200 (caches synced)."""
    began = time.monotonic()
    while time.monotonic() - began < READY_TIMEOUT:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(
                f"the controller exited with {process.returncode}:\n" + "\n".join(tail)
            )
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
            if r.status == 200:
                return time.monotonic() - began
        time.sleep(0.5)
    raise RuntimeError(f"the controller was not ready within {READY_TIMEOUT:.0f}s (see {log_path})")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> int | None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def scrape(url: str) -> dict[str, float]:
    """The controller's counters of interest, keyed `name{labels}`; {} when unreachable."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except (urllib.error.URLError, OSError):
        return {}
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = METRICS.match(line)
        if match:
            name, labels, value = match.groups()
            found[f"{name}{{{labels}}}" if labels else name] = float(value)
    return found


APISERVER_REQUEST = re.compile(r"^apiserver_request_total\{([^}]*)\} (\S+)$")


def apiserver_requests(plane: ControlPlane) -> dict[str, int]:
    """The API server's request counts (every client: the controller, this soak's churn and
    sampling, kube-controller-manager), keyed `VERB resource[/subresource] code`."""
    assert plane.pki is not None
    context = ssl.create_default_context(cafile=str(plane.pki.ca))
    context.load_cert_chain(str(plane.pki.admin.cert), str(plane.pki.admin.key))
    try:
        with urllib.request.urlopen(f"{plane.url}/metrics", timeout=10, context=context) as r:
            text = r.read().decode()
    except (urllib.error.URLError, OSError):
        return {}
    found: Counter[str] = Counter()
    for line in text.splitlines():
        match = APISERVER_REQUEST.match(line)
        if match is None:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += f"/{labels['subresource']}"
        found[f"{labels.get('verb')} {resource} {labels.get('code')}"] += int(float(match.group(2)))
    return dict(found.most_common())


class LogWatch:
    """Counts the controller log's lines by level as it grows; keeps distinct error/warning
    messages (the first `keep` of them, with how often each came)."""

    def __init__(self, path: Path, keep: int = 15) -> None:
        self.path = path
        self.offset = 0
        self.levels: Counter[str] = Counter()
        self.messages: Counter[str] = Counter()
        self.keep = keep

    def read(self) -> None:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self.offset += end
        for raw in data[:end].splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                self.levels["unparsed"] += 1
                key = raw.decode(errors="replace")[:200]
                if key.strip() and (key in self.messages or len(self.messages) < self.keep):
                    self.messages[f"(raw) {key}"] += 1
                continue
            level = str(entry.get("level", "?"))
            self.levels[level] += 1
            if level in ("warning", "error", "critical"):
                detail = entry.get("error") or entry.get("reason") or ""
                key = f"{level}: {entry.get('msg')} {str(detail)[:160]}".strip()
                if key in self.messages or len(self.messages) < self.keep:
                    self.messages[key] += 1


# --- the churn ------------------------------------------------------------------------------


def ep_body(name: str, tag: str) -> Obj:
    ep = seed_environment_provisioner()
    ep.pop("status", None)
    ep["metadata"] = {"name": name}
    ep["spec"]["application"]["release"]["values"]["application"]["deployment"]["image"]["tag"] = (
        tag
    )
    return ep


@dataclasses.dataclass
class Deletion:
    name: str
    at: float
    """time.monotonic() of the delete."""


class Churn:
    """EPs created, updated, deployed (Flux played) and deleted at a fixed rate, about `live` at
    a time; the deletions followed until the EP and its namespace are gone."""

    def __init__(self, rest: Rest, live: int, rate: float, seed: int = 7) -> None:
        self.rest = rest
        self.live = live
        self.rate = rate
        self.rng = random.Random(seed)
        self.alive: list[str] = []
        self.pending: list[Deletion] = []
        self.cleanup_seconds: list[float] = []
        self.counters: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.serial = 0

    def run(self, stop: threading.Event) -> None:
        period = 1.0 / self.rate
        due = time.monotonic()
        while not stop.is_set():
            due += period
            now = time.monotonic()
            if due < now - 1.0:  # fell behind (a slow API call): no burst to catch up
                due = now
            if stop.wait(max(0.0, due - now)):
                break
            self.step()

    def step(self) -> None:
        action = self.rng.random()
        try:
            if len(self.alive) < self.live and (action < 0.4 or not self.alive):
                self.create()
            elif action < 0.55:
                self.update()
            elif action < 0.85:
                self.play_flux()
            else:
                self.delete()
        except ApiException as e:
            if e.status == 409:  # a write raced the controller's: expected now and then
                self.counters["conflicts"] += 1
            else:
                self.error(f"{e.status} {e.reason}")
        except Exception as e:  # the server unreachable, a timeout...
            self.error(f"{type(e).__name__}: {str(e)[:160]}")

    def error(self, message: str) -> None:
        self.counters["errors"] += 1
        self.errors[message] += 1

    def create(self) -> None:
        name = f"{PREFIX}{self.serial}"
        self.serial += 1
        self.rest.create(ep_body(name, tag=f"v{self.serial}"))
        self.alive.append(name)
        self.counters["created"] += 1

    def update(self) -> None:
        name = self.rng.choice(self.alive)
        image = {"tag": f"v{self.serial}-{self.counters['updated']}"}
        patch = {"spec": {"application": {"release": {"values": {"application": {
            "deployment": {"image": image}}}}}}}  # fmt: skip
        self.rest.merge_patch(API_VERSION, EP_KIND, name, None, patch)
        self.counters["updated"] += 1

    def play_flux(self) -> None:
        """Write Flux's status on the HelmRelease of a live EP that needs one (its
        observedGeneration behind its generation), the oldest first."""
        releases = self.rest.get_path(f"/apis/{HR_API}/helmreleases")["items"]
        by_namespace = {r["metadata"]["namespace"]: r for r in releases}
        for name in self.alive:
            release = by_namespace.get(name)
            if release is None or release["metadata"].get("deletionTimestamp"):
                continue
            generation = release["metadata"].get("generation", 1)
            if (release.get("status") or {}).get("observedGeneration") == generation:
                continue
            played = copy.deepcopy(release)
            played["status"] = flux_status(generation)
            self.rest.replace(played, subresource="status")
            self.counters["flux_played"] += 1
            return
        self.counters["flux_nothing_to_play"] += 1

    def delete(self) -> None:
        if not self.alive:
            return
        name = self.alive.pop(0)
        self.rest.delete(API_VERSION, EP_KIND, name)
        with self.lock:
            self.pending.append(Deletion(name, time.monotonic()))
        self.counters["deleted"] += 1

    def check_deletions(self, rest: Rest) -> list[str]:
        """Mark the deletions whose EP and namespace are gone; the names still pending after
        STUCK_AFTER seconds (called from the sampling thread, with its own client)."""
        with self.lock:
            pending = list(self.pending)
        gone, stuck = [], []
        for deletion in pending:
            try:
                done = (
                    rest.get(API_VERSION, EP_KIND, deletion.name) is None
                    and rest.get("v1", "Namespace", deletion.name) is None
                )
            except Exception:
                continue
            now = time.monotonic()
            if done:
                gone.append(deletion)
                self.cleanup_seconds.append(round(now - deletion.at, 1))
            elif now - deletion.at > STUCK_AFTER:
                stuck.append(deletion.name)
        with self.lock:
            self.pending = [d for d in self.pending if d not in gone]
        return stuck


# --- sampling -----------------------------------------------------------------------------


def census(rest: Rest) -> dict[str, Any]:
    """The EPs by applicationStatus, and how many soak namespaces exist (any phase)."""
    eps = rest.get_path(f"/apis/{API_VERSION}/{EP_PLURAL}")["items"]
    statuses = Counter(
        str((ep.get("status") or {}).get("applicationStatus") or "none")
        + ("/deleting" if ep["metadata"].get("deletionTimestamp") else "")
        for ep in eps
    )
    namespaces = rest.get_path("/api/v1/namespaces")["items"]
    deployed = {
        ep["metadata"]["name"]
        for ep in eps
        if (ep.get("status") or {}).get("applicationStatus") == "deployed"
    }
    return {
        "eps": len(eps),
        "by_status": dict(statuses),
        "namespaces": sum(1 for ns in namespaces if ns["metadata"]["name"].startswith(PREFIX)),
        "deployed": deployed,
    }


def mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def slope(samples: list[dict[str, Any]], since: float) -> dict[str, Any]:
    """Least squares of the controller's RSS (MiB) over time (h), for the samples from `since`."""
    rows = [s for s in samples if s["t"] >= since and s.get("controller_rss_kib")]
    line = fit([s["t"] / 3600 for s in rows], [s["controller_rss_kib"] / 1024 for s in rows])
    if line is None:
        return {"mib_per_hour": None, "samples": len(rows)}
    return {
        "mib_per_hour": round(line["per_ep"], 2),
        "r2": round(line["r2"], 3),
        "from_s": rows[0]["t"],
        "samples": len(rows),
    }


def sample_once(
    t: float,
    controller: subprocess.Popen[bytes],
    plane: ControlPlane,
    metrics_url: str,
    rest: Rest,
    churn: Churn,
    log: LogWatch,
    deployed_seen: set[str],
) -> dict[str, Any]:
    memory = rss_kib(controller.pid)
    others = {
        name: rss_kib(process.popen.pid).get("VmRSS")
        for name, process in (("apiserver", plane.apiserver), ("etcd", plane.etcd))
        if process is not None
    }
    metrics = scrape(metrics_url)
    log.read()
    try:
        counts = census(rest)
        deployed_seen |= counts.pop("deployed")
    except Exception as e:
        counts = {"census_error": f"{type(e).__name__}: {str(e)[:120]}"}
    stuck = churn.check_deletions(rest)
    return {
        "t": round(t, 1),
        "controller_rss_kib": memory.get("VmRSS"),
        "controller_hwm_kib": memory.get("VmHWM"),
        "apiserver_rss_kib": others.get("apiserver"),
        "etcd_rss_kib": others.get("etcd"),
        "created": churn.counters["created"],
        "deleted": churn.counters["deleted"],
        "reconciles": int(
            sum(v for k, v in metrics.items() if k.startswith("tronador_controller_reconciles"))
        ),
        "api_errors": int(
            sum(v for k, v in metrics.items() if k.startswith("tronador_controller_api_errors"))
        ),
        "churn_errors": churn.counters["errors"],
        "log_errors": log.levels["error"] + log.levels["critical"],
        "pending_deletions": len(churn.pending),
        "stuck_deletions": stuck,
        "load_1m": round(os.getloadavg()[0], 2),
        **counts,
    }


def print_sample(sample: dict[str, Any], header: bool) -> None:
    if header:
        print(
            f"{'t (s)':>7} {'ctl RSS MiB':>11} {'HWM MiB':>8} {'apisrv MiB':>10} "
            f"{'etcd MiB':>8} {'created':>7} {'deleted':>7} {'EPs':>4} {'ns':>4} "
            f"{'reconciles':>10} {'errors c/a/l':>12} {'pend':>4} {'load':>5}",
            flush=True,
        )
    errors = f"{sample['churn_errors']}/{sample['api_errors']}/{sample['log_errors']}"
    print(
        f"{sample['t']:>7.0f} {mib(sample['controller_rss_kib']):>11} "
        f"{mib(sample['controller_hwm_kib']):>8} {mib(sample['apiserver_rss_kib']):>10} "
        f"{mib(sample['etcd_rss_kib']):>8} {sample['created']:>7} {sample['deleted']:>7} "
        f"{sample.get('eps', '?'):>4} {sample.get('namespaces', '?'):>4} "
        f"{sample['reconciles']:>10} {errors:>12} {sample['pending_deletions']:>4} "
        f"{sample['load_1m']:>5.2f}",
        flush=True,
    )


# --- the run --------------------------------------------------------------------------------


def drain(rest: Rest, churn: Churn, timeout: float) -> dict[str, Any]:
    """Delete every live EP; wait until no soak EP and no soak namespace is left."""
    began = time.monotonic()
    while churn.alive:
        try:
            churn.delete()
        except Exception as e:
            churn.error(f"drain: {type(e).__name__}: {str(e)[:120]}")
    left: dict[str, Any] = {}
    while time.monotonic() - began < timeout:
        churn.check_deletions(rest)
        try:
            counts = census(rest)
        except Exception:
            time.sleep(2)
            continue
        left = {"eps": counts["eps"], "namespaces": counts["namespaces"]}
        if counts["eps"] == 0 and counts["namespaces"] == 0:
            break
        time.sleep(2)
    return {"seconds": round(time.monotonic() - began, 1), "left": left}


def run(args: argparse.Namespace) -> dict[str, Any]:
    binaries = find_binaries()
    if isinstance(binaries, str):
        raise SystemExit(binaries)
    duration = args.minutes * 60
    warmup = args.warmup_minutes * 60
    if duration < 2 * warmup:
        warmup = duration / 2
    logs: Path = args.logs
    logs.mkdir(parents=True, exist_ok=True)
    samples: list[dict[str, Any]] = []
    deployed_seen: set[str] = set()
    result: dict[str, Any] = {
        "machine": describe(),
        "minutes": args.minutes,
        "warmup_s": warmup,
        "live_eps": args.live_eps,
        "rate_per_s": args.rate,
        "interval_s": args.interval,
        "controller_flags": {"workers": args.workers, "resync_period": args.resync_period},
        "logs": str(logs),
        "samples": samples,
    }
    plane = ControlPlane(binaries)
    controller: subprocess.Popen[bytes] | None = None
    stop = threading.Event()
    churner: threading.Thread | None = None
    try:
        print(f"starting etcd + kube-apiserver + kube-controller-manager in {plane.folder}")
        plane.start()
        plane.ensure_controller_manager()
        prepare(plane)
        result["control_plane_start_s"] = round(plane.started_in, 1)
        controller, metrics_url, log_path = start_controller(
            plane, logs, args.workers, args.resync_period
        )
        result["controller_ready_s"] = round(wait_ready(controller, metrics_url, log_path), 1)
        print(
            f"API server {plane.url}; controller pid {controller.pid} ready in "
            f"{result['controller_ready_s']} s; churning for {args.minutes:g} min",
            flush=True,
        )
        log = LogWatch(log_path)
        with plane.admin_client() as churn_api, plane.admin_client() as sample_api:
            churn = Churn(Rest(churn_api), args.live_eps, args.rate)
            sampler = Rest(sample_api)
            churner = threading.Thread(target=churn.run, args=(stop,), daemon=True)
            started = time.monotonic()
            churner.start()
            stuck_ever: set[str] = set()
            try:
                while True:
                    elapsed = time.monotonic() - started
                    if controller.poll() is not None:
                        result["controller_exit"] = controller.returncode
                        print(f"the controller exited with {controller.returncode}", flush=True)
                        break
                    sample = sample_once(
                        elapsed, controller, plane, metrics_url, sampler, churn, log, deployed_seen
                    )
                    stuck_ever.update(sample["stuck_deletions"])
                    samples.append(sample)
                    print_sample(sample, header=len(samples) == 1)
                    if elapsed >= duration:
                        break
                    time.sleep(min(args.interval, max(duration - elapsed, 0.5)))
            except (KeyboardInterrupt, Interrupted) as e:
                result["interrupted"] = str(e) or type(e).__name__
                print(f"interrupted ({result['interrupted']}): reporting what was measured")
            stop.set()
            churner.join(30)
            result["churn_s"] = round(time.monotonic() - started, 1)
            result["metrics_end"] = scrape(metrics_url)
            if args.drain and "interrupted" not in result and controller.poll() is None:
                print("draining: deleting the live EPs, waiting for their cleanup", flush=True)
                result["drain"] = drain(sampler, churn, DRAIN_TIMEOUT)
                result["rss_after_drain_kib"] = rss_kib(controller.pid).get("VmRSS")
                result["metrics_after_drain"] = scrape(metrics_url)
            result["apiserver_requests"] = apiserver_requests(plane)
            log.read()
            stuck_ever.update(churn.check_deletions(sampler))
            result["churn"] = {
                **dict(churn.counters),
                "still_alive": len(churn.alive),
                "deployed_seen": len(deployed_seen),
                "errors_by_message": dict(churn.errors.most_common(20)),
                "cleanup_s": _spread(churn.cleanup_seconds),
                "deletions_cleaned": len(churn.cleanup_seconds),
                "deletions_pending_at_end": [d.name for d in churn.pending],
                "stuck_ever": sorted(stuck_ever, key=lambda n: int(n.removeprefix(PREFIX))),
            }
            result["controller_log"] = {
                "lines_by_level": dict(log.levels),
                "warnings_and_errors": dict(log.messages.most_common()),
            }
    finally:
        stop.set()
        if controller is not None:
            result["controller_exit"] = stop_process(controller)
        for process in (plane.apiserver, plane.etcd, plane.controller_manager):
            if process is not None:
                with contextlib.suppress(OSError):
                    (logs / process.log_path.name).write_text(process.log_tail(300) + "\n")
        plane.stop()
    result["summary"] = summarize(samples, warmup, result)
    return result


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
    }


def summarize(
    samples: list[dict[str, Any]], warmup: float, result: dict[str, Any]
) -> dict[str, Any]:
    rss = [s for s in samples if s.get("controller_rss_kib")]
    if not rss:
        return {}
    after = next((s for s in rss if s["t"] >= warmup), rss[-1])
    last = rss[-1]
    return {
        "rss_start_mib": mib(rss[0]["controller_rss_kib"]),
        "rss_after_warmup_mib": mib(after["controller_rss_kib"]),
        "rss_after_warmup_t_s": after["t"],
        "rss_end_mib": mib(last["controller_rss_kib"]),
        "rss_max_mib": mib(max(s["controller_rss_kib"] for s in rss)),
        "hwm_end_mib": mib(last.get("controller_hwm_kib")),
        "rss_after_drain_mib": mib(result.get("rss_after_drain_kib")),
        "slope_after_warmup": slope(rss, warmup),
        "slope_second_half": slope(rss, last["t"] / 2),
        "apiserver_rss_mib": [
            mib(rss[0].get("apiserver_rss_kib")),
            mib(last.get("apiserver_rss_kib")),
        ],
        "etcd_rss_mib": [mib(rss[0].get("etcd_rss_kib")), mib(last.get("etcd_rss_kib"))],
    }


def table(result: dict[str, Any]) -> str:
    s = result.get("summary") or {}
    churn = result.get("churn") or {}
    logged = (result.get("controller_log") or {}).get("lines_by_level") or {}
    metrics = result.get("metrics_after_drain") or result.get("metrics_end") or {}
    reconciles = {
        k.split('"')[1]: int(v)
        for k, v in metrics.items()
        if k.startswith("tronador_controller_rec")
    }
    api_errors = {
        k.split('"')[1]: int(v)
        for k, v in metrics.items()
        if k.startswith("tronador_controller_api")
    }
    after = s.get("slope_after_warmup") or {}
    half = s.get("slope_second_half") or {}
    drained = result.get("drain") or {}
    cleanup = churn.get("cleanup_s") or {}
    requests: dict[str, int] = result.get("apiserver_requests") or {}
    by_verb: Counter[str] = Counter()
    for key, count in requests.items():
        by_verb[key.split()[0]] += count
    missing_writes = {
        " ".join(k.split()[:2]): v
        for k, v in requests.items()
        if k.endswith(" 404") and not k.startswith(("GET ", "LIST ", "WATCH "))
    }
    rows = [
        ("duration of the churn", f"{result.get('churn_s', 0) / 60:.1f} min "
         f"({result['live_eps']} live EPs, {result['rate_per_s']:g} ops/s)"),
        ("EPs created / updated / deleted", f"{churn.get('created', 0)} / "
         f"{churn.get('updated', 0)} / {churn.get('deleted', 0)}"),
        ("Flux statuses played; EPs seen deployed", f"{churn.get('flux_played', 0)}; "
         f"{churn.get('deployed_seen', 0)}"),
        ("deletions cleaned up (EP + namespace gone)", f"{churn.get('deletions_cleaned', 0)}; "
         f"median {cleanup.get('median')} s, p95 {cleanup.get('p95')} s, "
         f"max {cleanup.get('max')} s"),
        ("controller RSS at start", f"{s.get('rss_start_mib')} MiB"),
        (f"controller RSS after warm-up ({result['warmup_s'] / 60:g} min)",
         f"{s.get('rss_after_warmup_mib')} MiB"),
        ("controller RSS at end", f"{s.get('rss_end_mib')} MiB"),
        ("controller RSS max (sampled; VmHWM)", f"{s.get('rss_max_mib')} MiB; "
         f"{s.get('hwm_end_mib')} MiB"),
        ("slope after warm-up", f"{after.get('mib_per_hour')} MiB/h (r² {after.get('r2')}, "
         f"{after.get('samples')} samples)"),
        ("slope over the second half", f"{half.get('mib_per_hour')} MiB/h (r² {half.get('r2')})"),
        ("controller RSS after the drain", f"{s.get('rss_after_drain_mib')} MiB "
         f"(drain {drained.get('seconds')} s, left {drained.get('left')})"),
        ("reconciles by result", ", ".join(f"{k} {v}" for k, v in sorted(reconciles.items()))),
        ("controller API errors by code", ", ".join(
            f"{k}: {v}" for k, v in sorted(api_errors.items())) or "0"),
        ("churn errors (409 conflicts apart)", f"{churn.get('errors', 0)} "
         f"({churn.get('conflicts', 0)} conflicts)"),
        ("controller log warnings / errors", f"{logged.get('warning', 0)} / "
         f"{logged.get('error', 0) + logged.get('critical', 0)}"),
        ("deletions not cleaned within 120 s", f"{len(churn.get('stuck_ever', []))}"),
        ("API server requests, all clients, by verb", ", ".join(
            f"{k} {v}" for k, v in by_verb.most_common()) or "?"),
        ("API server 404s on writes, all clients", ", ".join(
            f"{k}: {v}" for k, v in missing_writes.items()) or "0"),
        ("apiserver / etcd RSS start→end", f"{s.get('apiserver_rss_mib')} / "
         f"{s.get('etcd_rss_mib')} MiB"),
    ]  # fmt: skip
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak_realapi",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="churn time (default 30)")
    parser.add_argument("--live-eps", type=int, default=20, help="EPs alive at a time (20)")
    parser.add_argument("--rate", type=float, default=2.0, help="EP operations a second (2)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup-minutes", type=float, default=5.0, help="before the slope")
    parser.add_argument("--workers", type=int, default=4, help="the controller's --workers")
    parser.add_argument("--resync-period", default="10m", help="the controller's (default 10m)")
    parser.add_argument(
        "--no-drain", dest="drain", action="store_false", help="skip deleting the EPs at the end"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/soak-realapi.json"))
    parser.add_argument("--logs", type=Path, help="default: next to --out, <stem>-logs/")
    args = parser.parse_args(argv)
    if args.logs is None:
        args.logs = args.out.with_name(f"{args.out.stem}-logs")
    signal.signal(signal.SIGTERM, _interrupt)
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=sorted) + "\n")
    markdown = table(result)
    args.out.with_suffix(".md").write_text(markdown + "\n")
    print()
    print(markdown)
    messages = (result.get("controller_log") or {}).get("warnings_and_errors") or {}
    if messages:
        print("\ncontroller log warnings/errors (distinct, with counts):")
        for message, count in messages.items():
            print(f"  {count:>5}x {message}")
    if (result.get("churn") or {}).get("errors_by_message"):
        print(f"\nchurn errors: {result['churn']['errors_by_message']}")
    print(f"\nwrote {args.out} and {args.out.with_suffix('.md')}; logs in {args.logs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
