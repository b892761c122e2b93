"""COSE_Sign1 structure (RFC 9052 §4.2; docs/spec.md §3): every malformed shape is
rejected with its own reason code."""

from __future__ import annotations

import cbor2
import pytest

from crypto import cbor, cose
from crypto.errors import CborError, CoseError, SscError
from crypto.reasons import Reason

KID = b"\x01" * 8
PROTECTED = cbor.dumps({1: -7, 4: KID})
SIG = b"\x00" * 64


def encode(value) -> bytes:
    return cbor2.dumps(value)


def sign1(protected=PROTECTED, unprotected=None, payload=b"\xa0", signature=SIG, tag=18) -> bytes:
    return encode(cbor2.CBORTag(tag, [protected, unprotected or {}, payload, signature]))


def reason_of(data: bytes) -> Reason:
    with pytest.raises(SscError) as err:
        cose.decode_sign1(data, max_size=4096)
    return err.value.reason


def test_well_formed_decodes():
    env = cose.decode_sign1(sign1(), max_size=4096)
    assert env.algorithm is cose.Algorithm.ES256 and env.kid == KID and env.payload == b"\xa0"


@pytest.mark.parametrize("data,reason", [
    (encode([PROTECTED, {}, b"", SIG]), Reason.COSE_UNTAGGED),
    (sign1(tag=98), Reason.COSE_WRONG_TAG),
    (sign1(tag=17), Reason.COSE_WRONG_TAG),
    (encode(cbor2.CBORTag(18, [PROTECTED, {}, b""])), Reason.COSE_STRUCTURE),
    (encode(cbor2.CBORTag(18, {1: 2})), Reason.COSE_STRUCTURE),
    (sign1(protected={1: -7}), Reason.COSE_STRUCTURE),
    (sign1(payload=None), Reason.COSE_DETACHED_PAYLOAD),
    (sign1(payload="text"), Reason.COSE_STRUCTURE),
    (sign1(signature="sig"), Reason.COSE_STRUCTURE),
    (sign1(protected=cbor.dumps({4: KID}), unprotected={1: -7}), Reason.COSE_ALG_UNPROTECTED),
    (sign1(protected=b""), Reason.COSE_ALG_MISSING),
    (sign1(protected=cbor.dumps({4: KID})), Reason.COSE_ALG_MISSING),
    (sign1(protected=cbor.dumps({1: -35, 4: KID})), Reason.COSE_ALG_UNKNOWN),
    (sign1(protected=cbor.dumps({1: "ES256", 4: KID})), Reason.COSE_ALG_UNKNOWN),
    (sign1(protected=cbor.dumps({1: True, 4: KID})), Reason.COSE_ALG_UNKNOWN),
    (sign1(protected=cbor.dumps({1: -7, 2: [99], 4: KID})), Reason.COSE_HEADER),
    (sign1(protected=cbor.dumps({1: -7, 4: KID, 99: 1})), Reason.COSE_HEADER),
    (sign1(protected=cbor.dumps([1, -7])), Reason.COSE_HEADER),
    (sign1(unprotected={77: 1}), Reason.COSE_HEADER),
    (sign1(protected=cbor.dumps({1: -7})), Reason.COSE_KID),
    (sign1(protected=cbor.dumps({1: -7, 4: b"\x01" * 7})), Reason.COSE_KID),
    (sign1(protected=cbor.dumps({1: -7, 4: "kid"})), Reason.COSE_KID),
    (sign1(protected=cbor.dumps({1: -7}), unprotected={4: KID}), Reason.COSE_KID),
    (sign1(signature=b"\x00" * 63), Reason.COSE_SIGNATURE_LENGTH),
    (sign1(signature=b"\x00" * 65), Reason.COSE_SIGNATURE_LENGTH),
    (sign1(signature=b""), Reason.COSE_SIGNATURE_LENGTH),
    (sign1() + b"\x00", Reason.CBOR_TRAILING_BYTES),
    (b"", Reason.CBOR_MALFORMED),
    (b"\xd2", Reason.CBOR_MALFORMED),
    (sign1()[:-1], Reason.CBOR_MALFORMED),
    (b"\xd2\x9f" + encode(PROTECTED) + b"\xa0\x41\xa0" + encode(SIG) + b"\xff", Reason.CBOR_MALFORMED),
    (b"\xc1\x1a\x5f\x00\x00\x00", Reason.CBOR_MALFORMED),  # a date tag: semantic tags are refused
    (b"\xd2\x84" + b"\x4c\xa3\x01\x26\x04\x48" + KID + b"\x01\x26"[:0] + b"", Reason.CBOR_MALFORMED),
])
def test_malformed_is_rejected_with_its_reason(data, reason):
    assert reason_of(data) is reason


def test_duplicate_key_in_protected_header():
    # {1: -7, 4: kid, 1: -7}: hand-encoded, cbor2 cannot produce it.
    protected = b"\xa3\x01\x26\x04\x48" + KID + b"\x01\x26"
    assert reason_of(sign1(protected=protected)) is Reason.CBOR_DUPLICATE_KEY


def test_duplicate_key_in_outer_unprotected_header():
    data = b"\xd2\x84" + cbor2.dumps(PROTECTED) + b"\xa2\x18\x21\x40\x18\x21\x40" + b"\x41\xa0" + cbor2.dumps(SIG)
    assert reason_of(data) is Reason.CBOR_DUPLICATE_KEY


def test_header_in_both_buckets():
    assert reason_of(sign1(protected=cbor.dumps({1: -7, 4: KID, 3: 0}), unprotected={3: 0})) is Reason.COSE_HEADER


def test_too_large():
    with pytest.raises(CborError) as err:
        cose.decode_sign1(sign1(payload=b"x" * 5000), max_size=4096)
    assert err.value.reason is Reason.CBOR_TOO_LARGE


def test_deep_nesting_is_refused_not_a_crash():
    deep = b"\x81" * 10_000 + b"\x00"
    with pytest.raises(CborError):
        cbor.loads(deep, max_size=20_000, what="deep")


def test_not_deterministic_is_detected_when_asked():
    # {1: 2} with the integer 2 in a two-byte form.
    with pytest.raises(CborError) as err:
        cbor.loads(b"\xa1\x01\x18\x02", max_size=10, what="x", deterministic=True)
    assert err.value.reason is Reason.CBOR_NOT_DETERMINISTIC
    assert cbor.loads(b"\xa1\x01\x02", max_size=10, what="x", deterministic=True) == {1: 2}


def test_sig_structure_matches_rfc9052_encoding():
    expected = cbor2.dumps(["Signature1", PROTECTED, b"", b"payload"])
    assert cose.sig_structure(PROTECTED, b"payload") == expected
    big = b"p" * 70_000
    assert cose.sig_structure(PROTECTED, big) == cbor2.dumps(["Signature1", PROTECTED, b"", big])


def test_sign_and_verify_with_both_algorithms(pki, eddsa_pki):
    for signer in (pki.issuer, eddsa_pki.issuer):
        data = cose.sign1(b"\xa1\x01\x02", signer)
        env = cose.decode_sign1(data, max_size=4096)
        key = signer.certificate.public_key()
        assert cose.verify_signature(env.algorithm, key, env.to_be_signed(), env.signature)
        # a key of the other algorithm never verifies
        other = (eddsa_pki if signer is pki.issuer else pki).issuer.certificate.public_key()
        assert not cose.verify_signature(env.algorithm, other, env.to_be_signed(), env.signature)


def test_errors_are_typed():
    with pytest.raises(CoseError):
        cose.decode_sign1(sign1(tag=98), max_size=4096)
