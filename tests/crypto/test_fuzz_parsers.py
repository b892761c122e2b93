"""Bounded property tests of every parser of untrusted bytes (issue 11 item 4): QR text,
base45, CBOR, COSE_Sign1, the claim sets of the three profiles, the security object,
trust lists (revocation formats 1 and 2), revocation deltas, e-card presentations, device
claims, challenge codes and the chip's TLV files.

The property, for each: any input gives a verdict or a typed error (an SscError, or the
reader's TlvError/ValueError for chip files) — never another exception, never
INTERNAL_ERROR — and a mutated signed object is never VALID unless it still carries the
very bytes that were signed. The inputs are mutations of real signed objects (flip, insert,
delete, truncate bytes; replace an integer key by simple(n), a boolean or a float; replace
a value by another type), re-signed where the mutation must reach the parser behind the
signature. Each property runs a few hundred examples (about a second on a busy core).
Everything is signed on the fixed clock of tests/support/signed_samples.py.
"""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from crypto import Outcome, Reason, base45, cbor, cose, decode_claims, qrtext, verify_credential, \
    verify_security_object
from crypto.cbor_exact import NonIntegerKey, loads as exact_loads
from crypto.chip import Group, decode_group, decode_security_object_payload
from crypto.claims import Profile
from crypto.ecard import decode_device_claims, decode_presentation, parse_challenge
from crypto.ecard_verify import MemoryReplayGuard, verify_presentation
from crypto.errors import SscError
from crypto.revocation import RevocationSet
from crypto.revocation_delta import load_revocation_delta
from crypto.trustlist import load_trust_list
from firmware_tools.card.profile import chip_key_point
from firmware_tools.iso7816.tlv import TlvError
from firmware_tools.reader import _checked_item

from signed_samples import NOW, FILES, make_samples

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("fuzz"))


# ---------------------------------------------------------------- mutations

