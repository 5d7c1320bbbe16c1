"""The serving certificate, reloaded from disk when its files change, without a restart.

The listening socket keeps one `SSLContext` for its whole life. Its SNI callback, which OpenSSL
calls early in every handshake (with or without a server name), hands the connection over to
the context holding the most recently loaded certificate. Connections already established keep
the context they were made with, so a swap never breaks a request in flight.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from cryptography import x509

from webhook.file_watch import FileWatcher

log = logging.getLogger(__name__)

MINIMUM_TLS_VERSION = ssl.TLSVersion.TLSv1_2

CA_FILE = "ca.crt"
"""The CA bundle next to the serving certificate (as in the Secret: ca.crt, tls.crt, tls.key)."""


class ReloadResult(StrEnum):
    UNCHANGED = "unchanged"
    LOADED = "loaded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ServingCertificate:
    context: ssl.SSLContext
    serial_number: int
    not_after: datetime
    ca_not_after: datetime | None = None
    """When the issuing CA in ca.crt expires; None without a readable ca.crt naming it."""


def _new_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_TLS_VERSION
    return context


def load_serving_certificate(cert_file: Path, key_file: Path) -> ServingCertificate:
    """Raises OSError, ssl.SSLError or ValueError when the pair cannot be used."""
    context = _new_context()
    context.load_cert_chain(cert_file, key_file)
    leaf = x509.load_pem_x509_certificate(cert_file.read_bytes())
    ca_not_after = issuer_not_after(leaf, cert_file.with_name(CA_FILE))
    return ServingCertificate(context, leaf.serial_number, leaf.not_valid_after_utc, ca_not_after)


def issuer_not_after(leaf: x509.Certificate, bundle_file: Path) -> datetime | None:
    """When the CA in `bundle_file` that issued `leaf` expires: the one whose key identifier
    is the leaf's authority key identifier, else (no identifiers) the latest of those named as
    the leaf's issuer. None if there is none or the file cannot be read (the CA file is
    optional: the webhook serves without it)."""
    try:
        bundle = x509.load_pem_x509_certificates(bundle_file.read_bytes())
    except (OSError, ValueError):
        return None
    named = [ca for ca in bundle if ca.subject == leaf.issuer]
    authority = _authority_key_id(leaf)
    signers = [ca for ca in named if authority is not None and _key_id(ca) == authority]
    return max((ca.not_valid_after_utc for ca in signers or named), default=None)


def _authority_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def _key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


class CertificateReloader:
    def __init__(self, cert_file: str | Path, key_file: str | Path) -> None:
        self.cert_file = Path(cert_file)
        self.key_file = Path(key_file)
        self.current: ServingCertificate | None = None
        self._files = FileWatcher(self.cert_file, self.key_file)
        self.server_context = _new_context()
        """The context to listen with; it delegates each handshake to `current`."""
        self.server_context.sni_callback = self._select_certificate

    @property
    def ready(self) -> bool:
        return self.current is not None

    def reload_if_changed(self) -> ReloadResult:
        """Load the pair if either file changed since the last attempt. A pair that fails to
        load keeps the previous certificate; it is retried only once the files change again
        (a writer replacing the two files one after the other settles on a good pair)."""
        if not self._files.changed():
            return ReloadResult.UNCHANGED
        fields: dict[str, object] = {"cert": str(self.cert_file), "key": str(self.key_file)}
        try:
            loaded = load_serving_certificate(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError, ValueError) as exc:
            kept = "keeping the previous one" if self.current else "not serving TLS yet"
            log.error(
                f"cannot load the serving certificate; {kept}",
                extra={"fields": {**fields, "error": f"{type(exc).__name__}: {exc}"}},
            )
            return ReloadResult.FAILED
        self.current = loaded
        log.info(
            "serving certificate loaded",
            extra={
                "fields": {
                    **fields,
                    "serial": format(loaded.serial_number, "x"),
                    "notAfter": loaded.not_after.isoformat(),
                }
            },
        )
        return ReloadResult.LOADED

    def _select_certificate(
        self, connection: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _: ssl.SSLContext
    ) -> int | None:
        current = self.current
        if current is None:
            return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
        connection.context = current.context
        return None
