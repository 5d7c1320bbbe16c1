"""Human-readable report on certificate material (pure: PEM bytes and ``now`` in, lines out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from certs import pki
from certs.bundle import WebhookState
from certs.pki import MaterialError, ServingSpec


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def text(self) -> str:
        out = list(self.lines)
        if self.problems:
            out.append("Problems:")
            out += [f"  - {p}" for p in self.problems]
        else:
            out.append("Status: OK")
        return "\n".join(out)


def _when(dt: datetime, now: datetime) -> str:
    days = (dt - now).total_seconds() / 86400
    left = f"{days:.0f} days left" if days >= 0 else f"expired {-days:.0f} days ago"
    return f"{dt.strftime('%Y-%m-%dT%H:%M:%SZ')} ({left})"


def _sans(cert: x509.Certificate) -> str:
    names = pki.dns_sans(cert) + [str(ip) for ip in pki.ip_sans(cert)]
    return ", ".join(names) or "(none)"


def inspect_material(
    ca_bundle_pem: bytes | None,
    tls_cert_pem: bytes | None,
    tls_key_pem: bytes | None,
    spec: ServingSpec,
    now: datetime,
    leaf_rotate_fraction: float,
    ca_key_pem: bytes | None = None,
) -> Report:
    report = Report()
    cas: list[x509.Certificate] = []
    if not ca_bundle_pem:
        report.problems.append("CA bundle is missing")
    else:
        try:
            cas = pki.load_certs(ca_bundle_pem)
        except MaterialError as e:
            report.problems.append(f"CA bundle: {e}")
    signing_key = None
    if ca_key_pem:
        try:
            signing_key = pki.load_key(ca_key_pem)
        except MaterialError as e:
            report.problems.append(f"CA key: {e}")
    if cas:
        report.lines.append(f"CA bundle ({len(cas)} certificate{'s' if len(cas) > 1 else ''}):")
        for cert in cas:
            tag = " [signing]" if signing_key and pki.key_matches(cert, signing_key) else ""
            report.lines.append(f"  subject   {pki.subject_cn(cert)}{tag}")
            report.lines.append(f"  not after {_when(cert.not_valid_after_utc, now)}")
            problem = pki.validity_problem(cert, now)
            if problem:
                report.problems.append(f"CA {pki.subject_cn(cert)} {problem}")
            elif not pki.is_ca(cert):
                report.problems.append(f"{pki.subject_cn(cert)} in the CA bundle is not a CA")
        if ca_key_pem and signing_key and not any(pki.key_matches(c, signing_key) for c in cas):
            report.problems.append("CA key does not match any certificate in the CA bundle")

    leaf, key = None, None
    if not tls_cert_pem:
        report.problems.append("serving certificate is missing")
    else:
        try:
            leaf = pki.load_certs(tls_cert_pem)[0]
        except MaterialError as e:
            report.problems.append(f"serving certificate: {e}")
    if not tls_key_pem:
        report.problems.append("serving key is missing")
    else:
        try:
            key = pki.load_key(tls_key_pem)
        except MaterialError as e:
            report.problems.append(f"serving key: {e}")
    if leaf is not None:
        report.lines.append("Serving certificate:")
        report.lines.append(f"  subject   {pki.subject_cn(leaf)}")
        report.lines.append(f"  issuer    {leaf.issuer.rfc4514_string()}")
        report.lines.append(f"  SANs      {_sans(leaf)}")
        report.lines.append(f"  not after {_when(leaf.not_valid_after_utc, now)}")
        report.lines.append(
            f"  rotation  {pki.rotate_at(leaf, leaf_rotate_fraction).strftime('%Y-%m-%d')}"
        )
        issuer = next((c for c in cas if pki.is_signed_by(leaf, c)), None)
        if issuer is None and cas:
            report.problems.append("serving certificate is not signed by any CA in the bundle")
        if key is not None and not pki.key_matches(leaf, key):
            report.problems.append("serving key does not match serving certificate")
        missing = pki.missing_names(leaf, spec)
        if missing:
            report.problems.append(f"serving certificate lacks SANs {', '.join(missing)}")
        problem = pki.validity_problem(leaf, now)
        if problem:
            report.problems.append(f"serving certificate {problem}")
    return report


def add_webhook_states(
    report: Report, states: list[WebhookState], bundle_pem: bytes | None
) -> None:
    report.lines.append("Webhook configurations:")
    for state in states:
        label = f"  {state.kind}/{state.name}:"
        if not state.exists:
            report.lines.append(f"{label} not found")
            report.problems.append(f"{state.kind} {state.name} does not exist")
            continue
        stale = state.stale(bundle_pem or b"")
        if not state.webhooks:
            report.lines.append(f"{label} no webhooks")
        elif stale:
            report.lines.append(f"{label} caBundle OUT OF DATE on {', '.join(stale)}")
            report.problems.append(f"{state.kind} {state.name} caBundle differs from the CA bundle")
        else:
            report.lines.append(f"{label} caBundle up to date ({len(state.webhooks)} webhooks)")
