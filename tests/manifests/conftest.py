"""Rendered manifests for the tests: a fresh copy per test, so a test may break it."""

from __future__ import annotations

import pytest

from tests.manifests.render import BASE, CERT_MANAGER_OVERLAY, Obj, need_kubectl, render


@pytest.fixture
def base() -> list[Obj]:
    need_kubectl()
    return render(BASE)


@pytest.fixture
def cert_manager() -> list[Obj]:
    need_kubectl()
    return render(CERT_MANAGER_OVERLAY)


@pytest.fixture(params=["base", "cert-manager"])
def variant(request: pytest.FixtureRequest) -> list[Obj]:
    """Each installable variant in turn."""
    need_kubectl()
    return render(BASE if request.param == "base" else CERT_MANAGER_OVERLAY)
