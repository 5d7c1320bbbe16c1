from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs import files, pki
from certs.pki import ServingSpec
from tests.certs.helpers import T0, https_get

SPEC = ServingSpec("tronador-webhook", "tronador-system", ("webhook.example.test",), ("127.0.0.1",))


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.generate_ca(T0)


@pytest.fixture(scope="module")
def leaf(ca: pki.Issued) -> pki.Issued:
    return pki.issue_serving_cert(ca, SPEC, T0)


def test_service_names() -> None:
    assert pki.service_dns_names("svc", "ns") == [
        "svc",
        "svc.ns",
        "svc.ns.svc",
        "svc.ns.svc.cluster.local",
    ]


def test_ca_is_a_self_signed_p256_ca_for_ten_years(ca: pki.Issued) -> None:
    cert = ca.cert
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey)
    assert isinstance(ca.key.curve, ec.SECP256R1)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert pki.is_signed_by(cert, cert)
    assert cert.not_valid_after_utc == T0 + timedelta(days=3650)
    assert cert.not_valid_before_utc <= T0


def test_leaf_chains_to_ca_and_has_serving_extensions(ca: pki.Issued, leaf: pki.Issued) -> None:
    cert = leaf.cert
    cert.verify_directly_issued_by(ca.cert)  # signature and issuer name
    assert pki.key_matches(cert, leaf.key)
    assert not pki.key_matches(cert, ca.key)
    assert isinstance(leaf.key, ec.EllipticCurvePrivateKey)
    assert isinstance(leaf.key.curve, ec.SECP256R1)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert pki.dns_sans(cert) == [
        "tronador-webhook",
        "tronador-webhook.tronador-system",
        "tronador-webhook.tronador-system.svc",
        "tronador-webhook.tronador-system.svc.cluster.local",
        "webhook.example.test",
    ]
    assert pki.ip_sans(cert) == [ipaddress.ip_address("127.0.0.1")]
    assert cert.not_valid_after_utc == T0 + timedelta(days=365)
    assert pki.leaf_problem(cert, leaf.key, ca.cert, SPEC, T0) is None


def test_leaf_never_outlives_its_ca() -> None:
    short_ca = pki.generate_ca(T0, timedelta(days=30))
    leaf = pki.issue_serving_cert(short_ca, SPEC, T0, timedelta(days=365))
    assert leaf.cert.not_valid_after_utc == short_ca.cert.not_valid_after_utc


def test_leaf_problems(ca: pki.Issued, leaf: pki.Issued) -> None:
    other_ca = pki.generate_ca(T0)
    other_leaf = pki.issue_serving_cert(other_ca, SPEC, T0)
    assert "does not match" in pki.leaf_problem(leaf.cert, other_leaf.key, ca.cert, SPEC, T0)
    assert "not signed by" in pki.leaf_problem(leaf.cert, leaf.key, other_ca.cert, SPEC, T0)
    wider = ServingSpec(SPEC.service, SPEC.namespace, ("other.test",), ("10.0.0.1",))
    problem = pki.leaf_problem(leaf.cert, leaf.key, ca.cert, wider, T0)
    assert "other.test" in problem and "10.0.0.1" in problem
    later = T0 + timedelta(days=366)
    assert "expired" in pki.leaf_problem(leaf.cert, leaf.key, ca.cert, SPEC, later)
    earlier = T0 - timedelta(days=1)
    assert "not valid before" in pki.leaf_problem(leaf.cert, leaf.key, ca.cert, SPEC, earlier)


