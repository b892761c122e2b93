"""verify_credential (DESIGN.md §6, docs/spec.md §7): one result per check, stable reason
codes, fail closed."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from crypto import (Algorithm, Check, Outcome, Reason, Status, TrustStore, cose, qr_text_for, samples,
                    sign_credential, verify_credential)
from crypto import certs, keys
from crypto.claims import Profile
from crypto.keys import SoftwareSigner
from crypto.qrtext import decode_qr_text, encode_qr_text
from crypto.verdict import CREDENTIAL_CHECKS

from crypto_support import make_store, utc
from clock_support import CLOCK


def failed(verdict):
    return [(c.check, c.reason) for c in verdict.checks if c.status is not Status.PASSED
            and c.status is not Status.NOT_CHECKED]


def test_valid_credential_has_every_check_passed(pki, store, now):
    qr = qr_text_for(samples.typical(), pki.issuer, iat=now - 60)
    verdict = verify_credential(qr, store, now=now)
    assert verdict.outcome is Outcome.VALID
    assert [c.check for c in verdict.checks] == list(CREDENTIAL_CHECKS)
    assert all(c.status is Status.PASSED for c in verdict.checks)
    assert verdict.claims.credential.holder.family_name == "MUELLER"
    assert verdict.signer.issuer_code == "SH01"


def test_eddsa_credential(eddsa_pki, now):
    store = make_store(eddsa_pki, now)
    cred = samples.typical().model_copy(update={"card": samples.typical().card.model_copy(update={"issuing_centre": "SH02"})})
    qr = qr_text_for(cred, eddsa_pki.issuer, iat=now - 60)
    assert verify_credential(qr, store, now=now).outcome is Outcome.VALID


def test_chip_profile_cose_bytes_verify(pki, store, now):
    cose_bytes = sign_credential(samples.long(), pki.issuer, iat=now - 60, profile=Profile.CHIP, cti=b"\x07" * 8)
    verdict = verify_credential(cose_bytes, store, now=now)
    assert verdict.valid
    assert verdict.claims.credential == samples.long()


def test_revoked(pki, now):
    store = make_store(pki, now, revoked={"SH01": [42]})
    verdict = verify_credential(qr_text_for(samples.typical(), pki.issuer, iat=now - 60), store, now=now)
    assert verdict.outcome is Outcome.INVALID
    assert failed(verdict) == [(Check.REVOCATION, Reason.REVOKED)]
    # the same serial revoked at another issuing centre does not count
    other = make_store(pki, now, revoked={"BJ01": [42]})
    assert verify_credential(qr_text_for(samples.typical(), pki.issuer, iat=now - 60), other, now=now).valid


def test_stale_revocation_data_is_indeterminate(pki, now):
    store = make_store(pki, now, next_update=now - 1)
    verdict = verify_credential(qr_text_for(samples.typical(), pki.issuer, iat=now - 3600), store, now=now)
    assert verdict.outcome is Outcome.INDETERMINATE
    assert failed(verdict) == [(Check.REVOCATION, Reason.REVOCATION_STALE)]
    # a site policy can allow older data explicitly
    assert verify_credential(qr_text_for(samples.typical(), pki.issuer, iat=now - 3600), store, now=now,
                             revocation_max_age=7 * 86400).valid


def test_no_trust_list_is_indeterminate_not_valid(pki, now):
    store = TrustStore(pki.root)
    verdict = verify_credential(qr_text_for(samples.typical(), pki.issuer, iat=now), store, now=now)
    assert verdict.outcome is Outcome.INDETERMINATE  # it cannot decide: it knows no issuer
    assert failed(verdict) == [(Check.SIGNER_KNOWN, Reason.REVOCATION_MISSING)]


def test_expired_and_not_yet_valid(pki, store, now):
    expired = qr_text_for(samples.typical(), pki.issuer, iat=now - 60)
    later = int(dt.datetime(2031, 2, 1, tzinfo=dt.timezone.utc).timestamp())
    verdict = verify_credential(expired, store, now=later)
    assert (Check.VALIDITY, Reason.CREDENTIAL_EXPIRED) in failed(verdict)
    future = qr_text_for(samples.typical(), pki.issuer, iat=now + 3600)
    assert failed(verify_credential(future, store, now=now)) == [(Check.VALIDITY, Reason.CREDENTIAL_NOT_YET_VALID)]
    # within the leeway a slightly fast signer clock is fine
    assert verify_credential(qr_text_for(samples.typical(), pki.issuer, iat=now + 100), store, now=now).valid


def test_iat_outside_private_key_usage_period(pki, now, tmp_path):
    root_key = keys.load_private_key(pki.folder / "root-ca.key.pem", b"test-passphrase")
    key = keys.generate_private_key()
    start = utc(now - 10 * 86400)
    cert = certs.make_issuer_certificate(root_key, pki.root, key.public_key(), issuer_code="SH01", now=start,
                                         signing_days=2)
    signer = SoftwareSigner(key, cert)
    store = make_store(pki, now, issuers=[cert])
    inside = qr_text_for(samples.typical(), signer, iat=now - 9 * 86400)
    outside = qr_text_for(samples.typical(), signer, iat=now - 60)
    assert verify_credential(inside, store, now=now).valid
    assert failed(verify_credential(outside, store, now=now)) == [(Check.SIGNER_CERTIFICATE, Reason.IAT_OUTSIDE_KEY_USAGE)]
    before_cert = qr_text_for(samples.typical(), signer, iat=now - 20 * 86400)
    assert failed(verify_credential(before_cert, store, now=now)) == [(Check.SIGNER_CERTIFICATE, Reason.CERT_NOT_VALID_AT_IAT)]


def test_every_key_sharing_a_kid_is_tried(pki, store, now):
    qr = qr_text_for(samples.typical(), pki.issuer, iat=now - 60)
    real = store.issuers_for(pki.issuer.kid)[0]
    impostor_key = keys.generate_private_key().public_key()
    impostor = type(real)(**{f: getattr(real, f) for f in real.__dataclass_fields__} | {"public_key": impostor_key})
    store._by_kid[pki.issuer.kid] = [impostor, real]
    assert verify_credential(qr, store, now=now).valid
    store._by_kid[pki.issuer.kid] = [impostor]
    assert failed(verify_credential(qr, store, now=now)) == [(Check.SIGNATURE, Reason.SIGNATURE_INVALID)]


def test_algorithm_allow_list(pki, now):
    store = make_store(pki, now)
    store.allowed_algorithms = frozenset({Algorithm.EDDSA})
    verdict = verify_credential(qr_text_for(samples.typical(), pki.issuer, iat=now - 60), store, now=now)
    assert failed(verdict) == [(Check.ALGORITHM, Reason.ALG_NOT_ALLOWED)]


def test_unknown_signer(pki, eddsa_pki, now):
    store = make_store(pki, now)
    cred = samples.typical().model_copy(update={"card": samples.typical().card.model_copy(update={"issuing_centre": "SH02"})})
    verdict = verify_credential(qr_text_for(cred, eddsa_pki.issuer, iat=now - 60), store, now=now)
    assert failed(verdict) == [(Check.SIGNER_KNOWN, Reason.KID_UNKNOWN)]


def test_a_signed_but_malformed_payload_fails_the_claims_check(pki, store, now):
    signed = cose.sign1(b"\xa1\x06\x63abc", pki.issuer)  # {6: "abc"}: iat as text
    verdict = verify_credential(encode_qr_text(signed), store, now=now)
    assert failed(verdict)[0][0] is Check.CLAIMS
    assert verdict.outcome is Outcome.INVALID


def test_checks_after_a_failure_are_not_checked(pki, store, now):
    verdict = verify_credential("SSC1:ZZ", store, now=now)
    assert verdict.checks[0].status is Status.FAILED
    assert all(c.status is Status.NOT_CHECKED for c in verdict.checks[1:])
    assert [c.check for c in verdict.checks] == list(CREDENTIAL_CHECKS)


def test_internal_error_fails_closed(pki, store, now, monkeypatch):
    qr = qr_text_for(samples.typical(), pki.issuer, iat=now - 60)

    def boom(*args, **kwargs):
        raise RuntimeError("bug")
    monkeypatch.setattr("crypto.verify.decode_claims", boom)
    verdict = verify_credential(qr, store, now=now)
    assert verdict.outcome is Outcome.INVALID
    assert Reason.INTERNAL_ERROR in verdict.reasons


@pytest.mark.parametrize("bad", [None, 12, b"", "", "SSC1:", "x" * 10_000])
def test_garbage_never_raises_and_is_never_valid(store, now, bad):
    verdict = verify_credential(bad, store, now=now)
    assert verdict.outcome is Outcome.INVALID


@pytest.fixture(scope="module")
def signed_qr(tmp_path_factory):
    from crypto.pki import DevelopmentPki
    pki = DevelopmentPki.create(tmp_path_factory.mktemp("mut"), b"test-passphrase")
    now = CLOCK.now()
    cose_bytes = sign_credential(samples.typical(), pki.issuer, iat=now - 60)
    return pki, make_store(pki, now), cose_bytes, now


def test_every_single_byte_change_is_invalid(signed_qr):
    """Exhaustive over positions, with a bit flip, an increment and a zero at each."""
    pki, store, cose_bytes, now = signed_qr
    assert verify_credential(cose_bytes, store, now=now).valid
    for pos in range(len(cose_bytes)):
        for new in {cose_bytes[pos] ^ 0x01, (cose_bytes[pos] + 1) % 256, 0}:
            if new == cose_bytes[pos]:
                continue
            mutated = cose_bytes[:pos] + bytes([new]) + cose_bytes[pos + 1:]
            verdict = verify_credential(mutated, store, now=now)
            assert verdict.outcome is Outcome.INVALID, (pos, new)
            assert verify_credential(encode_qr_text(mutated), store, now=now).outcome is Outcome.INVALID


@given(data=st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_single_byte_change_of_qr_text_is_invalid(signed_qr, data):
    pki, store, cose_bytes, now = signed_qr
    text = encode_qr_text(cose_bytes)
    pos = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.characters(codec="utf-8").filter(lambda c: c != text[pos]))
    mutated = text[:pos] + char + text[pos + 1:]
    verdict = verify_credential(mutated, store, now=now)
    if mutated.rstrip("\r\n") == text:
        return  # appending a scanner terminator is not a change of content
    assert verdict.outcome is Outcome.INVALID
    assert decode_qr_text(text) == cose_bytes
