"""Pure decision: given what the Secret holds and the time, what should it hold?

Secret layout (all PEM):

* ``ca.crt``      the CA bundle clients trust: the signing CA, plus during a rotation the
                  next CA (before it signs) or the previous CA (after it stopped signing).
* ``ca.key``      key of the signing CA, the one that signed ``tls.crt``.
* ``ca-next.key`` key of the next CA, only while it is being published.
* ``tls.crt``, ``tls.key`` the serving certificate and its key.

A CA rotation is three steps, each taken only when it cannot break a request:

1. start:   a new CA joins the bundle; the serving certificate stays signed by the old CA.
2. promote: once the new CA has been in the bundle for ``ca_publish_delay`` (so the webhook
            configurations carry it), the serving certificate is re-issued by the new CA.
3. retire:  once that certificate is ``ca_retire_delay`` old (every replica serves it), the
            old CA leaves the bundle.

Every time in the Secret is derived from the certificates themselves, so several replicas
running this against the same Secret agree on what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from certs import defaults, pki
from certs.pki import Issued, MaterialError, Policy, ServingSpec
from tronador.words import counted


@dataclass
class Material:
    """A usable, fully parsed state of the Secret."""

    ca: Issued
    leaf: Issued
    next_ca: Issued | None = None
    retiring: list[x509.Certificate] = field(default_factory=list)

    @property
    def bundle(self) -> list[x509.Certificate]:
        certs = [self.ca.cert]
        if self.next_ca is not None:
            certs.append(self.next_ca.cert)
        return certs + self.retiring

    @property
    def bundle_pem(self) -> bytes:
        return pki.bundle_to_pem(self.bundle)

    def to_secret_data(self) -> dict[str, bytes]:
        data = {
            defaults.SECRET_CA_BUNDLE: self.bundle_pem,
            defaults.SECRET_CA_KEY: self.ca.key_pem,
            defaults.SECRET_TLS_CERT: self.leaf.cert_pem,
            defaults.SECRET_TLS_KEY: self.leaf.key_pem,
        }
        if self.next_ca is not None:
            data[defaults.SECRET_NEXT_CA_KEY] = self.next_ca.key_pem
        return data


@dataclass
class Parsed:
    """Whatever could be read from the Secret data; holes are explained in ``problems``."""

    bundle: list[x509.Certificate] = field(default_factory=list)
    ca: Issued | None = None
    next_ca: Issued | None = None
    leaf_cert: x509.Certificate | None = None
    leaf_key: pki.CertificateIssuerPrivateKeyTypes | None = None
    problems: list[str] = field(default_factory=list)


def _find_cert_for_key(
    bundle: list[x509.Certificate], key: pki.CertificateIssuerPrivateKeyTypes
) -> x509.Certificate | None:
    return next((c for c in bundle if pki.key_matches(c, key)), None)


def parse_secret_data(data: Mapping[str, bytes]) -> Parsed:
    """Never raises: anything missing or broken is left as None with a reason."""
    out = Parsed()

    def need(key: str) -> bytes | None:
        value = data.get(key)
        if not value:
            out.problems.append(f"{key} is missing")
            return None
        return value

    raw = need(defaults.SECRET_CA_BUNDLE)
    if raw is not None:
        try:
            out.bundle = pki.load_certs(raw)
        except MaterialError as e:
            out.problems.append(f"{defaults.SECRET_CA_BUNDLE}: {e}")

    raw = need(defaults.SECRET_CA_KEY)
    if raw is not None:
        try:
            key = pki.load_key(raw)
        except MaterialError as e:
            out.problems.append(f"{defaults.SECRET_CA_KEY}: {e}")
        else:
            cert = _find_cert_for_key(out.bundle, key)
            if cert is None:
                out.problems.append("CA key does not match any certificate in the CA bundle")
            else:
                out.ca = Issued(cert, key)

    raw = data.get(defaults.SECRET_NEXT_CA_KEY)
    if raw:
        try:
            key = pki.load_key(raw)
        except MaterialError as e:
            out.problems.append(f"{defaults.SECRET_NEXT_CA_KEY}: {e}")
        else:
            cert = _find_cert_for_key(out.bundle, key)
            if cert is None:
                out.problems.append("next CA key does not match any certificate in the bundle")
            elif out.ca is None or cert != out.ca.cert:
                out.next_ca = Issued(cert, key)

    raw = need(defaults.SECRET_TLS_CERT)
    if raw is not None:
        try:
            out.leaf_cert = pki.load_certs(raw)[0]
        except MaterialError as e:
            out.problems.append(f"{defaults.SECRET_TLS_CERT}: {e}")
    raw = need(defaults.SECRET_TLS_KEY)
    if raw is not None:
        try:
            out.leaf_key = pki.load_key(raw)
        except MaterialError as e:
            out.problems.append(f"{defaults.SECRET_TLS_KEY}: {e}")
    return out


@dataclass
class Plan:
    material: Material
    reasons: list[str]
    """Empty when the Secret is fine as it is."""
    repaired: bool = False
    """Something was broken (missing, corrupt, expired, mismatched), not just due."""

    @property
    def changed(self) -> bool:
        return bool(self.reasons)


def _fresh(spec: ServingSpec, now: datetime, policy: Policy) -> Material:
    ca = pki.generate_ca(now, policy.ca_lifetime)
    return Material(ca=ca, leaf=pki.issue_serving_cert(ca, spec, now, policy.leaf_lifetime))


@dataclass
class _Draft:
    """The Secret's next content while `plan` works through the steps; each step that changes
    something says why in `reasons`."""

    ca: Issued
    next_ca: Issued | None
    leaf: Issued | None
    """None: a new serving certificate is to be issued."""
    retiring: list[x509.Certificate]
    reasons: list[str] = field(default_factory=list)
    repaired: bool = False

    def change(self, reason: str, repair: bool = False) -> None:
        self.reasons.append(reason)
        self.repaired = self.repaired or repair


def plan(
    data: Mapping[str, bytes] | None,
    spec: ServingSpec,
    now: datetime,
    policy: Policy | None = None,
    bundle_published: bool = True,
) -> Plan:
    """Decide the next Secret content. ``data`` None means the Secret does not exist.

    ``bundle_published`` tells whether the webhook configurations already carry the Secret's
    current CA bundle; a new CA does not start signing until they do.
    """
    policy = policy or Policy()
    if data is None:
        return Plan(_fresh(spec, now, policy), ["secret does not exist"])
    draft = _usable(data, now)
    if isinstance(draft, str):
        return Plan(_fresh(spec, now, policy), [f"new CA: {draft}"], repaired=True)
    if bundle_published:
        _sign_with_the_next_ca(draft, now, policy)
    leaf = _serving_certificate(draft, spec, now, policy)
    _retire_old_cas(draft, leaf, now, policy)
    _start_ca_rotation(draft, now, policy)
    material = Material(ca=draft.ca, leaf=leaf, next_ca=draft.next_ca, retiring=draft.retiring)
    return Plan(material, draft.reasons, repaired=draft.repaired)


def _usable(data: Mapping[str, bytes], now: datetime) -> _Draft | str:
    """What of the stored material can be kept, or why nothing can (a new CA is needed)."""
    parsed = parse_secret_data(data)
    reasons: list[str] = []
    repaired = False

    next_ca = parsed.next_ca
    if next_ca is not None:
        problem = pki.ca_problem(next_ca, now)
        if problem:
            reasons.append(f"dropped the next CA: {problem}")
            next_ca, repaired = None, True
    elif data.get(defaults.SECRET_NEXT_CA_KEY):
        reasons.append("dropped an unusable next CA key")
        repaired = True

    # The signing CA: without a usable one (and no next CA to fall back on) start over.
    ca = parsed.ca
    ca_problem = pki.ca_problem(ca, now) if ca else "; ".join(parsed.problems) or "no CA"
    leaf: Issued | None = None
    if ca is None or ca_problem:
        if next_ca is None:
            return ca_problem
        reasons.append(f"promoted the next CA early: {ca_problem}")
        ca, next_ca, repaired = next_ca, None, True
    elif parsed.leaf_cert is not None and parsed.leaf_key is not None:
        leaf = Issued(parsed.leaf_cert, parsed.leaf_key)
    else:
        tls_problems = [p for p in parsed.problems if p.startswith("tls.")]
        reasons.append(f"new serving certificate: {'; '.join(tls_problems)}")
        repaired = True
    current = {ca.cert} | ({next_ca.cert} if next_ca else set())
    dropped = {parsed.next_ca.cert} if parsed.next_ca and next_ca is None else set()
    retiring = [c for c in parsed.bundle if c not in current and c not in dropped]
    return _Draft(ca, next_ca, leaf, retiring, reasons, repaired)


def _sign_with_the_next_ca(draft: _Draft, now: datetime, policy: Policy) -> None:
    """Step 2 of a CA rotation: the next CA has been published long enough, sign with it."""
    next_ca = draft.next_ca
    if next_ca is None or now < pki.issued_at(next_ca.cert) + policy.ca_publish_delay:
        return
    draft.change("CA rotation: the serving certificate is now signed by the new CA")
    draft.retiring.insert(0, draft.ca.cert)
    draft.ca, draft.next_ca, draft.leaf = next_ca, None, None


def _serving_certificate(draft: _Draft, spec: ServingSpec, now: datetime, policy: Policy) -> Issued:
    """The serving certificate, always checked against the signing CA; re-issued when it is
    missing, broken or at its rotation point."""
    leaf = draft.leaf
    if leaf is None:
        return pki.issue_serving_cert(draft.ca, spec, now, policy.leaf_lifetime)
    problem = pki.leaf_problem(leaf.cert, leaf.key, draft.ca.cert, spec, now)
    due = pki.rotate_at(leaf.cert, policy.leaf_rotate_fraction)
    if problem:
        draft.change(f"new serving certificate: {problem}", repair=True)
    elif now >= due:
        draft.change(f"new serving certificate: rotation point {due.isoformat()} reached")
    else:
        return leaf
    return pki.issue_serving_cert(draft.ca, spec, now, policy.leaf_lifetime)


def _retire_old_cas(draft: _Draft, leaf: Issued, now: datetime, policy: Policy) -> None:
    """Step 3: drop old CAs once every replica serves a certificate from the signing CA
    (and any expired one at once)."""
    if not draft.retiring:
        return
    settled = now >= pki.issued_at(leaf.cert) + policy.ca_retire_delay
    keep = [c for c in draft.retiring if not settled and pki.validity_problem(c, now) is None]
    if len(keep) != len(draft.retiring):
        draft.change(
            f"removed {counted(len(draft.retiring) - len(keep), 'old CA')} from the bundle"
        )
        draft.retiring = keep


def _start_ca_rotation(draft: _Draft, now: datetime, policy: Policy) -> None:
    """Step 1: publish a new CA once the signing one is due and the previous rotation ended."""
    if draft.next_ca is not None or draft.retiring:
        return
    if not pki.ca_rotation_due(draft.ca.cert, now, policy.ca_rotate_fraction):
        return
    draft.change(
        "CA rotation: published a new CA, the current one expires "
        f"{draft.ca.cert.not_valid_after_utc.isoformat()}"
    )
    draft.next_ca = pki.generate_ca(now, policy.ca_lifetime)
