"""A kind the server keeps refusing is said once, not on every retry (issue 30: a forbidden
kind logged a warning every few seconds)."""

from __future__ import annotations

import logging

import pytest

from kube.api import Kube
from kube.backoff import Backoff
from kube.informer import Informer
from kube.resources import SECRETS
from tests.apiserver import EmulatedAPIServer, Fault


def test_a_refused_list_is_warned_once_per_change_of_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with EmulatedAPIServer() as server:
        fault = server.faults.add(
            Fault(method="GET", path_regex=r"/secrets", status=403, times=None)
        )
        api = server.api_client()
        informer = Informer(Kube(api), SECRETS, backoff=Backoff(base=0.01, maximum=0.02))
        with caplog.at_level(logging.DEBUG, logger="kube.informer"):
            informer.start()
            try:
                server.wait_for(lambda: fault.fired >= 5, timeout=30)
                server.faults.clear()
                server.wait_for(lambda: informer.synced, timeout=30)
            finally:
                informer.stop()
                informer.join(5)
                api.close()
    refused = [r for r in caplog.records if r.getMessage() == "list/watch failed; retrying"]
    assert len(refused) >= 5
    assert [r.levelno for r in refused].count(logging.WARNING) == 1
