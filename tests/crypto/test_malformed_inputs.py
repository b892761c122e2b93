"""Typed errors on the paths fuzzing reached (issue 11 item 4; docs/spec.md §2.2, §3.1,
§6.5, §10.2): a malformed certificate in a trust list or a delta, CBOR simple values and
booleans where integer keys belong, a protected header label `true`, and the security
object's own reason codes. Everything is signed on the fixed clock of signed_samples."""

from __future__ import annotations

import cbor2
import pytest

from crypto import Check, Outcome, Reason, cbor, cose, verify_credential, verify_security_object
from crypto.chip import decode_security_object_payload
from crypto.ecard import PresentationError, decode_device_claims
from crypto.errors import CborError, CoseError, SecurityObjectError, TrustListError
from crypto.revocation_delta import load_revocation_delta
from crypto.trustlist import load_trust_list

from signed_samples import NOW, make_samples


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("malformed"))


# ---------------------------------------------------------------- helpers

def flipped(der: bytes, which: str) -> bytes:
    """The certificate with one byte flipped, as the fuzzer found: the version 02 -> 2e, or
    the subject's countryName tag PrintableString 0x13 -> 0x93."""
    if which == "version":
        at = der.index(bytes.fromhex("a003020102")) + 4
        return der[:at] + b"\x2e" + der[at + 1:]
    country = bytes.fromhex("0603550406" "13")  # OID countryName, then the PrintableString tag
    at = der.index(country, der.index(country) + 1) + 5  # the second name is the subject
    return der[:at] + b"\x93" + der[at + 1:]


def with_x5chain(signed: bytes, certificate: bytes) -> bytes:
    """The same signed object with another x5chain (the unprotected header is not signed)."""
    items = list(cbor2.loads(signed).value)
    items[1] = {cose.HDR_X5CHAIN: certificate}
    return cbor2.dumps(cbor2.CBORTag(cose.COSE_SIGN1_TAG, items))


def resign(signer, payload: bytes, *, protected: bytes | None = None, x5chain: bytes | None = None) -> bytes:
    """A COSE_Sign1 over `payload` (raw CBOR bytes) with a verbatim protected header."""
    protected = protected if protected is not None else cose.protected_header(signer.algorithm, signer.kid)
    signature = signer.sign(cose.sig_structure(protected, payload))
    unprotected = {cose.HDR_X5CHAIN: x5chain} if x5chain is not None else {}
    return cbor2.dumps(cbor2.CBORTag(cose.COSE_SIGN1_TAG, [protected, unprotected, payload, signature]))


def payload_of(signed: bytes) -> dict:
    return cbor2.loads(cbor2.loads(signed).value[2])


S = cbor2.CBORSimpleValue


# ---------------------------------------------------------------- malformed certificates (§6.5 step 3)

@pytest.mark.parametrize("which", ["version", "subject"])
def test_trust_list_whose_signer_certificate_has_a_flipped_byte_is_tl_malformed(s, which):
    store = s.store()
    held = store.trust_list
    bad = with_x5chain(s.trust_list(2), flipped(s.trust_list_signer_der, which))
    with pytest.raises(TrustListError) as err:
        store.update(bad)
    assert err.value.reason is Reason.TL_MALFORMED and "certificate" in err.value.message
    assert store.trust_list is held


@pytest.mark.parametrize("which", ["version", "subject"])
def test_delta_whose_signer_certificate_has_a_flipped_byte_is_tl_malformed(s, which):
    bad = with_x5chain(s.delta, flipped(s.trust_list_signer_der, which))
    with pytest.raises(TrustListError) as err:
        load_revocation_delta(bad, s.pki.root)
    assert err.value.reason is Reason.TL_MALFORMED


@pytest.mark.parametrize("which", ["version", "subject"])
def test_trust_list_listing_an_issuer_certificate_with_a_flipped_byte_is_tl_malformed(s, which):
    body = payload_of(s.trust_list(2))
    body[4] = [flipped(body[4][0], which)]
    bad = resign(s.pki.trust_list_signer, cbor.dumps(body), x5chain=s.trust_list_signer_der)
    with pytest.raises(TrustListError) as err:
        load_trust_list(bad, s.pki.root)
    assert err.value.reason is Reason.TL_MALFORMED


