"""Checks on rendered manifests. Each returns a list of problems (empty: fine), so a test can
break one thing in a copy of the objects and assert that exactly that is reported."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import kubernetes_validate

from tests.manifests.render import (
    Obj,
    containers,
    describe,
    find,
    group_of,
    meta,
    namespace_of,
    of_kind,
    pod_labels,
    pod_spec,
    selector_matches,
    service_selects,
    webhooks,
    workloads,
)

KUBERNETES_VERSION = "1.32"
"""The schema kubernetes-validate checks built-in kinds against (our kubectl's version)."""

UNVALIDATED_GROUPS = {
    "cert-manager.io": "cert-manager's CRDs are not vendored here; "
    "`kubectl apply --dry-run=server` checks these on a cluster that has cert-manager",
}
"""Kinds no schema is available for offline, by API group, with the reason."""

NONROOT_UID = 65532
MAX_TIMEOUT_SECONDS = {"MutatingWebhookConfiguration": 3, "ValidatingWebhookConfiguration": 5}
SYSTEM_NAMESPACE_LABEL = "kubernetes.io/metadata.name"


# --- schemas -------------------------------------------------------------------------------------


def _strict_openapi(schema: Any) -> Any:
    """A CRD's OpenAPI v3 schema as JSON Schema: `nullable` allows null, and objects with
    declared properties reject unknown fields (kubectl sends fieldValidation=Strict)."""
    if isinstance(schema, list):
        return [_strict_openapi(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict_openapi(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_schemas(crds: list[Obj]) -> dict[tuple[str, str], Obj]:
    """(apiVersion, kind) -> JSON schema, for every served version of the CRDs."""
    out = {}
    for crd in crds:
        spec = crd.get("spec") or {}
        for version in spec.get("versions") or []:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if version.get("served") and schema:
                api_version = f"{spec['group']}/{version['name']}"
                out[api_version, spec["names"]["kind"]] = _strict_openapi(schema)
    return out


def schema_problems(objects: list[Obj], crds: list[Obj]) -> list[str]:
    """Every object valid against the Kubernetes schema or, for our kinds, our CRDs' schema."""
    problems = []
    custom = crd_schemas(crds)
    for obj in objects:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        if key in custom:
            errors = sorted(
                jsonschema.Draft7Validator(custom[key]).iter_errors(obj), key=lambda e: e.path
            )
            problems += [f"{describe(obj)}: {_path(e.path)}: {e.message}" for e in errors]
            continue
        if group_of(obj) in UNVALIDATED_GROUPS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{describe(obj)}: {_path(e.path)}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            problems.append(f"{describe(obj)}: {e.message}")
    return problems


def _path(path: Any) -> str:
    return ".".join(str(p) for p in path) or "(root)"


# --- the pods ------------------------------------------------------------------------------------


def selector_problems(objects: list[Obj]) -> list[str]:
    """Workload selectors match their own pods; Services, PDBs and spread constraints select
    pods that some workload in the same namespace runs."""
    problems = []
    pods = [(namespace_of(w), pod_labels(w)) for w in workloads(objects)]
    for workload in workloads(objects):
        selector = (workload.get("spec") or {}).get("selector")
        if not selector_matches(selector, pod_labels(workload)):
            problems.append(f"{describe(workload)}: selector does not match its pod labels")
        for constraint in pod_spec(workload).get("topologySpreadConstraints") or []:
            if not selector_matches(constraint.get("labelSelector"), pod_labels(workload)):
                problems.append(
                    f"{describe(workload)}: topologySpreadConstraint on "
                    f"{constraint.get('topologyKey')} does not select its own pods"
                )
    for service in of_kind(objects, "Service"):
        if not any(
            ns == namespace_of(service) and service_selects(service, labels) for ns, labels in pods
        ):
            problems.append(f"{describe(service)}: selector matches no workload's pods")
    for pdb in of_kind(objects, "PodDisruptionBudget"):
        selector = (pdb.get("spec") or {}).get("selector")
        if not any(
            ns == namespace_of(pdb) and selector_matches(selector, labels) for ns, labels in pods
        ):
            problems.append(f"{describe(pdb)}: selector matches no workload's pods")
    return problems


def _effective(container: Obj, pod: Obj, key: str) -> Any:
    value = (container.get("securityContext") or {}).get(key)
    return value if value is not None else (pod.get("securityContext") or {}).get(key)


def security_problems(objects: list[Obj]) -> list[str]:
    """Every container, init containers too, runs as the non-root user with a read-only root,
    no privilege escalation, no capabilities and the runtime's seccomp profile."""
    problems = []
    for workload in workloads(objects):
        pod = pod_spec(workload)
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(key):
                problems.append(f"{describe(workload)}: {key} is set")
        for volume in pod.get("volumes") or []:
            if "hostPath" in volume:
                problems.append(f"{describe(workload)}: volume {volume.get('name')} is a hostPath")
        for container, _ in containers(workload):
            where = f"{describe(workload)} container {container.get('name')}"
            context = container.get("securityContext") or {}
            wanted = {
                "runAsNonRoot": True,
                "runAsUser": NONROOT_UID,
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
            }
            for key, value in wanted.items():
                actual = _effective(container, pod, key)
                if actual != value:
                    problems.append(f"{where}: securityContext.{key} is {actual!r}, not {value!r}")
            if context.get("privileged"):
                problems.append(f"{where}: privileged")
            capabilities = context.get("capabilities") or {}
            if "ALL" not in (capabilities.get("drop") or []):
                problems.append(f"{where}: capabilities do not drop ALL")
            if capabilities.get("add"):
                problems.append(f"{where}: capabilities add {capabilities['add']}")
            seccomp = _effective(container, pod, "seccompProfile") or {}
            if seccomp.get("type") != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile is not RuntimeDefault")
    return problems


def resource_problems(objects: list[Obj]) -> list[str]:
    """Every container requests CPU and memory and has a memory limit at least its request."""
    problems = []
    for workload in workloads(objects):
        for container, _ in containers(workload):
            where = f"{describe(workload)} container {container.get('name')}"
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            for key in ("cpu", "memory"):
                if key not in requests:
                    problems.append(f"{where}: no {key} request")
            if "memory" not in limits:
                problems.append(f"{where}: no memory limit")
            elif "memory" in requests and _bytes(limits["memory"]) < _bytes(requests["memory"]):
                problems.append(f"{where}: memory limit below its request")
    return problems


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}


def _bytes(quantity: Any) -> float:
    text = str(quantity)
    for suffix, factor in _UNITS.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def lifecycle_problems(objects: list[Obj]) -> list[str]:
    """No lifecycle hooks: a pod that exits must not take the webhook configurations (or
    anything else) with it; and no webhook configuration is owned by a pod or workload, so
    garbage collection never deletes it."""
    problems = []
    for workload in workloads(objects):
        for container, _ in containers(workload):
            for hook in container.get("lifecycle") or {}:
                problems.append(
                    f"{describe(workload)} container {container.get('name')}: has a {hook} hook"
                )
    seen = set()
    for config, _ in webhooks(objects):
        if id(config) in seen:
            continue
        seen.add(id(config))
        if meta(config).get("ownerReferences"):
            problems.append(f"{describe(config)}: has ownerReferences (garbage collection)")
    return problems


def token_problems(objects: list[Obj], needs_api: dict[tuple[str, str], bool]) -> list[str]:
    """ServiceAccounts do not mount tokens by default; a pod mounts one exactly when the code its
    containers run calls the API (`needs_api`: (namespace, service account) -> bool)."""
    problems = []
    for account in of_kind(objects, "ServiceAccount"):
        if account.get("automountServiceAccountToken") is not False:
            problems.append(f"{describe(account)}: automountServiceAccountToken is not false")
    for workload in workloads(objects):
        spec = pod_spec(workload)
        key = (namespace_of(workload), spec.get("serviceAccountName") or "default")
        mounts = spec.get("automountServiceAccountToken")
        needed = needs_api.get(key, False)
        if needed and mounts is not True:
            problems.append(f"{describe(workload)}: calls the API but does not mount a token")
        if not needed and mounts is not False:
            problems.append(f"{describe(workload)}: never calls the API but mounts a token")
    return problems


# --- the CLI the containers run --------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    workload: Obj
    container: Obj
    init: bool
    args: argparse.Namespace | None
    """The parsed `tronador` command line, with the container's environment."""
    error: str = ""

    @property
    def command(self) -> str:
        return str(getattr(self.args, "command", "")) if self.args else ""

    @property
    def where(self) -> str:
        return f"{describe(self.workload)} container {self.container.get('name')}"


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({"PATH": saved.get("PATH", ""), **values})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def container_env(workload: Obj, container: Obj) -> dict[str, str]:
    """The container's environment as the kubelet sets it (the fields we use)."""
    env = {}
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
        field_path = ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if field_path == "metadata.namespace":
            env[var["name"]] = namespace_of(workload)
    return env


def invocations(objects: list[Obj]) -> list[Invocation]:
    """Every container's `tronador` command line, parsed by the real parser, with defaults
    read from the container's environment."""
    out = []
    for workload in workloads(objects):
        for container, init in containers(workload):
            if container.get("command"):
                out.append(Invocation(workload, container, init, None, "overrides the command"))
                continue
            args, error = parse_command_line(
                [str(a) for a in container.get("args") or []], container_env(workload, container)
            )
            out.append(Invocation(workload, container, init, args, error))
    return out


def parse_command_line(
    argv: list[str], env: dict[str, str]
) -> tuple[argparse.Namespace | None, str]:
    """`tronador ARGV` parsed by the real parser in environment `env`: (args, "") or
    (None, the parser's error line)."""
    from tronador.cli import build_parser

    stderr = io.StringIO()
    with _environment(env), contextlib.redirect_stderr(stderr):
        try:
            return build_parser().parse_args(argv), ""
        except SystemExit:
            message = stderr.getvalue().strip().splitlines()[-1:] or ["cannot parse"]
            return None, message[0]


def invocation_problems(objects: list[Obj]) -> list[str]:
    return [f"{i.where}: {i.error}" for i in invocations(objects) if i.args is None]


def _field_ref(container: Obj, name: str) -> str | None:
    for var in container.get("env") or []:
        if var.get("name") == name:
            return ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    return None


def _mount_dir(container: Obj, path: str) -> Obj | None:
    """The volumeMount a file path lies in."""
    best = None
    for mount in container.get("volumeMounts") or []:
        root = str(mount.get("mountPath", "")).rstrip("/") + "/"
        if path.startswith(root) and (best is None or len(root) > len(best["mountPath"])):
            best = mount
    return best


def _volume(workload: Obj, name: str) -> Obj:
    for volume in pod_spec(workload).get("volumes") or []:
        if volume.get("name") == name:
            return volume
    return {}


def _container_port(container: Obj, port: Any) -> Obj | None:
    for declared in container.get("ports") or []:
        if port in (declared.get("name"), declared.get("containerPort")):
            return declared
    return None


# --- the webhook ---------------------------------------------------------------------------------


def webhook_servers(objects: list[Obj]) -> list[Invocation]:
    return [i for i in invocations(objects) if i.command == "webhook" and not i.init]


def webhook_route_problems(objects: list[Obj], admission_paths: tuple[str, ...]) -> list[str]:
    """Every webhook calls a route the server has, of its own kind (mutate/validate), for the
    resource its rules send; and every admission route is called by some webhook."""
    problems = []
    used = set()
    for config, hook in webhooks(objects):
        where = f"{describe(config)} webhook {hook.get('name')}"
        path = ((hook.get("clientConfig") or {}).get("service") or {}).get("path")
        used.add(path)
        if path not in admission_paths:
            problems.append(f"{where}: path {path!r} is not a server route {admission_paths}")
            continue
        action = "mutate" if config["kind"].startswith("Mutating") else "validate"
        if not str(path).startswith(f"/{action}/"):
            problems.append(f"{where}: path {path!r} is not a /{action}/ route")
        resources = {r for rule in hook.get("rules") or [] for r in rule.get("resources") or []}
        if resources != {str(path).rsplit("/", 1)[-1]}:
            problems.append(f"{where}: path {path!r} receives {sorted(resources)}")
    for path in admission_paths:
        if path not in used:
            problems.append(f"server route {path} is called by no webhook")
    return problems


def webhook_service_problems(objects: list[Obj]) -> list[str]:
    """Each webhook's Service exists, has the port it calls, and that port reaches the HTTPS
    port the webhook server listens on, in pods the Service selects."""
    problems = []
    servers = webhook_servers(objects)
    for config, hook in webhooks(objects):
        where = f"{describe(config)} webhook {hook.get('name')}"
        client = hook.get("clientConfig") or {}
        if "url" in client:
            problems.append(f"{where}: calls a URL, not the Service")
            continue
        ref = client.get("service") or {}
        service = find(objects, "Service", ref.get("name", ""), ref.get("namespace", ""))
        if service is None:
            problems.append(f"{where}: Service {ref.get('namespace')}/{ref.get('name')} not found")
            continue
        port = next(
            (
                p
                for p in service["spec"].get("ports") or []
                if p.get("port") == ref.get("port", 443)
            ),
            None,
        )
        if port is None:
            problems.append(f"{where}: {describe(service)} has no port {ref.get('port', 443)}")
            continue
        target = port.get("targetPort", port.get("port"))
        reached = [
            s
            for s in servers
            if namespace_of(s.workload) == namespace_of(service)
            and service_selects(service, pod_labels(s.workload))
            and (declared := _container_port(s.container, target)) is not None
            and declared.get("containerPort") == s.args.port  # type: ignore[union-attr]
        ]
        if not reached:
            problems.append(
                f"{where}: {describe(service)} port {port.get('port')} -> {target!r} reaches no "
                "webhook server's listening port"
            )
    return problems


def webhook_config_problems(objects: list[Obj], group: str, system_namespace: str) -> list[str]:
    """Timeouts, failure policy, side effects and scoping of every webhook."""
    problems = []
    for config, hook in webhooks(objects):
        where = f"{describe(config)} webhook {hook.get('name')}"
        limit = MAX_TIMEOUT_SECONDS[config["kind"]]
        timeout = hook.get("timeoutSeconds")
        if timeout is None or timeout > limit:
            problems.append(f"{where}: timeoutSeconds {timeout} (at most {limit})")
        groups = {g for rule in hook.get("rules") or [] for g in rule.get("apiGroups") or []}
        if hook.get("failurePolicy", "Fail") == "Fail" and groups != {group}:
            problems.append(f"{where}: failurePolicy Fail on API groups {sorted(groups)}")
        if hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            problems.append(f"{where}: sideEffects {hook.get('sideEffects')!r}")
        if "v1" not in (hook.get("admissionReviewVersions") or []):
            problems.append(f"{where}: admissionReviewVersions lacks v1")
        resources = {r for rule in hook.get("rules") or [] for r in rule.get("resources") or []}
        namespaced = any(rule.get("scope") != "Cluster" for rule in hook.get("rules") or [])
        if namespaced and not _selects_namespace(hook.get("namespaceSelector"), system_namespace):
            problems.append(
                f"{where}: namespaceSelector skips {system_namespace}, where the one "
                f"TronadorConfig lives, so {sorted(resources)} there would go unchecked"
            )
    return problems


def _selects_namespace(selector: Obj | None, namespace: str) -> bool:
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return True  # no selector: every namespace
    return selector_matches(selector, {SYSTEM_NAMESPACE_LABEL: namespace})


def probe_problems(objects: list[Obj], readyz: str, healthz: str) -> list[str]:
    """The webhook server is probed over HTTPS on its serving port: readiness on `readyz`,
    liveness on `healthz`."""
    problems = []
    servers = webhook_servers(objects)
    if not servers:
        problems.append("no container runs `tronador webhook`")
    for server in servers:
        for kind, path in (("readinessProbe", readyz), ("livenessProbe", healthz)):
            probe = (server.container.get(kind) or {}).get("httpGet")
            if not probe:
                problems.append(f"{server.where}: no {kind} httpGet")
                continue
            declared = _container_port(server.container, probe.get("port"))
            port = declared.get("containerPort") if declared else None
            if probe.get("path") != path:
                problems.append(f"{server.where}: {kind} path {probe.get('path')!r}, not {path}")
            if probe.get("scheme") != "HTTPS":
                problems.append(f"{server.where}: {kind} scheme {probe.get('scheme')!r}")
            if port != server.args.port:  # type: ignore[union-attr]
                problems.append(
                    f"{server.where}: {kind} port {probe.get('port')!r} is not the serving port "
                    f"{server.args.port}"  # type: ignore[union-attr]
                )
    return problems


def availability_problems(objects: list[Obj]) -> list[str]:
    """The webhook server runs at least two replicas, and so may a leader-elected controller;
    such workloads spread over nodes, keep a PDB, and roll out without dropping a replica."""
    problems = []
    servers = [(i.workload, 2) for i in webhook_servers(objects)]
    controllers = [
        (i.workload, 1)
        for i in invocations(objects)
        if i.command == "controller" and (i.workload.get("spec") or {}).get("replicas", 1) > 1
    ]
    for workload, minimum in servers + controllers:
        where = describe(workload)
        spec = workload.get("spec") or {}
        replicas = spec.get("replicas", 1)
        if workload["kind"] == "Deployment" and replicas < minimum:
            problems.append(f"{where}: {replicas} replica(s); at least {minimum}")
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        if (spec.get("strategy") or {}).get("type") == "Recreate" or str(
            rolling.get("maxUnavailable", "25%")
        ) not in ("0", "0%"):
            problems.append(f"{where}: a rollout may take replicas down (maxUnavailable != 0)")
        spread = [
            c
            for c in pod_spec(workload).get("topologySpreadConstraints") or []
            if c.get("topologyKey") == "kubernetes.io/hostname"
            and c.get("whenUnsatisfiable") == "ScheduleAnyway"
            and selector_matches(c.get("labelSelector"), pod_labels(workload))
        ]
        if not spread:
            problems.append(f"{where}: no hostname topologySpreadConstraint (ScheduleAnyway)")
        pdbs = [
            p
            for p in of_kind(objects, "PodDisruptionBudget")
            if namespace_of(p) == namespace_of(workload)
            and selector_matches((p.get("spec") or {}).get("selector"), pod_labels(workload))
        ]
        if not pdbs:
            problems.append(f"{where}: no PodDisruptionBudget")
        for pdb in pdbs:
            min_available = (pdb.get("spec") or {}).get("minAvailable")
            if not isinstance(min_available, int) or not 1 <= min_available < replicas:
                problems.append(
                    f"{describe(pdb)}: minAvailable {min_available!r} (want 1..{replicas - 1})"
                )
    return problems


def controller_problems(objects: list[Obj], answer: Callable[[str, bool], int]) -> list[str]:
    """Two controllers never both write: more than one replica only with `--leader-elect`, and
    without it a Recreate rollout; the election identity names the pod. The probes reach the
    health server (`answer(path, ready)` is the HTTP status it gives): readiness on a path
    that fails while the replica is not ready, liveness on one that does not."""
    from controller.health import parse_address

    problems = []
    for run in invocations(objects):
        if run.command != "controller" or run.args is None:
            continue
        args, spec = run.args, run.workload.get("spec") or {}
        replicas = spec.get("replicas", 1)
        if not args.leader_elect:
            if replicas > 1:
                problems.append(f"{run.where}: {replicas} replicas without --leader-elect")
            if (spec.get("strategy") or {}).get("type") != "Recreate":
                problems.append(f"{run.where}: without --leader-elect, a rollout overlaps two")
        elif _field_ref(run.container, "POD_NAME") != "metadata.name":
            problems.append(f"{run.where}: POD_NAME is not the pod's name (election identity)")
        if not args.metrics_address:
            problems.append(f"{run.where}: no --metrics-address, nothing to probe")
            continue
        port = parse_address(args.metrics_address)[1]
        for kind, when_not_ready in (("readinessProbe", False), ("livenessProbe", True)):
            probe = (run.container.get(kind) or {}).get("httpGet")
            if not probe:
                problems.append(f"{run.where}: no {kind} httpGet")
                continue
            declared = _container_port(run.container, probe.get("port"))
            if declared is None or declared.get("containerPort") != port:
                problems.append(f"{run.where}: {kind} port {probe.get('port')!r} is not {port}")
            if probe.get("scheme", "HTTP") != "HTTP":
                problems.append(f"{run.where}: {kind} scheme {probe['scheme']!r}")
            path = str(probe.get("path"))
            if answer(path, True) != 200:
                problems.append(f"{run.where}: {kind} path {path} answers {answer(path, True)}")
            elif (answer(path, False) == 200) != when_not_ready:
                state = "fails" if when_not_ready else "passes"
                problems.append(f"{run.where}: {kind} path {path} {state} while not ready")
    return problems


# --- certificates --------------------------------------------------------------------------------


def _service_hosts(objects: list[Obj]) -> set[str]:
    """The host names the API server uses to call the webhooks."""
    hosts = set()
    for _, hook in webhooks(objects):
        ref = (hook.get("clientConfig") or {}).get("service") or {}
        hosts.add(f"{ref.get('name')}.{ref.get('namespace')}.svc")
    return hosts


def builtin_cert_problems(objects: list[Obj]) -> list[str]:
    """`tronador certs sync` issues for the Service the webhooks call, keeps the webhook
    configurations that exist, and writes the files where the server reads them, before it
    starts (init container) and on rotation (a long-running container)."""
    from certs.defaults import TLS_CERT_FILE
    from certs.pki import ServingSpec

    problems = []
    all_invocations = invocations(objects)
    syncs = [i for i in all_invocations if i.command == "certs" and i.args.certs_action == "sync"]  # type: ignore[union-attr]
    for server in webhook_servers(objects):
        ours = [s for s in syncs if s.workload is server.workload]
        if not any(s.init and not s.args.loop for s in ours):  # type: ignore[union-attr]
            problems.append(f"{server.where}: no init container runs `certs sync` once")
        if not any(not s.init and s.args.loop for s in ours):  # type: ignore[union-attr]
            problems.append(f"{server.where}: no container keeps `certs sync --loop` running")
        for sync in ours:
            args = sync.args
            assert args is not None
            names = set(ServingSpec(args.service, args.namespace).dns_names)
            for host in sorted(_service_hosts(objects) - names):
                problems.append(f"{sync.where}: the certificate would not name {host}")
            for kind, name in (
                ("MutatingWebhookConfiguration", args.mutating_webhook),
                ("ValidatingWebhookConfiguration", args.validating_webhook),
            ):
                if find(objects, kind, name) is None:
                    problems.append(f"{sync.where}: keeps the caBundle of {kind} {name!r}, absent")
            out = str(args.out or "").rstrip("/")
            mount = _mount_dir(sync.container, f"{out}/{TLS_CERT_FILE}") if out else None
            if mount is None:
                problems.append(f"{sync.where}: --out {args.out!r} is not on a volume")
                continue
            for file in (server.args.cert, server.args.key):  # type: ignore[union-attr]
                read = _mount_dir(server.container, file)
                if read is None or read["name"] != mount["name"] or file.rsplit("/", 1)[0] != out:
                    problems.append(
                        f"{server.where}: reads {file}, not where {sync.where} writes ({args.out})"
                    )
    return problems


def cert_manager_problems(objects: list[Obj]) -> list[str]:
    """cert-manager issues a certificate naming the Service, into the Secret the server mounts
    where it reads its files, and injects its CA into every webhook configuration."""
    problems = []
    certificates = of_kind(objects, "Certificate")
    by_secret = {(namespace_of(c), c["spec"].get("secretName")): c for c in certificates}
    for server in webhook_servers(objects):
        for file in (server.args.cert, server.args.key):  # type: ignore[union-attr]
            mount = _mount_dir(server.container, file)
            volume = _volume(server.workload, mount["name"]) if mount else {}
            secret = (volume.get("secret") or {}).get("secretName")
            certificate = by_secret.get((namespace_of(server.workload), secret))
            if certificate is None:
                problems.append(f"{server.where}: {file} is not from a cert-manager Certificate")
                continue
            dns = set(certificate["spec"].get("dnsNames") or [])
            for host in sorted(_service_hosts(objects) - dns):
                problems.append(f"{describe(certificate)}: dnsNames lack {host}")
        for sync in invocations(objects):
            if sync.workload is server.workload and sync.command == "certs":
                problems.append(f"{sync.where}: still runs `tronador certs` next to cert-manager")
    seen = set()
    for config, _ in webhooks(objects):
        if id(config) in seen:
            continue
        seen.add(id(config))
        ref = (meta(config).get("annotations") or {}).get("cert-manager.io/inject-ca-from", "")
        namespace, _, name = ref.partition("/")
        if find(objects, "Certificate", name, namespace) is None:
            problems.append(f"{describe(config)}: inject-ca-from {ref!r} names no Certificate")
    return problems
