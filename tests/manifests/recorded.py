"""The API requests our components really make, recorded by the emulated API server.

The static scan (`apicalls`) sees calls whose resource is a constant. The controller mostly calls
its REST layer (`kube.api.Kube`) with a resource held in a variable (the desired
objects, the informers' kinds), so its needs are taken from runs: each scenario drives the real
controller, or `tronador certs sync`, or the webhook's policy watch, against the emulated API
server, and every request it answers becomes a `Request`. For the controller, each call of a
`Kube` method is also traced to its call site, so a test can demand that every call site in the
code ran in some scenario (an unexercised site could need a permission nobody saw).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from controller.caches import EXPOSURE_KINDS
from tests.apiserver import EmulatedAPIServer
from tests.apiserver import Resource as EmulatedResource
from tests.manifests.apicalls import Permission

Obj = dict[str, Any]

KUBE_METHODS = ("get", "list", "watch", "create", "replace", "patch", "apply", "delete")
"""The public request methods of `kube.api.Kube`."""


@dataclass(frozen=True, order=True)
class Request:
    """One request the API server answered, as the RBAC authorizer sees it."""

    permission: Permission
    namespace: str
    """"" for cluster-scoped requests (and lists across all namespaces)."""
    name: str
    """"" when the request names no object (list, watch and create without a field selector)."""


def recorded(server: EmulatedAPIServer) -> set[Request]:
    out = set()
    for r in server.requests:
        if not r.plural or r.api_version is None:
            continue
        group = r.api_version.rpartition("/")[0]
        resource = f"{r.plural}/{r.subresource}" if r.subresource else r.plural
        name = r.name or ""
        selector = r.query.get("fieldSelector", "")
        if not name and r.verb in ("list", "watch") and selector.startswith("metadata.name="):
            # the authorizer sees the name of a list/watch narrowed to one object
            name = selector.partition("=")[2].partition(",")[0]
        out.add(Request(Permission(group, resource, r.verb), r.namespace or "", name))
        if r.verb == "patch" and r.status == 201:
            # A server-side apply that creates the object: the real API server authorizes it
            # as a `create` too (the realapi lane's controller test is refused without it).
            out.add(Request(Permission(group, resource, "create"), r.namespace or "", name))
    return out


# --- call sites of the controller's REST layer ---------------------------------------------------


@dataclass(frozen=True, order=True)
class Site:
    module: str
    function: str
    method: str

    def __str__(self) -> str:
        return f"{self.module}.{self.function} -> Kube.{self.method}"


@contextlib.contextmanager
def traced_kube() -> Iterator[set[Site]]:
    """Record, while active, every call site of a `Kube` request method."""
    from kube.api import Kube

    sites: set[Site] = set()
    lock = threading.Lock()
    originals = {m: getattr(Kube, m) for m in KUBE_METHODS}

    def wrap(method: str, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def traced(*args: Any, **kwargs: Any) -> Any:
            frame = sys._getframe(1)
            site = Site(frame.f_globals.get("__name__", "?"), frame.f_code.co_name, method)
            with lock:
                sites.add(site)
            return original(*args, **kwargs)

        return traced

    for method, original in originals.items():
        setattr(Kube, method, wrap(method, original))
    try:
        yield sites
    finally:
        for method, original in originals.items():
            setattr(Kube, method, original)


# --- scenarios -----------------------------------------------------------------------------------


@functools.cache
def controller_scenarios() -> tuple[set[Request], set[Site]]:
    """Every request of the controller's life cycles, in both release flavours: provision with
    release values from another namespace, a failed then a successful release, a changed secret
    value, a new image tag, a secret that changes type, a repository that loses its pull
    secret, deletion; and a left-behind namespace whose default ServiceAccount is adopted; a
    Secret someone else created, which the EP's apply merges into and takes back; an
    Environment's life cycle beside an EP; and both kinds expiring."""
    from controller.settings import ReleaseFlavour

    requests: set[Request] = set()
    with traced_kube() as sites:
        for flavour in (ReleaseFlavour.FLUX_V2, ReleaseFlavour.LEGACY):
            with _cluster() as cluster:
                _life_cycle(cluster, flavour)
                requests |= recorded(cluster.server)
        for scenario in (_adoption, _foreign_secret, _environment_life_cycle, _expiry):
            with _cluster() as cluster:
                scenario(cluster)
                requests |= recorded(cluster.server)
    return requests, sites


def _config_patch(cluster: Any, patch: Obj) -> None:
    from tests.controller.harness import EP_API, SYSTEM_NS

    cluster.server.patch(EP_API, "tronadorconfigs", "tronador-config", SYSTEM_NS, patch)


