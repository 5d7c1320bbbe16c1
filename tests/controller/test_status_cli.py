"""`tronador status` against a controller provisioning an EP (emulated API server, playing
Flux): ready is exit 0, a failed release exit 1 with its reason on one line, a timeout exit 1
saying what it waited for, an unknown name exit 2."""

from __future__ import annotations

import argparse
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller import status_cli
from controller.settings import ReleaseFlavour
from tests.controller.harness import EP_NAME, Cluster, settings

FLUX = ReleaseFlavour.FLUX_V2
APP = "https://github.com/stakater-lab/stakater-nordmart-inventory"


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    status_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def client(cluster: Cluster) -> Iterator[Any]:
    api = cluster.server.api_client()
    try:
        yield api
    finally:
        api.close()


def _run(client: Any, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = status_cli.run(_args(*argv), api_client=client, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _in_background(client: Any, *argv: str) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def target() -> None:
        result["value"] = _run(client, *argv)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, result


def test_wait_returns_0_once_the_release_is_ready(
    cluster: Cluster, client: Any, tmp_path: Path
) -> None:
    cluster.seed_config()
    cluster.create_ep()
    cluster.start(settings(FLUX))
    results = ("--url-file", str(tmp_path / "url"), "--phase-file", str(tmp_path / "phase"))
    thread, result = _in_background(
        client, "--repo-url", APP, "--pr", "74", "--wait", "--timeout", "60", "-o", "json", *results
    )
    cluster.wait(lambda: cluster.release(FLUX))
    cluster.play_flux(FLUX)
    thread.join(60)
    code, out, err = result["value"]
    assert code == 0, err
    state = json.loads(out)
    assert (state["name"], state["outcome"]) == (EP_NAME, "ready")
    assert err == ""
    assert (tmp_path / "phase").read_text() == state["phase"] != ""  # the Tekton results
    assert (tmp_path / "url").read_text() == ""  # no URL reported yet


def test_wait_returns_1_with_the_reason_when_the_release_fails(
    cluster: Cluster, client: Any
) -> None:
    cluster.seed_config()
    cluster.create_ep()
    cluster.start(settings(FLUX))
    thread, result = _in_background(client, EP_NAME, "--wait", "--timeout", "60")
    cluster.wait(lambda: cluster.release(FLUX))
    cluster.play_flux(FLUX, success=False)
    thread.join(60)
    code, out, err = result["value"]
    assert code == 1
    assert out.startswith(f"EnvironmentProvisioner/{EP_NAME}: failed")
    assert err.count("\n") == 1 and f"{EP_NAME} failed: " in err


def test_wait_gives_up_at_the_timeout_saying_what_it_waited_for(
    cluster: Cluster, client: Any
) -> None:
    cluster.seed_config()
    cluster.create_ep()
    cluster.start(settings(FLUX))
    cluster.wait(lambda: cluster.release(FLUX))  # Flux never reports
    code, out, err = _run(client, EP_NAME, "--wait", "--timeout", "1")
    assert code == 1
    assert "gave up after 1s waiting for EnvironmentProvisioner/" in err
    assert "  ReleaseReady=Unknown Progressing" in out


def test_an_environment_that_is_not_there_is_exit_2_without_wait(
    cluster: Cluster, client: Any
) -> None:
    code, _, err = _run(client, "nope-1")
    assert code == 2
    assert (
        err
        == "tronador status: error: there is no EnvironmentProvisioner 'nope-1' in the cluster\n"
    )


def test_a_name_and_a_repository_together_are_unusable_input(client: Any) -> None:
    code, _, err = _run(client, EP_NAME, "--repo-url", APP, "--pr", "74")
    assert (code, err.count("\n")) == (2, 1)
