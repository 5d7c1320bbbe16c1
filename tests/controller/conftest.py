from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.apiserver import EmulatedAPIServer
from tests.controller.harness import Cluster


@pytest.fixture
def cluster(apiserver: EmulatedAPIServer) -> Iterator[Cluster]:
    cluster = Cluster(apiserver)
    try:
        yield cluster
    finally:
        cluster.stop_all()
