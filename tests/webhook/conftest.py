from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.webhook.helpers import EXAMPLES, RunningWebhook, StaticPolicySource, running_webhook
from tests.webhook.pki import CertificateAuthority, install_pair, issue_serving_pair, make_ca
from tronador.api import Policy
from tronador.config_loading import load_policy


@dataclass(frozen=True)
class TLSFiles:
    ca: CertificateAuthority
    cert: Path
    key: Path
    serial_number: int


@pytest.fixture(scope="session")
def test_ca() -> CertificateAuthority:
    return make_ca()


@pytest.fixture
def tls_files(tmp_path: Path, test_ca: CertificateAuthority) -> TLSFiles:
    pair = issue_serving_pair(test_ca)
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    install_pair(pair, cert, key)
    (tmp_path / "ca.crt").write_bytes(test_ca.cert_pem)
    return TLSFiles(test_ca, cert, key, pair.serial_number)


@pytest.fixture(scope="session")
def seed_policy() -> Policy:
    return load_policy(EXAMPLES / "tronador-config.yaml")


@pytest.fixture
async def webhook(tls_files: TLSFiles, seed_policy: Policy) -> AsyncIterator[RunningWebhook]:
    """The webhook under the example TronadorConfig's policy."""
    async with running_webhook(
        StaticPolicySource(seed_policy), tls_files.cert, tls_files.key, tls_files.ca
    ) as running:
        yield running
