"""Building a `kubernetes` API client: in-cluster service account first, then kubeconfig."""

from __future__ import annotations

from kubernetes import client, config


def load_api_client(kubeconfig: str | None = None, context: str | None = None) -> client.ApiClient:
    """Return an ApiClient for the cluster this process runs in, or the kubeconfig's context."""
    configuration = client.Configuration()
    if kubeconfig is None and context is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except config.ConfigException:
            pass
    config.load_kube_config(
        config_file=kubeconfig, context=context, client_configuration=configuration
    )
    return client.ApiClient(configuration)
