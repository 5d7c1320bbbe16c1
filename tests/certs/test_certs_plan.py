from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography import x509

from certs import defaults, pki
from certs.pki import Policy, ServingSpec
from certs.plan import parse_secret_data, plan
from tests.certs.helpers import T0

SPEC = ServingSpec("tronador-webhook", "tronador-system")
SHORT = Policy(
    ca_lifetime=timedelta(days=30),
    leaf_lifetime=timedelta(days=3),
    ca_publish_delay=timedelta(hours=1),
    ca_retire_delay=timedelta(hours=6),
)


def fresh(now: datetime = T0, policy: Policy = SHORT) -> dict[str, bytes]:
    return plan(None, SPEC, now, policy).material.to_secret_data()


def bundle(data: dict[str, bytes]) -> list[x509.Certificate]:
    return pki.load_certs(data[defaults.SECRET_CA_BUNDLE])


def leaf(data: dict[str, bytes]) -> x509.Certificate:
    return pki.load_certs(data[defaults.SECRET_TLS_CERT])[0]


def trusted(cert: x509.Certificate, cas: list[x509.Certificate], now: datetime) -> bool:
    return pki.validity_problem(cert, now) is None and any(pki.is_signed_by(cert, c) for c in cas)


def test_missing_secret_gets_a_ca_and_leaf() -> None:
    p = plan(None, SPEC, T0, SHORT)
    assert p.changed and p.reasons == ["secret does not exist"]
    data = p.material.to_secret_data()
    assert set(data) == {"ca.crt", "ca.key", "tls.crt", "tls.key"}
    assert len(bundle(data)) == 1
    assert trusted(leaf(data), bundle(data), T0)


def test_valid_material_is_kept_as_is() -> None:
    data = fresh()
    p = plan(data, SPEC, T0 + timedelta(days=1), SHORT)
    assert not p.changed and p.reasons == []
    assert p.material.to_secret_data() == data


def test_leaf_rotates_at_two_thirds_with_the_same_ca() -> None:
    data = fresh()
    assert not plan(data, SPEC, T0 + timedelta(days=1, hours=23), SHORT).changed
    now = T0 + timedelta(days=2)
    p = plan(data, SPEC, now, SHORT)
    assert p.changed and not p.repaired
    assert "rotation point" in p.reasons[0]
    new = p.material.to_secret_data()
    assert new["ca.crt"] == data["ca.crt"] and new["ca.key"] == data["ca.key"]
    assert leaf(new) != leaf(data)
    assert trusted(leaf(new), bundle(data), now)


def test_wanted_names_changed_reissues_leaf() -> None:
    data = fresh()
    wider = ServingSpec(SPEC.service, SPEC.namespace, ("hook.example.test",), ("10.1.2.3",))
    p = plan(data, wider, T0, SHORT)
    assert p.changed and "lacks SANs hook.example.test, 10.1.2.3" in p.reasons[0]
    assert "hook.example.test" in pki.dns_sans(p.material.leaf.cert)


def test_ca_rotation_three_steps() -> None:
    data = fresh()
    old_ca = bundle(data)[0]
    start = pki.rotate_at(old_ca, 2 / 3)
    # leaf rotations keep happening before that; skip to the CA rotation point
    data = plan(data, SPEC, start - timedelta(hours=1), SHORT).material.to_secret_data()

    p = plan(data, SPEC, start, SHORT)
    assert any("published a new CA" in r for r in p.reasons)
    step1 = p.material.to_secret_data()
    assert defaults.SECRET_NEXT_CA_KEY in step1
    assert len(bundle(step1)) == 2 and bundle(step1)[0] == old_ca
    assert leaf(step1) == leaf(data)  # still signed by the old CA
    assert step1["ca.key"] == data["ca.key"]

    # before the publish delay nothing happens; and not while the bundle is not published
    assert not plan(step1, SPEC, start + timedelta(minutes=59), SHORT).changed
    assert not plan(step1, SPEC, start + timedelta(hours=2), SHORT, bundle_published=False).changed

    p = plan(step1, SPEC, start + timedelta(hours=1), SHORT)
    assert p.reasons == ["CA rotation: the serving certificate is now signed by the new CA"]
    step2 = p.material.to_secret_data()
    new_ca = bundle(step1)[1]
    assert bundle(step2) == [new_ca, old_ca]
    assert defaults.SECRET_NEXT_CA_KEY not in step2
    assert step2["ca.key"] == step1[defaults.SECRET_NEXT_CA_KEY]
    assert pki.is_signed_by(leaf(step2), new_ca)

    assert not plan(step2, SPEC, start + timedelta(hours=6, minutes=59), SHORT).changed
    p = plan(step2, SPEC, start + timedelta(hours=7), SHORT)
    assert p.reasons == ["removed 1 old CA from the bundle"]
    step3 = p.material.to_secret_data()
    assert bundle(step3) == [new_ca]
    assert leaf(step3) == leaf(step2)


