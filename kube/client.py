"""Building a `kubernetes` API client: in-cluster service account first, then kubeconfig."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from kubernetes import client, config

from tronador.yamlio import DocumentError, load_one, read_text


class NoCluster(Exception):
    """No usable credentials: not in a cluster, and no (or a broken) kubeconfig."""


def load_api_client(kubeconfig: str | None = None, context: str | None = None) -> client.ApiClient:
    """Return an ApiClient for the cluster this process runs in, or the kubeconfig's context.
    Raises `NoCluster` with a one-line reason."""
    configuration = client.Configuration()
    if kubeconfig is None and context is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except config.ConfigException:
            pass
    for path in _kubeconfig_files(kubeconfig):
        _check_readable(path)
    try:
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except (config.ConfigException, OSError) as exc:
        raise NoCluster(_one_line(str(exc))) from None
    except Exception as exc:  # the library's own parsing fails on malformed structure
        raise NoCluster(f"the kubeconfig is malformed ({type(exc).__name__})") from None
    return client.ApiClient(configuration)


def _kubeconfig_files(kubeconfig: str | None) -> list[str]:
    if kubeconfig is not None:
        return [kubeconfig]
    listed = os.environ.get("KUBECONFIG", "")
    if listed:
        return [p for p in listed.split(os.pathsep) if p and Path(p).exists()]
    default = Path.home() / ".kube" / "config"
    return [str(default)] if default.exists() else []


def _check_readable(path: str) -> None:
    """The kubeconfig is read by the `kubernetes` library, which bounds nothing: an alias bomb
    or a 5 GB file would take the process. Read it first within Tronador's bounds."""
    try:
        document = load_one(*read_text(path))
    except DocumentError as exc:
        raise NoCluster(f"kubeconfig {exc}") from None
    if not isinstance(document, dict):
        raise NoCluster(f"kubeconfig {path}: not a kubeconfig (expected a mapping)")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def kube_client(
    api_client: client.ApiClient | None, kubeconfig: str | None, context: str | None
) -> client.ApiClient:
    """`api_client` when given (tests, embedding), else one for the cluster this process runs
    in or the kubeconfig's context; `NoCluster` with a one-line reason."""
    return api_client if api_client is not None else load_api_client(kubeconfig, context)


def pooled(api_client: client.ApiClient, size: int) -> client.ApiClient | None:
    """A client like `api_client` whose connection pool fits `size` concurrent requests (each
    watch holds a connection), or None when `api_client`'s already does."""
    configuration = api_client.configuration
    if (configuration.connection_pool_maxsize or 0) >= size:
        return None
    configuration = copy.deepcopy(configuration)
    configuration.connection_pool_maxsize = size
    return client.ApiClient(configuration)