def _life_cycle(cluster: Any, flavour: Any) -> None:
    from tests.controller.harness import EP_API, EP_NAME, NS, settings

    def secret(name: str) -> Obj | None:
        return cluster.server.get("v1", "secrets", name, NS)  # type: ignore[no-any-return]

    def release() -> Obj:
        return cluster.release(flavour) or {}  # type: ignore[no-any-return]

    cluster.seed_config(
        lambda config: config["spec"]["policy"].update(valuesFromNamespaces=["platform"])
    )
    cluster.server.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "platform"}})
    cluster.server.seed(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "common-values", "namespace": "platform"},
            "data": {"values.yaml": "replicas: 1\n"},
        }
    )
    values_from = [{"configMapKeyRef": {"name": "common-values", "namespace": "platform"}}]
    cluster.create_ep(
        lambda ep: ep["spec"]["application"]["release"].update(valuesFrom=values_from)
    )
    cluster.start(settings(flavour))
    cluster.wait(release)
    cluster.play_flux(flavour, success=False)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "failed")
    cluster.play_flux(flavour)
    cluster.wait(lambda: cluster.status().get("applicationStatus") == "deployed")

    config = cluster.server.get(EP_API, "tronadorconfigs", "tronador-config", "tronador-system")
    items = config["spec"]["secrets"]
    items[0]["stringData"]["password"] = "changed"  # same type: the Secret is updated
    _config_patch(cluster, {"spec": {"secrets": items}})
    cluster.wait(
        lambda: (
            (secret("nordmart-git-auth") or {}).get("data", {}).get("password") == "Y2hhbmdlZA=="
        )
    )
    items[0]["type"] = "Opaque"  # a new type: the Secret is deleted and created again
    _config_patch(cluster, {"spec": {"secrets": items}})
    cluster.wait(lambda: (secret("nordmart-git-auth") or {}).get("type") == "Opaque")

    # the common values change, then a new image tag: the copy and the release are updated
    cluster.server.patch(
        "v1", "configmaps", "common-values", "platform", {"data": {"values.yaml": "replicas: 2\n"}}
    )
    generation = release()["metadata"].get("generation")
    image = {"application": {"deployment": {"image": {"tag": "SNAPSHOT-PR-74-new"}}}}
    ep_patch: Obj = {"spec": {"application": {"release": {"values": image}}}}
    cluster.server.patch(EP_API, "environmentprovisioners", EP_NAME, None, ep_patch)
    cluster.wait(lambda: release()["metadata"].get("generation") != generation)
    # the values from elsewhere are dropped: their copy goes
    ep_patch = {"spec": {"application": {"release": {"valuesFrom": None}}}}
    cluster.server.patch(EP_API, "environmentprovisioners", EP_NAME, None, ep_patch)
    cluster.wait(lambda: not cluster.server.list("v1", "configmaps", NS))

    # another git secret and no pull secret: the source's secret changes, two Secrets go, and
    # the pull secret's reference leaves the default ServiceAccount
    mapping = [
        {
            "repos": ["github.com/stakater-lab/stakater-nordmart-inventory"],
            "authSecret": "org-git-auth",
        }
    ]
    # (the pull secret's item leaves the config too: an item nothing names goes everywhere)
    from tests.controller.helpers import seed_config_dict

    items = [
        item
        for item in seed_config_dict()["spec"]["secrets"]
        if item["metadata"]["name"] != "nexus-pull-secret"
    ]
    patch = {"spec": {"mappings": mapping, "orgLevelSecrets": None, "secrets": items}}
    _config_patch(cluster, patch)
    cluster.wait(lambda: secret("nexus-pull-secret") is None and secret("org-git-auth"))

    if flavour.value == "flux-v2":
        # another ClusterRole for confined releases: the RoleBinding's roleRef cannot change,
        # so it is deleted and created again
        _config_patch(cluster, {"spec": {"policy": {"release": {"clusterRole": "edit"}}}})

        def role_ref() -> str | None:
            binding = cluster.server.get(
                "rbac.authorization.k8s.io/v1", "rolebindings", "tronador-release", NS
            )
            return ((binding or {}).get("roleRef") or {}).get("name")

        cluster.wait(lambda: role_ref() == "edit")

    cluster.server.delete(EP_API, "environmentprovisioners", EP_NAME)
    cluster.wait(lambda: cluster.ep() is None)


def _environment_life_cycle(cluster: Any) -> None:
    from tests.controller.environments import (
        create_environment,
        delete_environment,
        env_release,
        env_status,
        environment,
        play_flux_for_environment,
    )
    from tests.controller.harness import settings

    cluster.seed_config()
    cluster.create_ep()
    create_environment(cluster)
    cluster.start(settings())
    cluster.wait(lambda: env_release(cluster))
    play_flux_for_environment(cluster)
    cluster.wait(lambda: env_status(cluster).get("applicationStatus") == "deployed")
    delete_environment(cluster)
    cluster.wait(lambda: environment(cluster) is None)


def _expiry(cluster: Any) -> None:
    from tests.controller.environments import create_environment, environment
    from tests.controller.harness import settings

    def expiring(obj: Obj) -> None:
        obj["metadata"].setdefault("annotations", {})["tronador.stakater.com/ttl"] = "1s"

    cluster.seed_config()
    cluster.create_ep(expiring)
    create_environment(cluster, expiring)
    cluster.start(settings())
    cluster.wait(lambda: cluster.ep() is None and environment(cluster) is None, timeout=15)


