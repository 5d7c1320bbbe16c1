"""Pure X.509 work: issuing the CA and the serving certificate, parsing and checking them.

Nothing here reads a clock, a file or the network; callers pass ``now``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs import defaults

BACKDATE = timedelta(minutes=5)
"""notBefore is set this far in the past so a peer with a slightly slow clock accepts it."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class MaterialError(ValueError):
    """PEM data that cannot be used (does not parse, wrong type)."""


def service_dns_names(service: str, namespace: str) -> list[str]:
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


@dataclass(frozen=True)
class ServingSpec:
    """What the serving certificate must cover."""

    service: str = defaults.SERVICE_NAME
    namespace: str = defaults.NAMESPACE
    extra_dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()

    @property
    def dns_names(self) -> list[str]:
        names = service_dns_names(self.service, self.namespace)
        return names + [n for n in self.extra_dns if n not in names]

    @property
    def ip_addresses(self) -> list[IPAddress]:
        return [ipaddress.ip_address(ip) for ip in self.ips]

    @property
    def common_name(self) -> str:
        return f"{self.service}.{self.namespace}.svc"


@dataclass(frozen=True)
class Policy:
    """Lifetimes and rotation points; see ``certs.defaults`` for the meaning of each."""

    ca_lifetime: timedelta = defaults.CA_LIFETIME
    leaf_lifetime: timedelta = defaults.LEAF_LIFETIME
    leaf_rotate_fraction: float = defaults.LEAF_ROTATE_FRACTION
    ca_rotate_fraction: float = defaults.CA_ROTATE_FRACTION
    ca_publish_delay: timedelta = defaults.CA_PUBLISH_DELAY
    ca_retire_delay: timedelta = defaults.CA_RETIRE_DELAY


@dataclass(frozen=True)
class Issued:
    """A certificate together with its private key."""

    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes = field(repr=False)

    @property
    def cert_pem(self) -> bytes:
        return cert_to_pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        return key_to_pem(self.key)


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_to_pem(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def bundle_to_pem(certs: Iterable[x509.Certificate]) -> bytes:
    return b"".join(cert_to_pem(c) for c in certs)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def generate_ca(
    now: datetime,
    lifetime: timedelta = defaults.CA_LIFETIME,
    common_name: str = "tronador-webhook-ca",
) -> Issued:
    """A self-signed CA. The CN carries the issue time so successive CAs never share a name."""
    key = _new_key()
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name}@{int(now.timestamp())}")]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue_serving_cert(
    ca: Issued,
    spec: ServingSpec,
    now: datetime,
    lifetime: timedelta = defaults.LEAF_LIFETIME,
) -> Issued:
    """A serving certificate signed by ``ca``; it never outlives the CA."""
    key = _new_key()
    not_after = min(now + lifetime, ca.cert.not_valid_after_utc)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in spec.dns_names]
    sans += [x509.IPAddress(ip) for ip in spec.ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, spec.common_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


# --- parsing -------------------------------------------------------------------------------


def load_certs(pem: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise MaterialError(f"certificate PEM does not parse: {e}") from None
    return certs


def load_key(pem: bytes) -> CertificateIssuerPrivateKeyTypes:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        # The messages of these errors never contain the key bytes.
        raise MaterialError(f"private key PEM does not parse: {type(e).__name__}") from None
    except Exception as e:  # unsupported algorithm and friends
        raise MaterialError(f"private key unusable: {type(e).__name__}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise MaterialError(f"unsupported private key type {type(key).__name__}")
    return key


# --- checks ----------------------------------------------------------------------------------


def key_matches(cert: x509.Certificate, key: CertificateIssuerPrivateKeyTypes) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return cert.public_key().public_bytes(enc, fmt) == key.public_key().public_bytes(enc, fmt)


def is_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return bc.ca


def dns_sans(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.DNSName)


def ip_sans(cert: x509.Certificate) -> list[IPAddress]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [ip for ip in san.get_values_for_type(x509.IPAddress) if not isinstance(ip, tuple)]


def has_server_auth(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True  # no EKU means no restriction
    return ExtendedKeyUsageOID.SERVER_AUTH in eku


def subject_cn(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else cert.subject.rfc4514_string()


def missing_names(cert: x509.Certificate, spec: ServingSpec) -> list[str]:
    have_dns = {n.lower().rstrip(".") for n in dns_sans(cert)}
    have_ips = set(ip_sans(cert))
    missing = [n for n in spec.dns_names if n.lower().rstrip(".") not in have_dns]
    missing += [str(ip) for ip in spec.ip_addresses if ip not in have_ips]
    return missing


def issued_at(cert: x509.Certificate) -> datetime:
    """When we issued it (undoing the notBefore backdating)."""
    return cert.not_valid_before_utc + BACKDATE


def rotate_at(cert: x509.Certificate, fraction: float) -> datetime:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * fraction


def validity_problem(cert: x509.Certificate, now: datetime) -> str | None:
    if now >= cert.not_valid_after_utc:
        return f"expired at {cert.not_valid_after_utc.isoformat()}"
    if now < cert.not_valid_before_utc:
        return f"not valid before {cert.not_valid_before_utc.isoformat()}"
    return None


def ca_problem(ca: Issued, now: datetime) -> str | None:
    """Why this CA cannot sign serving certificates any more, or None."""
    if not key_matches(ca.cert, ca.key):
        return "CA key does not match CA certificate"
    if not is_ca(ca.cert):
        return "CA certificate is not a CA (BasicConstraints)"
    problem = validity_problem(ca.cert, now)
    return f"CA certificate {problem}" if problem else None


def leaf_problem(
    cert: x509.Certificate,
    key: CertificateIssuerPrivateKeyTypes,
    ca: x509.Certificate,
    spec: ServingSpec,
    now: datetime,
    rotate_fraction: float | None = None,
) -> str | None:
    """Why this serving certificate is unusable, or None if it is fine.

    With ``rotate_fraction`` a certificate past its rotation point also counts as a problem.
    """
    if not key_matches(cert, key):
        return "serving key does not match serving certificate"
    if not is_signed_by(cert, ca):
        return "serving certificate is not signed by the current CA"
    if is_ca(cert):
        return "serving certificate is a CA certificate"
    if not has_server_auth(cert):
        return "serving certificate lacks the serverAuth extended key usage"
    missing = missing_names(cert, spec)
    if missing:
        return f"serving certificate lacks SANs {', '.join(missing)}"
    problem = validity_problem(cert, now)
    if problem:
        return f"serving certificate {problem}"
    if rotate_fraction is None:
        return None
    due = rotate_at(cert, rotate_fraction)
    if now >= due:
        return f"serving certificate reached its rotation point {due.isoformat()}"
    return None


def ca_rotation_due(ca: x509.Certificate, now: datetime, fraction: float) -> bool:
    return now >= rotate_at(ca, fraction)
