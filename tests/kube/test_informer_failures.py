"""A kind the server keeps refusing is said once, not on every retry (issue 30: a forbidden
kind logged a warning every few seconds)."""

from __future__ import annotations

import logging
import time

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


def test_a_refused_list_backs_off_further_until_someone_nudges_it() -> None:
    """A 403/404 waits out the long backoff (an admin must act first); `nudge` retries it at
    once when the last attempt is old enough, so an environment that needs the kind notices a
    grant without waiting minutes."""
    with EmulatedAPIServer() as server:
        fault = server.faults.add(
            Fault(method="GET", path_regex=r"/secrets", status=403, times=None)
        )
        api = server.api_client()
        informer = Informer(
            Kube(api),
            SECRETS,
            backoff=Backoff(base=0.01, maximum=0.02),
            refused_backoff=Backoff(base=600.0, maximum=600.0),
        )
        informer.start()
        try:
            server.wait_for(lambda: fault.fired == 1, timeout=30)
            informer.nudge(at_most_every=600.0)  # the attempt is too recent: no retry
            time.sleep(0.3)
            assert fault.fired == 1 and not informer.synced
            server.faults.clear()
            informer.nudge(at_most_every=0.0)
            server.wait_for(lambda: informer.synced, timeout=30)
            assert fault.fired == 1
        finally:
            informer.stop()
            informer.join(5)
            api.close()
