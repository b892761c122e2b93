"""The e-card format (docs/spec.md §12): the e-card claim set, the presentation, its size on a
phone screen, the challenge code, and what a decoder refuses."""

from __future__ import annotations

import datetime as dt

import pytest
import qrcode
from cryptography.hazmat.primitives.asymmetric import ec
from qrcode.constants import ERROR_CORRECT_M

from crypto import (Reason, TrustStore, build_trust_list, cbor, parse_credential, qr_text_for, qrtext, samples,
                    verify_credential)
from crypto.claims import Profile, decode_claims, encode_claims
from crypto.cose import decode_sign1
from crypto.ecard import (PREFIX, DeviceClaims, Presentation, PresentationError, Purpose, base32_decode,
                          base32_encode, challenge_code, challenge_text, compress_device_key, decode_presentation,
                          device_to_be_signed, encode_presentation, normalise_code, parse_challenge, present,
                          sign_ecard_credential)
from crypto.ecard_verify import MemoryReplayGuard, verify_presentation
from crypto.errors import ClaimsError
from crypto.pki import DevelopmentPki
from clock_support import CLOCK


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    made = CLOCK.utc() - dt.timedelta(days=1)
    return DevelopmentPki.create(tmp_path_factory.mktemp("ecard-pki"), b"ecard-format", now=made)


@pytest.fixture(scope="module")
def store(pki):
    now = CLOCK.now()
    s = TrustStore(pki.root)
    s.update(build_trust_list(version=1, issued_at=now - 60, next_update=now + 86_400,
                              issuer_certificates=[pki.issuer.certificate], signer=pki.trust_list_signer))
    return s


def ecard_record(record: dict | None = None, *, card_number: str = "SH01P0000000042X", serial: int = 1042) -> dict:
    rec = record or samples.typical_record()
    rec["card"].update(kind=2, serial=serial, card_number=card_number)
    return rec


def qr_version(text: str) -> int:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.version


def credential(pki, key, record=None, iat=None) -> bytes:
    return sign_ecard_credential(parse_credential(record or ecard_record()), pki.issuer,
                                 device_key=compress_device_key(key.public_key()), iat=iat or CLOCK.now() - 100)


def test_typical_presentation_fits_version_15_at_level_m(pki):
    """The issue's target: QR version <= 15 at level M (600 alphanumeric characters), for a
    typical record with a service-issued 16-character card number."""
    key = ec.generate_private_key(ec.SECP256R1())
    text = present(credential(pki, key), key, now=CLOCK.now())
    assert text.startswith(PREFIX) and text == text.upper()
    assert len(text) <= 600 and qr_version(text) <= 15
    assert qrcode.util.QRData(text).mode == qrcode.util.MODE_ALPHA_NUM


def test_long_record_is_larger_than_the_target(pki):
    """Measured, not hidden: the long record (long names, Chinese employer) needs version 19 at M."""
    key = ec.generate_private_key(ec.SECP256R1())
    text = present(credential(pki, key, ecard_record(samples.long_record())), key, now=CLOCK.now())
    assert 800 < len(text) < 900 and qr_version(text) == 19


def test_ecard_claim_set_is_lean_and_binds_the_device_key(pki):
    key = ec.generate_private_key(ec.SECP256R1())
    env = decode_sign1(credential(pki, key), max_size=2860)
    raw = cbor.loads(env.payload, max_size=4096, what="claims")
    ssc = raw[-65537]
    assert ssc[1] == 3 and ssc[7] == compress_device_key(key.public_key()) and len(ssc[7]) == 33
    assert 3 not in ssc[4] and 4 not in ssc[6]  # no USCC, no sequence
    assert ssc[5] == [1, 681] and ssc[6][3] == 2  # the medical entry only; kind electronic
    claims = decode_claims(env.payload, issuer_code="SH01", profiles=frozenset({Profile.ECARD}))
    assert claims.device_key.public_numbers() == key.public_key().public_numbers()
    assert claims.data["permit"]["employer"] == {"name": "Shanghai Example Tech Co., Ltd.", "uscc": None}
    assert [e["type"].name for e in claims.data["insurance"]] == ["MEDICAL"]


