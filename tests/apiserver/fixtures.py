"""pytest fixtures: a fresh emulated API server per test, and a client bound to it."""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes.client
import pytest

from tests.apiserver.server import EmulatedAPIServer


@pytest.fixture
def apiserver() -> Iterator[EmulatedAPIServer]:
    server = EmulatedAPIServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def k8s_client(apiserver: EmulatedAPIServer) -> Iterator[kubernetes.client.ApiClient]:
    client = apiserver.api_client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def core(k8s_client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(k8s_client)


@pytest.fixture
def custom(k8s_client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(k8s_client)