def _adoption(cluster: Any) -> None:
    from tests.controller.harness import NS, settings

    cluster.seed_config()
    cluster.seed_namespace_of(cluster.create_ep())
    cluster.server.seed(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": NS},
            "imagePullSecrets": [{"name": "theirs"}],
        }
    )
    cluster.start(settings())

    def pull_secrets() -> list[Obj]:
        account = cluster.server.get("v1", "serviceaccounts", "default", NS) or {}
        return account.get("imagePullSecrets", [])  # type: ignore[no-any-return]

    cluster.wait(lambda: len(pull_secrets()) == 2)


def _foreign_secret(cluster: Any) -> None:
    from tests.controller.harness import NS, settings

    cluster.seed_config()
    cluster.seed_namespace_of(cluster.create_ep())
    theirs = {"name": "nordmart-git-auth", "namespace": NS, "labels": {"owner": "ops"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth"}
    cluster.server.apply({**secret, "metadata": theirs}, "ops")
    cluster.start(settings())
    cluster.wait(lambda: cluster.condition("SecretsReady").get("reason") == "SecretConflict")


@contextlib.contextmanager
def _cluster() -> Iterator[Any]:
    from tests.controller.harness import Cluster

    # Served, as on a cluster with the Gateway API and OpenShift: the controller watches them.
    exposure = [
        EmulatedResource(r.api_version, r.kind, r.plural, namespaced=True, custom=r.group != "")
        for r in EXPOSURE_KINDS
        if r.group != "networking.k8s.io"  # Ingress: built in, served by default
    ]
    server = EmulatedAPIServer(extra_resources=exposure).start()
    cluster = Cluster(server)
    try:
        yield cluster
    finally:
        cluster.stop_all()
        server.stop()


def certs_scenario(webhook_configurations: list[Obj], namespace: str) -> set[Request]:
    """`tronador certs sync` as the init container runs it, twice (create, then keep), with the
    rendered webhook configurations in the cluster; then `tronador certs status`."""
    from certs import cli
    from tronador.cli import build_parser

    with _server() as server:
        server.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        for config in webhook_configurations:
            server.seed(config)
        client = server.api_client()
        try:
            for argv in (["certs", "sync"], ["certs", "sync"], ["certs", "status"]):
                args = build_parser().parse_args([*argv, "--namespace", namespace])
                with contextlib.redirect_stdout(None):
                    assert cli.run(args, api_client=client) in (0, 3), argv
        finally:
            client.close()
        return recorded(server)


def webhook_policy_scenario(namespace: str) -> set[Request]:
    """The webhook's policy source: the first list, then a watch that sees a change."""
    from kube.api import Kube
    from tronador.api.constants import API_VERSION, CONFIG_KIND, CONFIG_NAME
    from webhook.policy_watch import KubernetesPolicySource

    with _server() as server:
        server.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        api_client = server.api_client()
        source = KubernetesPolicySource(Kube(api_client), namespace, watch_timeout_seconds=1)
        try:
            source.start()
            server.wait_for(lambda: source.synced)
            server.seed(
                {
                    "apiVersion": API_VERSION,
                    "kind": CONFIG_KIND,
                    "metadata": {"name": CONFIG_NAME, "namespace": namespace},
                    "spec": {},
                }
            )
            server.wait_for(lambda: source.policy is not None)
        finally:
            source.stop()
            api_client.close()
        return recorded(server)


@functools.cache
def webhook_scenarios() -> tuple[set[Request], set[Site]]:
    """The webhook's `Kube` calls (its policy informer's list and watch) in the namespace the
    manifests install it into."""
    from tronador.api.constants import DEFAULT_SYSTEM_NAMESPACE

    with traced_kube() as sites:
        requests = webhook_policy_scenario(DEFAULT_SYSTEM_NAMESPACE)
    return requests, sites


@contextlib.contextmanager
def _server() -> Iterator[EmulatedAPIServer]:
    server = EmulatedAPIServer().start()
    try:
        yield server
    finally:
        server.stop()


def election_scenario(config: Any) -> set[Request]:
    """The controller's leader election with `config` (a `LeaderElectionConfig`, timings
    shortened): acquire the Lease, renew it, release it on stop."""
    import dataclasses

    from controller.leaderelection import LeaderElector

    fast = dataclasses.replace(config, lease_duration=2.0, renew_deadline=1.0, retry_period=0.05)
    with _server() as server:
        server.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": fast.namespace}})
        api_client = server.api_client()
        elector = LeaderElector.for_kubernetes(api_client, fast.validated())
        try:
            elector.start()
            server.wait_for(elector.is_leader)
            server.wait_for(lambda: elector.status().renewals > 0)
        finally:
            elector.stop(5)
            api_client.close()
        return recorded(server)
