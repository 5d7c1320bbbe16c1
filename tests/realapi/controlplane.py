"""A real Kubernetes control plane on loopback for tests, in the spirit of controller-runtime's
envtest: etcd and kube-apiserver (and, on demand, kube-controller-manager) on free 127.0.0.1
ports in a temporary folder, with an admin client and clients for ServiceAccounts.

The binaries are found through one environment variable naming their folder (`ENV_VAR`):
kube-apiserver and kube-controller-manager must be there; etcd is taken from there or from PATH.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.realapi.pki import ControlPlanePKI, KeyPair, write_pki

ENV_VAR = "TRONADOR_ENVTEST_BIN"
START_TIMEOUT = 90.0
"""Seconds for a process to become ready (3-8 s measured; the CI machine is shared)."""
CONTROLLERS = (
    "namespace-controller",
    "serviceaccount-controller",
    "garbage-collector-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
)
"""The kube-controller-manager loops the tests rely on (the controller's ClusterRole is an
aggregated one); no node, pod or workload controllers."""


AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "userGroups": ["system:serviceaccounts:kube-system"]},
        {"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
        {"level": "None"},
    ],
}
"""ServiceAccounts' requests (those of the tests' components, not the controller manager's) go
to the audit log, where `denied_requests` finds every 403 whatever the client made of it."""


class ControlPlaneError(RuntimeError):
    """A control-plane process did not start; the message carries the tail of its log."""


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: Path
    kube_controller_manager: Path
    etcd: Path


def find_binaries(environ: dict[str, str] | None = None) -> Binaries | str:
    """The binaries, or why they cannot be found (one line, naming the variable)."""
    env = os.environ if environ is None else environ
    folder = env.get(ENV_VAR, "")
    if not folder:
        return (
            f"{ENV_VAR} is not set: it names the folder holding kube-apiserver and "
            "kube-controller-manager (see README, 'The real API server lane')"
        )
    base = Path(folder)
    found: dict[str, Path] = {}
    for name in ("kube-apiserver", "kube-controller-manager"):
        path = base / name
        if not os.access(path, os.X_OK):
            return f"{ENV_VAR}={folder}: no executable {name} there"
        found[name] = path
    etcd = base / "etcd" if os.access(base / "etcd", os.X_OK) else shutil.which("etcd")
    if etcd is None:
        return f"etcd not found in {ENV_VAR}={folder} nor on PATH (apt-get install etcd-server)"
    return Binaries(found["kube-apiserver"], found["kube-controller-manager"], Path(etcd))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: a SIGKILLed test run does not leave servers behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Process:
    """One control-plane process, its output in a log file."""

    def __init__(self, name: str, argv: list[str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def check_running(self) -> None:
        code = self.popen.poll()
        if code is not None:
            raise ControlPlaneError(f"{self.name} exited with {code}:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


def _wait(process: Process, ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        process.check_running()
        if ready():
            return
        time.sleep(0.2)
    raise ControlPlaneError(
        f"{process.name}: {what} not within {START_TIMEOUT:.0f}s:\n{process.log_tail()}"
    )


def _write_kubeconfig(path: Path, server: str, ca: Path, user: KeyPair) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "envtest", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [
            {
                "name": "user",
                "user": {"client-certificate": str(user.cert), "client-key": str(user.key)},
            }
        ],
        "contexts": [{"name": "envtest", "context": {"cluster": "envtest", "user": "user"}}],
        "current-context": "envtest",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class ControlPlane:
    """Start with `start()`, always `stop()` (it also removes the folder)."""

    def __init__(self, binaries: Binaries, folder: Path | None = None) -> None:
        self.binaries = binaries
        self.folder = folder or Path(tempfile.mkdtemp(prefix="tronador-envtest-"))
        self.pki: ControlPlanePKI | None = None
        self.url = ""
        self.etcd: Process | None = None
        self.apiserver: Process | None = None
        self.controller_manager: Process | None = None
        self.audit_log = self.folder / "audit.log"
        self.started_in = 0.0
        """Seconds from start() until the API server answered /readyz."""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        began = time.monotonic()
        self.pki = write_pki(self.folder / "pki")
        etcd_url = self._start_etcd()
        self._start_apiserver(etcd_url)
        self.started_in = time.monotonic() - began
        return self

    def stop(self) -> None:
        for process in (self.controller_manager, self.apiserver, self.etcd):
            if process is not None:
                process.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _start_etcd(self) -> str:
        client_port, peer_port = free_port(), free_port()
        client_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        argv = [
            str(self.binaries.etcd),
            "--name=envtest",
            f"--data-dir={self.folder / 'etcd'}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=envtest={peer_url}",
            "--unsafe-no-fsync=true",
        ]
        self.etcd = Process("etcd", argv, self.folder)
        _wait(self.etcd, lambda: _http_ok(f"{client_url}/health"), "/health answering")
        return client_url

    def _start_apiserver(self, etcd_url: str) -> None:
        assert self.pki is not None
        pki = self.pki
        port = free_port()
        self.url = f"https://127.0.0.1:{port}"
        audit_policy = self.folder / "audit-policy.yaml"
        audit_policy.write_text(yaml.safe_dump(AUDIT_POLICY), encoding="utf-8")
        argv = [
            str(self.binaries.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.folder / 'apiserver-certs'}",
            f"--tls-cert-file={pki.serving.cert}",
            f"--tls-private-key-file={pki.serving.key}",
            f"--client-ca-file={pki.ca}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_public}",
            f"--service-account-signing-key-file={pki.service_account_private}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--authorization-mode=RBAC",
            "--endpoint-reconciler-type=none",
            f"--requestheader-client-ca-file={pki.front_proxy_ca}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki.front_proxy_client.cert}",
            f"--proxy-client-key-file={pki.front_proxy_client.key}",
            "--profiling=false",
            f"--audit-policy-file={audit_policy}",
            f"--audit-log-path={self.audit_log}",
        ]
        self.apiserver = Process("kube-apiserver", argv, self.folder)
        context = self._admin_ssl_context()
        _wait(
            self.apiserver,
            lambda: _http_ok(f"{self.url}/readyz", context),
            "/readyz answering 200",
        )

    def ensure_controller_manager(self) -> None:
        """Start kube-controller-manager once (namespace deletion, the `default`
        ServiceAccount, garbage collection); ready when `default/default` exists."""
        if self.controller_manager is not None:
            self.controller_manager.check_running()
            return
        assert self.pki is not None
        pki = self.pki
        kubeconfig = _write_kubeconfig(
            self.folder / "controller-manager.kubeconfig", self.url, pki.ca, pki.controller_manager
        )
        argv = [
            str(self.binaries.kube_controller_manager),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--cert-dir={self.folder / 'controller-manager-certs'}",
            f"--service-account-private-key-file={pki.service_account_private}",
            f"--root-ca-file={pki.ca}",
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            f"--controllers={','.join(CONTROLLERS)}",
            "--concurrent-namespace-syncs=2",
            "--profiling=false",
        ]
        self.controller_manager = Process("kube-controller-manager", argv, self.folder)
        with self.admin_client() as admin:
            core = client.CoreV1Api(admin)
            _wait(
                self.controller_manager,
                lambda: _exists(lambda: core.read_namespaced_service_account("default", "default")),
                "the default ServiceAccount appearing",
            )

    def requests(self, username: str) -> list[tuple[str, str, int]]:
        """(verb, URI, status code) of each request by `username`, in the audit log's order."""
        if not self.audit_log.exists():
            return []
        found = []
        for line in self.audit_log.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event.get("user", {}).get("username") == username:
                code = int(event.get("responseStatus", {}).get("code") or 0)
                found.append((str(event["verb"]), str(event["requestURI"]), code))
        return found

    def denied_requests(self, username: str) -> list[str]:
        """`VERB URI` of each request by `username` the API server answered with 403."""
        return [f"{verb} {uri}" for verb, uri, code in self.requests(username) if code == 403]

    # -- clients -----------------------------------------------------------------------------

    def _configuration(self) -> client.Configuration:
        assert self.pki is not None
        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = str(self.pki.ca)
        return configuration

    def admin_client(self) -> client.ApiClient:
        """A client as `admin` in `system:masters` (a client certificate)."""
        assert self.pki is not None
        configuration = self._configuration()
        configuration.cert_file = str(self.pki.admin.cert)
        configuration.key_file = str(self.pki.admin.key)
        return client.ApiClient(configuration)

    def token_client(self, token: str) -> client.ApiClient:
        configuration = self._configuration()
        configuration.api_key = {"authorization": f"Bearer {token}"}
        return client.ApiClient(configuration)

    def service_account_client(
        self, namespace: str, name: str, *, create: bool = True
    ) -> client.ApiClient:
        """A client authenticated as system:serviceaccount:NAMESPACE:NAME through a
        TokenRequest, as `kubectl create token` does (the account is created if absent)."""
        with self.admin_client() as admin:
            core = client.CoreV1Api(admin)
            if create and not _exists(
                lambda: core.read_namespaced_service_account(name, namespace)
            ):
                core.create_namespaced_service_account(
                    namespace, {"metadata": {"name": name, "namespace": namespace}}
                )
            answer = core.create_namespaced_service_account_token(
                name, namespace, {"spec": {"expirationSeconds": 3600}}
            )
        return self.token_client(answer.status.token)

    def _admin_ssl_context(self) -> ssl.SSLContext:
        assert self.pki is not None
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        context.load_cert_chain(str(self.pki.admin.cert), str(self.pki.admin.key))
        return context


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _exists(read: Callable[[], object]) -> bool:
    try:
        read()
    except ApiException as e:
        if e.status == 404:
            return False
        raise
    return True