def test_an_ecard_credential_alone_is_not_a_credential(pki, store):
    """Without the phone's signature an e-card credential is refused: SSC1: + its bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    verdict = verify_credential(qrtext.encode_qr_text(credential(pki, key)), store, now=CLOCK.now())
    assert verdict.reasons == [Reason.CLAIMS_VALUE] and "e-card presentation" in verdict.checks[4].message


def test_a_static_credential_in_a_presentation_is_refused(pki, store):
    key = ec.generate_private_key(ec.SECP256R1())
    static = qrtext.decode_qr_text(qr_text_for(samples.typical(), pki.issuer, iat=CLOCK.now() - 100))
    text = present(static, key, now=CLOCK.now())
    verdict = verify_presentation(text, store, now=CLOCK.now(), replay=MemoryReplayGuard())
    assert verdict.reasons == [Reason.CLAIMS_VALUE]


def test_device_key_belongs_to_the_ecard_profile_only():
    cred = samples.typical()
    with pytest.raises(ClaimsError) as exc:
        encode_claims(cred, profile=Profile.QR, iat=1, device_key=b"\x02" + b"\x01" * 32)
    assert exc.value.reason is Reason.CLAIMS_UNKNOWN_KEY
    with pytest.raises(ClaimsError) as exc:  # a point that is not on the curve
        encode_claims(parse_credential(ecard_record()), profile=Profile.ECARD, iat=1, device_key=b"\x02" + b"\xff" * 32)
    assert exc.value.reason is Reason.CLAIMS_VALUE


def test_presentation_round_trip_and_what_is_signed(pki):
    key = ec.generate_private_key(ec.SECP256R1())
    cred = credential(pki, key)
    text = present(cred, key, now=1_800_000_000, purpose=Purpose.PERMIT, challenge=b"\x01\x02\x03\x04\x05",
                   nonce=b"\xaa\xbb\xcc\xdd")
    p = decode_presentation(text)
    assert p.credential == cred and p.claims == DeviceClaims(1_800_000_000, b"\xaa\xbb\xcc\xdd", Purpose.PERMIT,
                                                             b"\x01\x02\x03\x04\x05")
    assert cbor.loads(p.device, max_size=96, what="device claims") == {
        1: 1_800_000_000, 2: b"\xaa\xbb\xcc\xdd", 3: 2, 4: b"\x01\x02\x03\x04\x05"}
    tbs = device_to_be_signed(cred, p.device)
    assert cbor.loads(tbs, max_size=4096, what="tbs") == ["Signature1", b"\xa1\x01\x26", cred, p.device]
    assert encode_presentation(p) == text


BAD = {
    "not an array": (cbor.dumps({1: 2}), Reason.ECARD_FORMAT),
    "two items": (cbor.dumps([b"a", b"b"]), Reason.ECARD_FORMAT),
    "text item": (cbor.dumps([b"a", "b", b"c" * 64]), Reason.ECARD_FORMAT),
    "short signature": (cbor.dumps([b"a", cbor.dumps({1: 1, 2: b"1234", 3: 0}), b"c" * 63]), Reason.ECARD_FORMAT),
    "device claims unknown key": (cbor.dumps([b"a", cbor.dumps({1: 1, 2: b"1234", 3: 0, 5: 1}), b"c" * 64]),
                                  Reason.ECARD_FORMAT),
    "nonce too short": (cbor.dumps([b"a", cbor.dumps({1: 1, 2: b"123", 3: 0}), b"c" * 64]), Reason.ECARD_FORMAT),
    "purpose 9": (cbor.dumps([b"a", cbor.dumps({1: 1, 2: b"1234", 3: 9}), b"c" * 64]), Reason.ECARD_FORMAT),
    "time missing": (cbor.dumps([b"a", cbor.dumps({2: b"1234", 3: 0}), b"c" * 64]), Reason.ECARD_FORMAT),
    "device claims not CBOR": (cbor.dumps([b"a", b"\xff", b"c" * 64]), Reason.CBOR_MALFORMED),
    "trailing bytes": (cbor.dumps([b"a", cbor.dumps({1: 1, 2: b"1234", 3: 0}), b"c" * 64]) + b"\x00",
                       Reason.CBOR_TRAILING_BYTES),
}


@pytest.mark.parametrize("name", BAD)
def test_decoder_refuses_malformed_presentations(name):
    from crypto import base45

    raw, reason = BAD[name]
    with pytest.raises(Exception) as exc:
        decode_presentation(PREFIX + base45.encode(raw))
    assert exc.value.reason is reason


def test_prefix_rules_are_the_qr_texts():
    with pytest.raises(Exception) as exc:
        decode_presentation("ssc1e:ABC")
    assert exc.value.reason is Reason.QR_LOWERCASE
    with pytest.raises(Exception) as exc:
        decode_presentation(PREFIX)
    assert exc.value.reason is Reason.QR_EMPTY


def test_challenge_codes():
    challenge = bytes.fromhex("39a68bee5d")
    assert base32_decode(base32_encode(challenge), 5) == challenge
    code = challenge_code(challenge)
    assert len(code) == 9 and code[4] == "-" and challenge_text(challenge) == "SSC1C:" + code
    for typed in (code, code.lower(), code.replace("-", ""), "SSC1C:" + code, "  " + code.lower() + " "):
        assert parse_challenge(typed) == challenge
    with pytest.raises(PresentationError):
        parse_challenge("HELLO")
    assert normalise_code("abcd-efgh-ijkl") == "ABCDEFGH1JK1"


def test_replay_key_is_over_what_the_phone_signed():
    p = Presentation(b"c", DeviceClaims(1, b"1234").encode(), b"s" * 64, DeviceClaims(1, b"1234"))
    assert len(p.replay_key()) == 16 and p.replay_key() != Presentation(b"d", p.device, p.signature,
                                                                         p.claims).replay_key()
