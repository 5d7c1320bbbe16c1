"""A throwaway CA and serving certificates for 127.0.0.1, issued by the project's own `certs.pki`
(the same code that issues the cluster's certificates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from certs.files import write_atomic
from certs.pki import Issued, ServingSpec, generate_ca, issue_serving_cert

CertificateAuthority = Issued


@dataclass(frozen=True)
class ServingPair:
    cert_pem: bytes
    key_pem: bytes
    serial_number: int


def make_ca(common_name: str = "tronador test CA") -> CertificateAuthority:
    return generate_ca(datetime.now(UTC), timedelta(days=1), common_name)


def issue_serving_pair(ca: CertificateAuthority) -> ServingPair:
    """A leaf for 127.0.0.1 and localhost signed by `ca`."""
    spec = ServingSpec(extra_dns=("localhost",), ips=("127.0.0.1",))
    leaf = issue_serving_cert(ca, spec, datetime.now(UTC), timedelta(hours=2))
    return ServingPair(leaf.cert_pem, leaf.key_pem, leaf.cert.serial_number)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` in one rename, as a careful writer (or a Secret volume) does."""
    write_atomic(path, data)


def install_pair(pair: ServingPair, cert_file: Path, key_file: Path) -> None:
    write_atomic(key_file, pair.key_pem, mode=0o600)
    write_atomic(cert_file, pair.cert_pem)