def test_rotation_points(ca: pki.Issued, leaf: pki.Issued) -> None:
    due = pki.rotate_at(leaf.cert, 2 / 3)
    assert T0 + timedelta(days=243) < due < T0 + timedelta(days=244)
    problem = pki.leaf_problem(
        leaf.cert, leaf.key, ca.cert, SPEC, due - timedelta(seconds=1), 2 / 3
    )
    assert problem is None
    problem = pki.leaf_problem(leaf.cert, leaf.key, ca.cert, SPEC, due, 2 / 3)
    assert "rotation point" in problem
    assert not pki.ca_rotation_due(ca.cert, T0 + timedelta(days=2400), 2 / 3)
    assert pki.ca_rotation_due(ca.cert, T0 + timedelta(days=2440), 2 / 3)


def test_ca_problems(ca: pki.Issued, leaf: pki.Issued) -> None:
    assert pki.ca_problem(ca, T0) is None
    assert "expired" in pki.ca_problem(ca, T0 + timedelta(days=3651))
    assert "does not match" in pki.ca_problem(pki.Issued(ca.cert, leaf.key), T0)
    assert "not a CA" in pki.ca_problem(leaf, T0)


def test_parsing_errors_do_not_leak_and_are_typed() -> None:
    with pytest.raises(pki.MaterialError):
        pki.load_certs(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(pki.MaterialError):
        pki.load_certs(b"")
    with pytest.raises(pki.MaterialError) as err:
        pki.load_key(b"-----BEGIN PRIVATE KEY-----\nTUlJQ1Nl\n-----END PRIVATE KEY-----\n")
    assert "TUlJQ1Nl" not in str(err.value)


def test_pem_round_trip(ca: pki.Issued, leaf: pki.Issued) -> None:
    bundle = pki.bundle_to_pem([ca.cert, leaf.cert])
    assert pki.load_certs(bundle) == [ca.cert, leaf.cert]
    assert pki.key_matches(leaf.cert, pki.load_key(leaf.key_pem))


@pytest.fixture(scope="module")
def live() -> tuple[pki.Issued, pki.Issued]:
    """Material valid right now: a TLS handshake checks against the real clock."""
    now = datetime.now(UTC)
    ca = pki.generate_ca(now)
    return ca, pki.issue_serving_cert(ca, SPEC, now)


def _write(tmp_path: Path, live: tuple[pki.Issued, pki.Issued]) -> tuple[pki.Issued, pki.Issued]:
    ca, leaf = live
    files.write(tmp_path, files.CertFiles(ca.cert_pem, leaf.cert_pem, leaf.key_pem))
    return ca, leaf


async def test_real_tls_handshake_by_ip_san(
    tmp_path: Path, live: tuple[pki.Issued, pki.Issued]
) -> None:
    _write(tmp_path, live)
    ca_pem = (tmp_path / "ca.crt").read_bytes()
    body = await https_get(tmp_path / "tls.crt", tmp_path / "tls.key", ca_pem)
    assert body == "hello over tls"


async def test_real_tls_handshake_by_service_dns_name(
    tmp_path: Path, live: tuple[pki.Issued, pki.Issued]
) -> None:
    _write(tmp_path, live)
    ca_pem = (tmp_path / "ca.crt").read_bytes()
    body = await https_get(
        tmp_path / "tls.crt",
        tmp_path / "tls.key",
        ca_pem,
        server_hostname="tronador-webhook.tronador-system.svc",
    )
    assert body == "hello over tls"


async def test_tls_handshake_fails_with_another_ca_or_wrong_name(
    tmp_path: Path, live: tuple[pki.Issued, pki.Issued]
) -> None:
    ca, _ = _write(tmp_path, live)
    stranger = pki.generate_ca(datetime.now(UTC))
    with pytest.raises(aiohttp.ClientConnectorCertificateError) as err:
        await https_get(tmp_path / "tls.crt", tmp_path / "tls.key", stranger.cert_pem)
    assert "unable to get local issuer certificate" in str(err.value)
    with pytest.raises(aiohttp.ClientConnectorCertificateError) as err:
        await https_get(
            tmp_path / "tls.crt", tmp_path / "tls.key", ca.cert_pem, server_hostname="evil.test"
        )
    assert "Hostname mismatch" in str(err.value)
