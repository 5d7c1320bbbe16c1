"""Building a `kubernetes` API client: in-cluster service account first, then kubeconfig."""

from __future__ import annotations

import copy

from kubernetes import client, config


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
    try:
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except (config.ConfigException, OSError) as exc:
        raise NoCluster(str(exc)) from None
    return client.ApiClient(configuration)


def pooled(api_client: client.ApiClient, size: int) -> client.ApiClient | None:
    """A client like `api_client` whose connection pool fits `size` concurrent requests (each
    watch holds a connection), or None when `api_client`'s already does."""
    configuration = api_client.configuration
    if (configuration.connection_pool_maxsize or 0) >= size:
        return None
    configuration = copy.deepcopy(configuration)
    configuration.connection_pool_maxsize = size
    return client.ApiClient(configuration)