def test_no_transition_ever_breaks_a_request_over_many_years() -> None:
    """Replaying years hour by hour: after any routine change, the leaf still being served
    verifies against the new bundle and the new leaf against the bundle already published."""
    data, now = fresh(), T0
    cas_seen: set[x509.Certificate] = set(bundle(data))
    for _ in range(24 * 400):
        now += timedelta(hours=1)
        p = plan(data, SPEC, now, SHORT)
        assert not p.repaired, p.reasons
        if not p.changed:
            continue
        new = p.material.to_secret_data()
        assert trusted(leaf(data), bundle(new), now), p.reasons
        assert trusted(leaf(new), bundle(data), now), p.reasons
        cas_seen |= set(bundle(new))
        data = new
    assert len(cas_seen) >= 15  # CAs really did rotate, every 20 days


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda d: d.pop("ca.crt"), "ca.crt is missing"),
        (lambda d: d.update({"ca.crt": b"garbage"}), "ca.crt: certificate PEM does not parse"),
        (lambda d: d.update({"ca.key": b"garbage"}), "ca.key: private key PEM does not parse"),
        (lambda d: d.update({"ca.key": d["tls.key"]}), "CA key does not match"),
    ],
)
def test_unusable_ca_means_a_fresh_ca(mutate, expect: str) -> None:  # type: ignore[no-untyped-def]
    data = fresh()
    mutate(data)
    p = plan(data, SPEC, T0, SHORT)
    assert p.changed and p.repaired
    assert expect in p.reasons[0]
    new = p.material.to_secret_data()
    assert len(bundle(new)) == 1 and trusted(leaf(new), bundle(new), T0)


def test_expired_ca_is_replaced() -> None:
    data = fresh()
    later = T0 + timedelta(days=31)
    p = plan(data, SPEC, later, SHORT)
    assert p.repaired and "CA certificate expired" in p.reasons[0]
    assert trusted(p.material.leaf.cert, p.material.bundle, later)


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda d: d.pop("tls.key"), "tls.key is missing"),
        (lambda d: d.update({"tls.crt": b"x"}), "tls.crt: certificate PEM does not parse"),
        (lambda d: d.update({"tls.key": d["ca.key"]}), "serving key does not match"),
    ],
)
def test_unusable_leaf_is_reissued_by_the_same_ca(mutate, expect: str) -> None:  # type: ignore[no-untyped-def]
    data = fresh()
    mutate(data)
    p = plan(data, SPEC, T0, SHORT)
    assert p.repaired and expect in p.reasons[0]
    new = p.material.to_secret_data()
    assert new["ca.crt"] == data["ca.crt"]
    assert trusted(leaf(new), bundle(new), T0)


def test_leaf_from_another_ca_is_reissued() -> None:
    data, other = fresh(), fresh()
    data["tls.crt"], data["tls.key"] = other["tls.crt"], other["tls.key"]
    p = plan(data, SPEC, T0, SHORT)
    assert p.repaired and "not signed by the current CA" in p.reasons[0]


def test_expired_leaf_is_reissued() -> None:
    data = fresh(policy=Policy(leaf_lifetime=timedelta(days=1)))
    p = plan(data, SPEC, T0 + timedelta(days=2), SHORT)
    assert p.repaired and "serving certificate expired" in p.reasons[0]


def test_broken_next_ca_key_is_dropped() -> None:
    data = fresh()
    start = pki.rotate_at(bundle(data)[0], 2 / 3)
    data = plan(data, SPEC, start - timedelta(hours=1), SHORT).material.to_secret_data()
    step1 = plan(data, SPEC, start, SHORT).material.to_secret_data()
    step1[defaults.SECRET_NEXT_CA_KEY] = b"garbage"
    p = plan(step1, SPEC, start + timedelta(minutes=5), SHORT)
    assert p.repaired and "dropped an unusable next CA key" in p.reasons
    new = p.material.to_secret_data()
    assert defaults.SECRET_NEXT_CA_KEY not in new
    # the orphaned CA certificate is not served as the signing CA; the leaf still verifies
    assert trusted(leaf(new), bundle(new), start)


def test_parse_never_raises_on_nonsense() -> None:
    parsed = parse_secret_data({"ca.crt": b"\x00\xff", "ca.key": b"", "tls.crt": b"-----"})
    assert parsed.ca is None and parsed.leaf_cert is None
    assert len(parsed.problems) == 4