# ---------------------------------------------------------------- integer keys are integers (§2.2)

def test_simple_values_true_and_floats_are_not_integer_keys_for_cbor():
    # {1: 1, true: 2}, {1: 1, 1.0: 2} and {7: 1, simple(7): 2} are two keys each, not duplicates
    for data in ("a20101f502", "a20101f93c0002", "a20701e702"):
        value = cbor.loads(bytes.fromhex(data), max_size=64, what="map")
        assert len(value) == 2 and sum(type(k) is int for k in value) == 1
    with pytest.raises(CborError) as err:  # the same key twice is a duplicate, whatever its width
        cbor.loads(bytes.fromhex("a2f93c0001fb3ff000000000000002"), max_size=64, what="map")
    assert err.value.reason is Reason.CBOR_DUPLICATE_KEY


def test_protected_header_label_true_is_a_bad_header_label(s):
    """{1: -7, 4: kid, true: 1}: CBOR sees three keys; `true` is not a label (COSE_HEADER)."""
    protected = bytes.fromhex("a3012604") + cbor.encode_bstr(s.pki.issuer.kid) + bytes.fromhex("f501")
    signed = resign(s.pki.issuer, cbor2.loads(s.qr_cose).value[2], protected=protected)
    with pytest.raises(CoseError) as err:
        cose.decode_sign1(signed, max_size=4096)
    assert err.value.reason is Reason.COSE_HEADER
    verdict = verify_credential(signed, s.store(), now=NOW)
    assert verdict.reasons == [Reason.COSE_HEADER] and verdict.result(Check.FORMAT).status.value == "failed"


def test_security_object_with_simple_7_as_the_digests_key_is_refused(s):
    body = payload_of(s.security_object)
    body[S(7)] = body.pop(7)
    signed = resign(s.pki.issuer, cbor2.dumps(body, canonical=True))
    verdict = verify_security_object(signed, s.store(), now=NOW)
    assert verdict.outcome is Outcome.INVALID and verdict.reasons == [Reason.SO_UNKNOWN_KEY]


def test_trust_list_payload_with_simple_value_keys_is_refused(s):
    body = payload_of(s.trust_list(2))
    renamed = {S(k): v for k, v in body.items()}
    bad = resign(s.pki.trust_list_signer, cbor2.dumps(renamed), x5chain=s.trust_list_signer_der)
    store = s.store()
    with pytest.raises(TrustListError) as err:
        store.update(bad)
    assert err.value.reason is Reason.TL_MALFORMED and store.trust_list.version == 1


@pytest.mark.parametrize("where", ["revocation entry", "coded set", "delta payload", "delta entry"])
def test_simple_value_keys_inside_revocation_data_are_refused(s, where):
    if where.startswith("delta"):
        body = payload_of(s.delta)
        target = body if where == "delta payload" else body[6][0]
    else:
        body = payload_of(s.trust_list(2, revocation_format=2))
        target = body[5][0] if where == "revocation entry" else body[5][0][3]
    key = max(target)
    target[S(key)] = target.pop(key)
    bad = resign(s.pki.trust_list_signer, cbor2.dumps(body), x5chain=s.trust_list_signer_der)
    with pytest.raises(TrustListError) as err:
        (load_revocation_delta if where.startswith("delta") else load_trust_list)(bad, s.pki.root)
    assert err.value.reason is Reason.TL_MALFORMED


@pytest.mark.parametrize("key", [S(6), True, 6.0])
def test_claims_with_a_key_that_is_not_an_integer_are_unknown_keys(s, key):
    body = payload_of(s.qr_cose)
    body[key] = body.pop(6)
    verdict = verify_credential(resign(s.pki.issuer, cbor2.dumps(body)), s.store(), now=NOW)
    assert verdict.reasons == [Reason.CLAIMS_UNKNOWN_KEY]


def test_device_claims_with_a_simple_value_key_are_ecard_format():
    with pytest.raises(PresentationError) as err:
        decode_device_claims(cbor2.dumps({S(1): 1772416790, 2: b"\x00" * 4, 3: 0}))
    assert err.value.reason is Reason.ECARD_FORMAT


# ---------------------------------------------------------------- the security object's codes (§10.2)

def _so(s, edit) -> bytes:
    body = payload_of(s.security_object)
    edit(body)
    return resign(s.pki.issuer, cbor2.dumps(body, canonical=True))


SO_FAULTS = {
    "key 0": (lambda b: b.update({0: [1]}), Reason.SO_UNKNOWN_KEY),
    "key 9": (lambda b: b.update({9: 1}), Reason.SO_UNKNOWN_KEY),
    "no exp": (lambda b: b.pop(8), Reason.SO_MISSING),
    "serial as text": (lambda b: b.update({3: "42"}), Reason.SO_TYPE),
    "digests as array": (lambda b: b.update({7: [b[7][0]]}), Reason.SO_TYPE),
    "version 2": (lambda b: b.update({1: 2}), Reason.SO_VALUE),
    "SHA-384": (lambda b: b.update({6: -43}), Reason.SO_VALUE),
    "another centre": (lambda b: b.update({4: "BJ01"}), Reason.SO_VALUE),
    "group 6": (lambda b: b[7].update({6: b"\x00" * 32}), Reason.SO_UNKNOWN_KEY),
    "short digest": (lambda b: b[7].update({2: b"\x00" * 31}), Reason.SO_VALUE),
    "digest as text": (lambda b: b[7].update({2: "00"}), Reason.SO_TYPE),
    "no chip key digest": (lambda b: b[7].pop(5), Reason.SO_MISSING),
}


@pytest.mark.parametrize("fault", SO_FAULTS)
def test_security_object_faults_have_their_own_codes(s, fault):
    edit, reason = SO_FAULTS[fault]
    verdict = verify_security_object(_so(s, edit), s.store(), now=NOW)
    assert verdict.outcome is Outcome.INVALID and verdict.reasons == [reason], verdict.to_dict()
    assert verdict.result(Check.CLAIMS).reason is reason


def test_security_object_that_is_not_a_map_is_so_type(s):
    signed = resign(s.pki.issuer, cbor2.dumps([1, 2, 3]))
    assert verify_security_object(signed, s.store(), now=NOW).reasons == [Reason.SO_TYPE]


def test_security_object_decoder_reports_faults_in_key_order(s):
    body = payload_of(s.security_object)
    body[3], body[1] = "42", 2  # a type fault (key 3) comes before a value fault (key 1)
    with pytest.raises(SecurityObjectError) as err:
        decode_security_object_payload(cbor2.dumps(body, canonical=True))
    assert err.value.reason is Reason.SO_TYPE


# ---------------------------------------------------------------- order of the claims checks (§4.7)

@pytest.mark.parametrize("edit, reason", [
    (lambda b: b[-65537].update({2: None}), Reason.CLAIMS_TYPE),          # a group present as null
    (lambda b: b[-65537].update({5: None}), Reason.CLAIMS_TYPE),          # insurance present as null
    (lambda b: b[-65537].pop(5), Reason.CLAIMS_MISSING),
    (lambda b: b.update({6: "x"}) or b.pop(4), Reason.CLAIMS_TYPE),      # iat wrong type before exp missing
    (lambda b: b.pop(6) and b.update({4: "x"}), Reason.CLAIMS_MISSING),  # iat missing before exp wrong type
    (lambda b: b[-65537].pop(1), Reason.CLAIMS_MISSING),                 # profile absent
    (lambda b: b[-65537].update({1: True}), Reason.CLAIMS_TYPE),         # profile not an integer
    (lambda b: b[-65537].update({1: 4}), Reason.CLAIMS_VALUE),
    (lambda b: b[-65537][5].__setitem__(0, [0, 5]) or b[-65537][5].__setitem__(1, "x"), Reason.CLAIMS_VALUE),
    (lambda b: b[-65537][5].__setitem__(0, [1, 9999]) or b[-65537][5].__setitem__(1, "x"), Reason.CLAIMS_TYPE),
])
def test_claims_checks_run_in_the_order_of_the_spec(s, edit, reason):
    body = payload_of(s.qr_cose)
    edit(body)
    verdict = verify_credential(resign(s.pki.issuer, cbor2.dumps(body)), s.store(), now=NOW)
    assert verdict.reasons == [reason], verdict.to_dict()
