"""Where the webhook's expiry and policy-sync gauges get their values: the CA that issued the
serving certificate, and the last time a policy source confirmed its policy."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from cryptography import x509

from certs.pki import bundle_to_pem, generate_ca
from tests.webhook.helpers import seed_config
from tests.webhook.pki import issue_serving_pair, make_ca
from webhook.policy_file import FilePolicySource
from webhook.policy_source import PolicyHolder
from webhook.tls import issuer_not_after, load_serving_certificate


def test_the_ca_expiry_is_the_issuers_even_in_a_rotation_bundle(tmp_path: Path) -> None:
    issuer, stranger = make_ca("tronador CA"), make_ca("someone else")
    successor = generate_ca(datetime.now(UTC), timedelta(days=30), "tronador CA")  # same name
    pair = issue_serving_pair(issuer)
    (tmp_path / "tls.crt").write_bytes(pair.cert_pem)
    (tmp_path / "tls.key").write_bytes(pair.key_pem)
    bundle = tmp_path / "ca.crt"
    bundle.write_bytes(bundle_to_pem([stranger.cert, successor.cert, issuer.cert]))

    loaded = load_serving_certificate(tmp_path / "tls.crt", tmp_path / "tls.key")

    assert loaded.ca_not_after == issuer.cert.not_valid_after_utc
    assert successor.cert.not_valid_after_utc > issuer.cert.not_valid_after_utc
    leaf = x509.load_pem_x509_certificate(pair.cert_pem)
    assert issuer_not_after(leaf, bundle) == issuer.cert.not_valid_after_utc
    bundle.write_bytes(bundle_to_pem([stranger.cert]))
    assert load_serving_certificate(tmp_path / "tls.crt", tmp_path / "tls.key").ca_not_after is None
    bundle.unlink()
    assert issuer_not_after(leaf, bundle) is None


def test_an_invalid_config_stops_the_policy_sync_clock() -> None:
    holder = PolicyHolder("tronador-system", "test")
    assert holder.last_sync is None
    holder.apply(seed_config())
    first = holder.last_sync
    assert first is not None and first <= time.time()
    holder.confirm()
    assert holder.last_sync is not None and holder.last_sync >= first

    broken = seed_config()
    broken["metadata"]["name"] = "not-the-singleton"
    assert holder.apply(broken) is False
    stuck = holder.last_sync
    holder.confirm()
    assert holder.last_sync == stuck  # the cluster's config is not the one in force

    assert holder.apply(None) is True
    assert holder.last_sync is not None and stuck is not None and holder.last_sync >= stuck


def test_a_file_source_confirms_its_policy_on_every_unchanged_check(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(seed_config()))
    source = FilePolicySource(path)
    source.load()
    loaded = source.last_sync
    assert loaded is not None
    time.sleep(0.01)
    source.reload_if_changed()
    assert source.last_sync is not None and source.last_sync > loaded
    path.write_text("spec: [not a config")
    source.reload_if_changed()
    broken = source.last_sync
    time.sleep(0.01)
    source.reload_if_changed()
    assert source.last_sync == broken
    path.write_text(yaml.safe_dump(seed_config()))
    source.reload_if_changed()
    assert source.last_sync is not None and broken is not None and source.last_sync > broken