@st.composite
def byte_mutations(draw, original: bytes) -> bytes:
    """1-4 of: flip bits of a byte, insert a byte, delete a byte, truncate."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data.insert(at, draw(st.integers(0, 255)))
        elif op == "delete" and data:
            del data[at]
        elif op == "truncate":
            del data[at:]
    return bytes(data)


def _containers(value, path=()):
    """Every map and array inside `value`, with its path."""
    if isinstance(value, (dict, list)):
        yield path, value
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from _containers(item, path + (key,))


ODD_KEYS = st.one_of(st.builds(cbor2.CBORSimpleValue, st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 19, 32, 255])),
                     st.booleans(), st.floats(-8, 8).map(float).filter(lambda f: f == int(f)),
                     st.none(), st.just(cbor2.undefined))
ODD_VALUES = st.one_of(ODD_KEYS, st.integers(-2**64, 2**64), st.binary(max_size=40), st.text(max_size=40),
                       st.lists(st.integers(0, 9), max_size=3), st.just({}),
                       st.builds(cbor2.CBORTag, st.sampled_from([18, 61, 64, 98, 1000]), st.integers(0, 9)))


@st.composite
def structure_mutations(draw, original):
    """The decoded `original` with one structure-aware change: an integer key replaced by
    simple(n), a boolean, a float, null or undefined (kept apart from the integer it
    equals in Python); a value replaced by another CBOR type; an entry dropped or added."""
    value = cbor2.loads(cbor2.dumps(original))
    containers = list(_containers(value))
    path, target = draw(st.sampled_from(containers))
    op = draw(st.sampled_from(["key", "value", "drop", "add"]))
    if isinstance(target, dict) and target:
        key = draw(st.sampled_from(sorted(target, key=repr)))
        if op == "key":
            replacement = draw(ODD_KEYS)
            items = [(NonKey(replacement) if k == key else k, v) for k, v in target.items()]
            target.clear()
            target.update(items)
        elif op == "value":
            target[key] = draw(ODD_VALUES)
        elif op == "drop":
            del target[key]
        else:
            target[draw(st.integers(-70000, 70000))] = draw(ODD_VALUES)
    elif isinstance(target, list) and target:
        at = draw(st.integers(0, len(target) - 1))
        if op in ("key", "value"):
            target[at] = draw(ODD_VALUES)
        elif op == "drop":
            del target[at]
        else:
            target.append(draw(ODD_VALUES))
    return value


class NonKey:
    """A key to encode as-is (a simple value, boolean or float) although Python holds it
    equal to an integer key of the same map."""

    def __init__(self, value):
        self.value = value


def encode(value) -> bytes:
    """CBOR of a mutated structure, NonKey keys written as their own CBOR type."""
    return cbor2.dumps(value, default=_encode_nonkey, canonical=False)


def _encode_nonkey(encoder, value):
    if isinstance(value, NonKey):
        encoder.encode(value.value)
        return
    raise TypeError(type(value).__name__)


def resign(signer, payload: bytes, x5chain: bytes | None = None) -> bytes:
    protected = cose.protected_header(signer.algorithm, signer.kid)
    signature = signer.sign(cose.sig_structure(protected, payload))
    unprotected = {cose.HDR_X5CHAIN: x5chain} if x5chain else {}
    return cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, signature]))


def payload_of(signed: bytes):
    return cbor2.loads(cbor2.loads(signed).value[2])


def same_signed_bytes(a: bytes, b: bytes) -> bool:
    """Whether two COSE_Sign1 carry the same protected header, payload and signature."""
    x, y = cose.decode_sign1(a, max_size=1 << 24), cose.decode_sign1(b, max_size=1 << 24)
    return (x.protected_bytes, x.payload, x.signature) == (y.protected_bytes, y.payload, y.signature)


def typed(call, *errors):
    """Run `call`; a typed error is an answer, anything else fails the property."""
    try:
        return call()
    except (SscError, *errors) as exc:
        return exc


# ---------------------------------------------------------------- text layers

@FUZZ
@given(st.one_of(st.text(max_size=300), st.text(alphabet="SC1:E$%*+-./ 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabc\r\n\t",
                                                max_size=300), st.binary(max_size=50), st.integers()))
def test_qr_text_any_input_is_bytes_or_a_typed_error(text):
    result = typed(lambda: qrtext.decode_qr_text(text))
    assert isinstance(result, (bytes, SscError))
    assert isinstance(typed(lambda: parse_challenge(text) if isinstance(text, str) else b""), (bytes, SscError))


@FUZZ
@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=200))
def test_base45_any_text_decodes_or_is_a_typed_error(text):
    result = typed(lambda: base45.decode(text))
    assert isinstance(result, (bytes, SscError))
    if isinstance(result, bytes):
        assert base45.encode(result) == text


@FUZZ
@given(st.data())
def test_mutated_qr_text_is_never_a_false_valid(s, data):
    text = data.draw(st.one_of(byte_mutations(s.qr_text.encode()).map(lambda b: b.decode("latin-1")),
                               byte_mutations(s.qr_cose)))
    verdict = verify_credential(text, s.store(), now=NOW)
    assert Reason.INTERNAL_ERROR not in verdict.reasons, verdict.to_dict()
    if verdict.outcome is Outcome.VALID:
        raw = qrtext.decode_qr_text(text) if isinstance(text, str) else text
        assert same_signed_bytes(raw, s.qr_cose)


# ---------------------------------------------------------------- CBOR

CBOR_VALUES = st.recursive(
    st.one_of(st.integers(-2**64, 2**64 - 1), st.binary(max_size=8), st.text(max_size=8), st.booleans(), st.none(),
              st.builds(cbor2.CBORSimpleValue, st.sampled_from([0, 7, 19, 32, 255])), st.floats(allow_nan=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.integers(-5, 5), st.text(max_size=2)), inner, max_size=4),
                            st.builds(cbor2.CBORTag, st.sampled_from([0, 2, 18, 64, 1000, 55799]), inner)),
    max_leaves=12)


def _plain(value):
    """A comparable form of what either decoder gives."""
    if isinstance(value, NonIntegerKey):
        value = value.value
    if isinstance(value, cbor2.CBORTag):
        return ("tag", value.tag, _plain(value.value))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(_plain(v) for v in value))
    if isinstance(value, dict) or hasattr(value, "items"):
        return ("map", frozenset((repr(_plain(k)), _plain(v)) for k, v in value.items()))
    return (type(value).__name__, repr(value))


@FUZZ
@given(st.data())
def test_the_exact_reader_agrees_with_cbor2_on_any_bytes(data):
    """crypto.cbor_exact reads items as cbor2 does (same faults, same order, same values):
    it replaces cbor2 only for maps whose keys Python merges (spec §2.2)."""
    raw = data.draw(st.one_of(CBOR_VALUES.map(lambda v: cbor2.dumps(v)).flatmap(byte_mutations),
                              CBOR_VALUES.map(lambda v: cbor2.dumps(v)), st.binary(max_size=40)))
    first = typed(lambda: cbor.loads(raw, max_size=4096, what="item"))
    second = typed(lambda: exact_loads(raw, "item"))
    if isinstance(first, SscError):
        if first.reason is Reason.CBOR_DUPLICATE_KEY:
            return  # where the two differ by design: a key Python merges with another
        assert isinstance(second, SscError) and second.reason is first.reason, (raw.hex(), first, second)
    else:
        assert not isinstance(second, SscError), (raw.hex(), second)
        assert _plain(first) == _plain(second), raw.hex()


# ---------------------------------------------------------------- COSE and claims

@FUZZ
@given(st.data())
def test_cose_sign1_any_mutation_is_a_typed_error_or_a_structure(s, data):
    source = data.draw(st.sampled_from([s.qr_cose, s.chip_cose, s.security_object, s.ecard_cose, s.delta]))
    protected, unprotected, payload, signature = cbor2.loads(source).value
    envelope = [cbor2.loads(protected), dict(unprotected), payload, signature]  # the headers as maps
    raw = data.draw(st.one_of(byte_mutations(source), structure_mutations(envelope).map(_sign1_bytes)))
    result = typed(lambda: cose.decode_sign1(raw, max_size=1 << 24))
    assert isinstance(result, (cose.CoseSign1, SscError))


def _sign1_bytes(envelope) -> bytes:
    """A mutated [protected header map, unprotected, payload, signature] as a tagged COSE_Sign1."""
    if envelope and isinstance(envelope[0], dict):
        envelope = [encode(envelope[0])] + envelope[1:]
    return cbor2.dumps(cbor2.CBORTag(18, envelope), default=_encode_nonkey)


@FUZZ
@given(st.data())
def test_claims_of_every_profile_resigned_after_a_structure_mutation(s, data):
    """Mutated claim sets, signed again by the real issuer key: the claims check answers
    with a CLAIMS_*/CBOR_* reason or passes; a key that is not an integer never passes."""
    source, profiles = data.draw(st.sampled_from([(s.qr_cose, None), (s.chip_cose, None),
                                                  (s.ecard_cose, frozenset({Profile.ECARD}))]))
    mutated = data.draw(structure_mutations(payload_of(source)))
    payload = encode(mutated)
    kwargs = {"profiles": profiles} if profiles else {}
    result = typed(lambda: decode_claims(payload, issuer_code="SH01", **kwargs))
    if isinstance(result, SscError):
        assert result.reason.value.startswith(("CLAIMS_", "CBOR_")), result
    else:
        assert all(type(k) is int for k in cbor.loads(payload, max_size=4096, what="claims"))
    if profiles is None:
        verdict = verify_credential(resign(s.pki.issuer, payload), s.store(), now=NOW)
        assert Reason.INTERNAL_ERROR not in verdict.reasons


@FUZZ
@given(st.data())
def test_security_object_any_mutation_is_typed_and_never_a_false_valid(s, data):
    if data.draw(st.booleans()):
        raw = data.draw(byte_mutations(s.security_object))
        verdict = verify_security_object(raw, s.store(), now=NOW)
        assert Reason.INTERNAL_ERROR not in verdict.reasons
        assert verdict.outcome is not Outcome.VALID or same_signed_bytes(raw, s.security_object)
        return
    payload = encode(data.draw(structure_mutations(payload_of(s.security_object))))
    result = typed(lambda: decode_security_object_payload(payload, "SH01"))
    assert not isinstance(result, SscError) or result.reason.value.startswith(("SO_", "CBOR_")), result
    verdict = verify_security_object(resign(s.pki.issuer, payload), s.store(), now=NOW)
    assert Reason.INTERNAL_ERROR not in verdict.reasons
    if verdict.outcome is Outcome.VALID:  # only a change the format allows: keys stay integers
        assert cbor.int_keys(cbor.loads(payload, max_size=4096, what="so"))


# ---------------------------------------------------------------- trust lists and deltas

@FUZZ
@given(st.data())
def test_trust_list_and_delta_any_byte_mutation_is_a_typed_refusal(s, data):
    kind = data.draw(st.sampled_from(["format 1", "format 2", "delta"]))
    source = {"format 1": s.trust_list(2), "format 2": s.coded_lists[1], "delta": s.delta}[kind]
    raw = data.draw(byte_mutations(source))
    load = load_revocation_delta if kind == "delta" else load_trust_list
    result = typed(lambda: load(raw, s.pki.root))
    if isinstance(result, SscError):
        assert result.reason.value.startswith("TL_"), result
    else:
        assert same_signed_bytes(raw, source)


@FUZZ
@given(st.data())
def test_trust_list_and_delta_payload_mutations_resigned_are_typed(s, data):
    kind = data.draw(st.sampled_from(["format 1", "format 2", "delta"]))
    source = {"format 1": s.trust_list(2), "format 2": s.coded_lists[1], "delta": s.delta}[kind]
    payload = encode(data.draw(structure_mutations(payload_of(source))))
    signed = resign(s.pki.trust_list_signer, payload, s.trust_list_signer_der)
    load = load_revocation_delta if kind == "delta" else load_trust_list
    result = typed(lambda: load(signed, s.pki.root))
    if isinstance(result, SscError):
        assert result.reason.value.startswith("TL_"), result
    else:
        assert cbor.int_keys(cbor.loads(payload, max_size=1 << 24, what="payload"))


@FUZZ
@given(st.data())
def test_coded_revocation_set_any_mutation_is_typed(data):
    coded = RevocationSet.from_serials([3, 4, 9, 30], base=0, size=40).encode(k=2)
    raw = data.draw(st.one_of(structure_mutations(coded).map(encode), byte_mutations(cbor.dumps(coded))))
    value = typed(lambda: cbor.loads(raw, max_size=4096, what="coded set"))
    if isinstance(value, SscError):
        return
    result = typed(lambda: RevocationSet.decode(value))
    assert isinstance(result, (RevocationSet, SscError))
    if isinstance(result, SscError):
        assert result.reason in (Reason.TL_MALFORMED, Reason.TL_REVOCATION_MALFORMED)


# ---------------------------------------------------------------- e-card

@FUZZ
@given(st.data())
def test_ecard_presentation_any_mutation_is_typed_and_never_a_false_valid(s, data):
    text = s.presentation()
    mutated = data.draw(byte_mutations(text.encode()).map(lambda b: b.decode("latin-1")))
    result = typed(lambda: decode_presentation(mutated))
    assert not isinstance(result, SscError) or result.reason.value.startswith(("QR_", "BASE45_", "CBOR_", "ECARD_"))
    verdict = verify_presentation(mutated, s.store(), now=NOW, replay=MemoryReplayGuard())
    assert Reason.INTERNAL_ERROR not in verdict.reasons, verdict.to_dict()
    if verdict.outcome is Outcome.VALID:
        original, again = decode_presentation(text), decode_presentation(mutated)
        assert (original.credential, original.device, original.signature) == \
            (again.credential, again.device, again.signature)


@FUZZ
@given(st.data())
def test_device_claims_any_mutation_is_ecard_format_or_cbor(s, data):
    device = decode_presentation(s.presentation()).device
    raw = data.draw(st.one_of(byte_mutations(device), structure_mutations(cbor2.loads(device)).map(encode)))
    result = typed(lambda: decode_device_claims(raw))
    assert not isinstance(result, SscError) or result.reason.value.startswith(("ECARD_", "CBOR_")), result
    if not isinstance(result, SscError):
        assert cbor.int_keys(cbor2.loads(raw))


# ---------------------------------------------------------------- chip files

@FUZZ
@given(st.data())
def test_chip_files_any_mutation_is_a_typed_error(s, data):
    """What the reader does with a file's bytes (firmware_tools/reader.py _passive): unwrap
    the TLV, decode the CBOR, check the group's shape; it maps TlvError, SscError and
    ValueError to CHIP_FILE_MALFORMED, so nothing else may escape."""
    group = data.draw(st.sampled_from(sorted(FILES)))
    raw = data.draw(byte_mutations(s.files[group]))

    def read():
        payload = FILES[group].unwrap(raw)
        if group is Group.CHIP_KEY:
            return chip_key_point(payload)
        return _checked_item(group, decode_group(group, payload))

    typed(read, TlvError, ValueError)
