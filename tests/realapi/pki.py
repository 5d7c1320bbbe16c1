"""Certificates of a loopback control plane: the cluster CA and the API server's serving cert
come from the project's own `certs.pki`; client certificates (admin, controller manager,
front proxy) are added here because `certs.pki` issues serving certificates only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.pki import BACKDATE, Issued, ServingSpec, generate_ca, issue_serving_cert

LIFETIME = timedelta(days=1)


def issue_client_cert(ca: Issued, user: str, groups: tuple[str, ...] = ()) -> Issued:
    """A client certificate: CN is the user name, O the groups (as kube-apiserver reads them)."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ControlPlanePKI:
    """Paths of the PEM files the control-plane processes and the clients read."""

    ca: Path
    serving: KeyPair
    admin: KeyPair
    controller_manager: KeyPair
    front_proxy_ca: Path
    front_proxy_client: KeyPair
    service_account_public: Path
    service_account_private: Path


def _write(folder: Path, name: str, issued: Issued) -> KeyPair:
    pair = KeyPair(folder / f"{name}.crt", folder / f"{name}.key")
    pair.cert.write_bytes(issued.cert_pem)
    pair.key.write_bytes(issued.key_pem)
    pair.key.chmod(0o600)
    return pair


def write_pki(folder: Path) -> ControlPlanePKI:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca = generate_ca(now, LIFETIME, "tronador-envtest-ca")
    front_proxy = generate_ca(now, LIFETIME, "tronador-envtest-front-proxy-ca")
    spec = ServingSpec("kubernetes", "default", ("localhost",), ("127.0.0.1",))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pki = ControlPlanePKI(
        ca=folder / "ca.crt",
        serving=_write(folder, "apiserver", issue_serving_cert(ca, spec, now, LIFETIME)),
        admin=_write(folder, "admin", issue_client_cert(ca, "admin", ("system:masters",))),
        controller_manager=_write(
            folder, "controller-manager", issue_client_cert(ca, "system:kube-controller-manager")
        ),
        front_proxy_ca=folder / "front-proxy-ca.crt",
        front_proxy_client=_write(
            folder, "front-proxy-client", issue_client_cert(front_proxy, "front-proxy-client")
        ),
        service_account_public=folder / "sa.pub",
        service_account_private=folder / "sa.key",
    )
    pki.ca.write_bytes(ca.cert_pem)
    pki.front_proxy_ca.write_bytes(front_proxy.cert_pem)
    pki.service_account_private.write_bytes(
        sa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    pki.service_account_private.chmod(0o600)
    pki.service_account_public.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki
