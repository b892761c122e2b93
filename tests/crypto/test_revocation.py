"""Revocation data at national scale (docs/spec.md §11): the Golomb–Rice coded set,
its exactness (no false positive, no false negative), malformed input, signed deltas and
their chain, the trust list and the verifier, the vectors, and the 50M/1M size target."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from crypto import (Outcome, Reason, TrustStore, build_trust_list, cbor, certs, cose, keys, load_trust_list,
                    qr_text_for, samples, verify_credential)
from crypto.errors import RevocationError, SscError, TrustListError
from crypto.revocation import (MAX_RICE_K, SERIAL_LIMIT, RevocationSet, decode_bits, encode_bits,
                               information_limit_bits, rice_parameter)
from crypto.revocation_delta import (apply_revocation_delta, apply_revocation_deltas, build_revocation_delta,
                                     delta_between, load_revocation_delta)
from crypto.trustlist import REVOCATION_GOLOMB_RICE, check_not_rollback
from clock_support import CLOCK

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "revocation_gr.json").read_text())


def roundtrip(rs: RevocationSet, k: int | None = None) -> RevocationSet:
    """Encode, through CBOR bytes, and decode again."""
    data = cbor.dumps(rs.encode(k))
    return RevocationSet.decode(cbor.loads(data, max_size=1 << 24, what="set"))


def decode_map(coded: dict) -> RevocationSet:
    return RevocationSet.decode(cbor.loads(cbor.dumps(coded), max_size=1 << 24, what="set"))


# ---------------------------------------------------------------- exactness (property tests)

@st.composite
def universes_and_sets(draw, max_size=3000):
    size = draw(st.one_of(st.integers(0, 40), st.integers(0, max_size)))
    base = draw(st.one_of(st.just(0), st.just(SERIAL_LIMIT - size), st.integers(0, SERIAL_LIMIT - size)))
    kind = draw(st.sampled_from(["empty", "all", "single", "first-last", "explicit", "density"]))
    if kind == "empty" or size == 0:
        offsets = []
    elif kind == "all":
        offsets = list(range(size))
    elif kind == "single":
        offsets = [draw(st.integers(0, size - 1))]
    elif kind == "first-last":
        offsets = sorted({0, size - 1})
    elif kind == "explicit":
        offsets = sorted(draw(st.sets(st.integers(0, size - 1), max_size=min(size, 60))))
    else:
        density = draw(st.sampled_from([0.001, 0.01, 0.02, 0.1, 0.5, 0.9, 0.99]))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        offsets = np.flatnonzero(rng.random(size) < density).tolist()
    return base, size, [base + o for o in offsets]


@given(universes_and_sets(), st.one_of(st.none(), st.integers(0, MAX_RICE_K)))
def test_round_trip_has_no_false_positive_and_no_false_negative(case, k):
    base, size, serials = case
    rs = roundtrip(RevocationSet.from_serials(serials, base=base, size=size), k)
    assert (rs.base, rs.size, len(rs)) == (base, size, len(serials))
    assert list(rs) == serials
    revoked = set(serials)
    for serial in range(max(0, base - 2), min(SERIAL_LIMIT + 2, base + size + 2)):  # every serial, and around
        assert (serial in rs) == (serial in revoked)


@given(universes_and_sets(max_size=400))
def test_the_default_k_is_the_smallest_encoding(case):
    base, size, serials = case
    rs = RevocationSet.from_serials(serials, base=base, size=size)
    best = len(rs.encode()[5])
    assert all(best <= len(rs.encode(k)[5]) for k in range(MAX_RICE_K + 1))


@given(universes_and_sets(max_size=600), st.integers(0, MAX_RICE_K), st.integers(1, 5))
def test_decoding_in_small_chunks_gives_the_same_set(case, k, chunk_bytes):
    """The decoder reads the unary stream in chunks: codes that straddle a chunk decode alike."""
    base, size, serials = case
    coded = RevocationSet.from_serials(serials, base=base, size=size).encode(k)
    assert decode_bits(coded[5], k, len(serials), size, base, chunk_bytes=chunk_bytes).tolist() == serials


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=24), st.integers(0, MAX_RICE_K), st.integers(0, 40), st.integers(0, 400),
       st.sampled_from([1, 2, 3, 8192]))
def test_any_bit_stream_decodes_canonically_or_is_refused(bits, k, count, size, chunk_bytes):
    """Fuzz: a stream is refused with a reason, or it is the one encoding of what it decodes to."""
    assume(count <= size)
    try:
        values = decode_bits(bits, k, count, size, chunk_bytes=chunk_bytes)
    except RevocationError as exc:
        assert exc.reason is Reason.TL_REVOCATION_MALFORMED
        return
    assert len(values) == count and (count == 0 or (np.all(np.diff(values) > 0) and 0 <= values[0]
                                                     and values[-1] < size))
    assert encode_bits(values, k) == bits


def test_large_universe_round_trip_is_exact():
    size, count = 5_000_000, 100_000
    rng = np.random.default_rng(5)
    serials = rng.choice(size, count, replace=False) + 10_000_000
    rs = roundtrip(RevocationSet.from_serials(serials, base=10_000_000, size=size))
    truth = np.sort(serials).astype(np.uint32)
    assert np.array_equal(rs.serials, truth)
    for s in rng.choice(truth, 5000).tolist():
        assert s in rs
    probes = rng.integers(10_000_000 - 10, 10_000_000 + size + 10, 20_000)
    expected = np.isin(probes, truth)
    assert [int(p) in rs for p in probes] == expected.tolist()


def test_size_target_at_50m_1m():
    """Issue 8: 1,000,000 revoked among 50,000,000 in at most 1.0 MB, near log2 C(N, M)."""
    size, count = 50_000_000, 1_000_000
    serials = np.random.default_rng(8).choice(size, count, replace=False)
    coded = RevocationSet.from_serials(serials, base=0, size=size).encode()
    limit_bytes = information_limit_bits(size, count) / 8
    assert math.isclose(limit_bytes, 884_002, abs_tol=1)  # ≈ 0.884 MB
    assert coded[4] == 5  # log2(ln 2 · 50) ≈ 5.1
    entry = len(cbor.dumps(coded))
    assert entry <= 1_000_000
    assert entry / limit_bytes < 1.006  # within 0.6% of the limit


def test_information_limit():
    assert information_limit_bits(10, 0) == 0
    assert math.isclose(information_limit_bits(10, 3), math.log2(120))
    with pytest.raises(ValueError):
        information_limit_bits(3, 4)


@pytest.mark.parametrize("ratio", [1.5, 4, 50, 1000, 100_000])
def test_rice_parameter_follows_the_density(ratio):
    """For random sets the best k is within one of log2(ln 2 · N/M) (§11.2)."""
    size = int(200_000 * ratio) if ratio < 1000 else 20_000 * int(ratio)
    count = int(size / ratio)
    rng = np.random.default_rng(int(ratio * 10))
    rs = RevocationSet.from_serials(rng.choice(size, count, replace=False), base=0, size=size)
    k = rs.encode()[4]
    assert abs(k - math.log2(math.log(2) * ratio)) <= 1
    assert rice_parameter(np.zeros(0, dtype=np.int64)) == 0 and rice_parameter(np.zeros(9, dtype=np.int64)) == 0


# ---------------------------------------------------------------- building sets

def test_from_serials_sorts_merges_and_checks_the_universe():
    rs = RevocationSet.from_serials([9, 3, 9, 5], base=0, size=10)
    assert list(rs) == [3, 5, 9] and len(rs) == 3 and rs.end == 10
    assert RevocationSet.from_serials([9, 3]).size == 10  # default: up to the highest serial
    with pytest.raises(RevocationError):
        RevocationSet.from_serials([3, 12], base=0, size=10)
    with pytest.raises(RevocationError):
        RevocationSet.from_serials([3], base=5, size=10)
    clipped = RevocationSet.from_serials([1, 3, 7, 12], base=2, size=8, clip=True)  # expired cards leave
    assert list(clipped) == [3, 7]
    with pytest.raises(RevocationError):
        RevocationSet.from_serials([1], base=SERIAL_LIMIT - 1, size=2)
    assert 3 in clipped and 1 not in clipped and 12 not in clipped and -1 not in clipped
    with pytest.raises(ValueError):
        clipped.encode(32)


def test_state_digest_depends_on_issuer_universe_and_serials():
    a = RevocationSet.from_serials([3, 5], base=0, size=10)
    assert a.digest("SH01") == RevocationSet.from_serials([5, 3, 3], base=0, size=10).digest("SH01")
    assert a.digest("SH01") != a.digest("SH02")
    assert a.digest("SH01") != RevocationSet.from_serials([3, 5], base=0, size=11).digest("SH01")
    assert a.digest("SH01") != RevocationSet.from_serials([3, 6], base=0, size=10).digest("SH01")
    assert a == RevocationSet.from_serials([3, 5], base=0, size=10) and a != RevocationSet.empty(size=10)


# ---------------------------------------------------------------- malformed coded sets

GOOD = RevocationSet.from_serials([3, 4, 9, 30], base=0, size=40).encode(2)


@pytest.mark.parametrize("edit, reason", [
    (lambda m: {**m, 5: m[5][:-1]}, Reason.TL_REVOCATION_MALFORMED),           # truncated
    (lambda m: {**m, 5: m[5] + b"\x00"}, Reason.TL_REVOCATION_MALFORMED),      # trailing byte
    (lambda m: {**m, 5: m[5][:-1] + b"\x41"}, Reason.TL_REVOCATION_MALFORMED),  # padding not zero
    (lambda m: {**m, 4: 32}, Reason.TL_REVOCATION_MALFORMED),                  # k out of range
    (lambda m: {**m, 4: 3}, Reason.TL_REVOCATION_MALFORMED),                   # another k: the stream no longer fits
    (lambda m: {**m, 3: 5}, Reason.TL_REVOCATION_MALFORMED),                   # count too high
    (lambda m: {**m, 3: 3}, Reason.TL_REVOCATION_MALFORMED),                   # count too low
    (lambda m: {**m, 3: 41}, Reason.TL_REVOCATION_MALFORMED),                  # count beyond the universe
    (lambda m: {**m, 2: 30}, Reason.TL_REVOCATION_MALFORMED),                  # serial beyond the universe
    (lambda m: {**m, 1: SERIAL_LIMIT}, Reason.TL_REVOCATION_MALFORMED),        # universe past 2^32
    (lambda m: {**m, 5: b"\xff" * 64}, Reason.TL_REVOCATION_MALFORMED),        # too many codes
    (lambda m: {**m, 5: b""}, Reason.TL_REVOCATION_MALFORMED),                 # no bits at all
    (lambda m: {**m, 5: b"\xc0\xd0\x40\x00\x00\x00\x01"}, Reason.TL_REVOCATION_MALFORMED),
    (lambda m: {**m, 1: -1}, Reason.TL_MALFORMED),
    (lambda m: {**m, 4: True}, Reason.TL_MALFORMED),
    (lambda m: {**m, 3: 4.0}, Reason.TL_MALFORMED),
    (lambda m: {**m, 5: "c0d040"}, Reason.TL_MALFORMED),
    (lambda m: {k: v for k, v in m.items() if k != 5}, Reason.TL_MALFORMED),
    (lambda m: {**m, 6: 0}, Reason.TL_MALFORMED),
    (lambda m: list(m.values()), Reason.TL_MALFORMED),
])
def test_malformed_coded_sets_are_refused_with_a_reason(edit, reason):
    assert list(decode_map(GOOD)) == [3, 4, 9, 30]
    with pytest.raises(RevocationError) as err:
        decode_map(edit(GOOD))
    assert err.value.reason is reason


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=1, max_size=len(cbor.dumps(GOOD))), st.integers(0, len(cbor.dumps(GOOD)) - 1))
def test_flipped_or_cut_bytes_never_crash(noise, at):
    data = bytearray(cbor.dumps(GOOD))
    data[at:at + len(noise)] = noise
    try:
        obj = cbor.loads(bytes(data), max_size=1 << 16, what="set")
        rs = RevocationSet.decode(obj)
    except SscError:
        return
    assert all(rs.base <= s < rs.end for s in rs)  # accepted only as a consistent set


# ---------------------------------------------------------------- trust lists with format 2

@pytest.fixture(scope="module")
def big(pki):
    """A format-2 list: 100,000 revoked among 5,000,000 from base 1,000,000."""
    rng = np.random.default_rng(11)
    serials = rng.choice(5_000_000, 100_000, replace=False) + 1_000_000
    return RevocationSet.from_serials(serials, base=1_000_000, size=5_000_000)


def format2_list(pki, now, revoked, version=1, issuer_certificates_extra=False, **kw) -> bytes:
    issuers = [pki.issuer.certificate] + ([EXTRA_ISSUER(pki)] if issuer_certificates_extra else [])
    return build_trust_list(version=version, issued_at=kw.pop("issued_at", now - 60),
                            next_update=kw.pop("next_update", now + 86_400), issuer_certificates=issuers,
                            revoked=revoked, signer=pki.trust_list_signer, **kw)


def EXTRA_ISSUER(pki):
    """A second issuer certificate under the same root (SH03)."""
    root_key = keys.load_private_key(pki.folder / "root-ca.key.pem", b"test-passphrase")
    return certs.make_issuer_certificate(root_key, pki.root, keys.generate_private_key().public_key(),
                                         issuer_code="SH03", now=CLOCK.utc())


def test_signed_trust_list_round_trip(pki, now, big):
    data = format2_list(pki, now, {"SH01": big, "SH02": [5, 6]})
    tl = load_trust_list(data, pki.root)
    assert tl.revoked["SH01"] == big and tl.revoked["SH02"] == frozenset({5, 6})
    member, other = int(big.serials[777]), int(big.serials[777]) + 1
    assert tl.is_revoked("SH01", member) and (tl.is_revoked("SH01", other) == (other in set(big.serials.tolist())))
    assert not tl.is_revoked("SH01", 999_999) and not tl.is_revoked("SH02", member)
    assert len(data) < 100_000  # 100k serials: ~90 kB (format 1 would be ~500 kB)


def test_format_2_from_plain_serials_and_universes(pki, now):
    data = format2_list(pki, now, {"SH01": [42, 7, 1001]}, revocation_format=REVOCATION_GOLOMB_RICE,
                        universes={"SH01": (5, 2000)})
    tl = load_trust_list(data, pki.root)
    assert isinstance(tl.revoked["SH01"], RevocationSet)
    assert (tl.revoked["SH01"].base, tl.revoked["SH01"].size, list(tl.revoked["SH01"])) == (5, 2000, [7, 42, 1001])
    with pytest.raises(TrustListError):
        format2_list(pki, now, {}, revocation_format=3)
    default = load_trust_list(format2_list(pki, now, {"SH01": [42, 7]}), pki.root)
    assert default.revoked["SH01"] == frozenset({7, 42})  # format 1 stays the default


def test_malformed_format_2_in_a_trust_list_is_refused(pki, now):
    data = format2_list(pki, now, {"SH01": RevocationSet.from_serials([3, 4, 9, 30], base=0, size=40)})
    body = cbor.loads(cose.decode_sign1(data, max_size=1 << 20).payload, max_size=1 << 20, what="tl")
    body[5][0][3] = {**body[5][0][3], 3: 5}
    x5 = pki.trust_list_signer.certificate.public_bytes(serialization.Encoding.DER)
    bad = cose.sign1(cbor.dumps(body), pki.trust_list_signer, unprotected={cose.HDR_X5CHAIN: x5})
    store = TrustStore(pki.root)
    with pytest.raises(TrustListError) as err:
        store.update(bad)
    assert err.value.reason is Reason.TL_REVOCATION_MALFORMED and store.trust_list is None


def test_verifier_uses_format_2(pki, now):
    typical = samples.typical()  # SH01, serial 42
    store = TrustStore(pki.root)
    store.update(format2_list(pki, now, {"SH01": RevocationSet.from_serials([41, 42, 43], base=0, size=100)}))
    qr = qr_text_for(typical, pki.issuer, iat=now - 60)
    verdict = verify_credential(qr, store, now=now)
    assert verdict.outcome is Outcome.INVALID and verdict.reasons == [Reason.REVOKED]
    store = TrustStore(pki.root)
    store.update(format2_list(pki, now, {"SH01": RevocationSet.from_serials([41, 43], base=0, size=100)}))
    assert verify_credential(qr, store, now=now).valid
    # expired cards left the universe: serial 42 is below the base, whatever the set says
    store = TrustStore(pki.root)
    store.update(format2_list(pki, now, {"SH01": RevocationSet.from_serials([50], base=43, size=100)}))
    assert verify_credential(qr, store, now=now).valid


# ---------------------------------------------------------------- deltas

def random_changes(rng, state: RevocationSet, *, new_cards: int, revoke: int, lift: int, expire: int) -> RevocationSet:
    """The next day: `expire` cards leave at the bottom, `new_cards` are issued, up to
    `revoke` more are revoked and `lift` suspensions are lifted."""
    base, size = state.base + expire, state.size - expire + new_cards
    current = state.serials[state.serials >= base]
    kept = np.delete(current, rng.choice(len(current), min(lift, len(current)), replace=False))
    added = rng.integers(base, base + size, revoke) if size else np.zeros(0, dtype=np.int64)
    return RevocationSet.from_serials(np.concatenate((kept, added)), base=base, size=size)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_deltas_applied_in_sequence_equal_the_full_set(seed, days):
    rng = np.random.default_rng(seed)
    states = [RevocationSet.from_serials(rng.choice(5000, 100, replace=False) + 100, base=100, size=5000)]
    for _ in range(days):
        states.append(random_changes(rng, states[-1], new_cards=int(rng.integers(0, 50)),
                                     revoke=int(rng.integers(0, 30)), lift=int(rng.integers(0, 3)),
                                     expire=int(rng.integers(0, 40))))
    held = states[0]
    for new in states[1:]:
        added, removed = held.changes_to(new)
        held = held.apply(roundtrip(added), roundtrip(removed))
        assert held == new and held.digest("SH01") == new.digest("SH01")


def test_signed_deltas_catch_up_and_the_chain_is_checked(pki, now, big):
    rng = np.random.default_rng(3)
    states = [big]
    for _ in range(3):
        states.append(random_changes(rng, states[-1], new_cards=2000, revoke=1000, lift=5, expire=1000))
    lists = [load_trust_list(format2_list(pki, now, {"SH01": s}, version=10 + i, issued_at=now - 60 + i),
                             pki.root) for i, s in enumerate(states)]
    deltas = [delta_between(a, b, pki.trust_list_signer) for a, b in zip(lists, lists[1:])]
    assert all(len(d) < 4000 for d in deltas)  # ~1,000 new revocations: a few kB

    caught_up = apply_revocation_deltas(lists[0], deltas, pki.root)
    assert caught_up.revoked["SH01"] == states[-1] and caught_up.version == 13
    assert caught_up.issued_at == lists[-1].issued_at and caught_up.next_update == lists[-1].next_update
    assert caught_up.encoded == lists[0].encoded and caught_up.deltas == tuple(deltas)
    # the full list of that version and the caught-up state are the same content: no rollback either way
    check_not_rollback(lists[-1], caught_up)
    check_not_rollback(caught_up, lists[-1])
    with pytest.raises(TrustListError) as err:
        check_not_rollback(lists[2], caught_up)
    assert err.value.reason is Reason.TL_ROLLBACK

    def refused(held, data) -> Reason:
        with pytest.raises(TrustListError) as err:
            apply_revocation_delta(held, load_revocation_delta(data, pki.root))
        return err.value.reason

    assert refused(lists[0], deltas[1]) is Reason.TL_DELTA_CHAIN      # a gap
    assert refused(lists[1], deltas[0]) is Reason.TL_DELTA_CHAIN      # replayed
    # the same version held with other data (a broken chain): the previous-state digest catches it
    forged = load_trust_list(format2_list(pki, now, {"SH01": states[2]}, version=11), pki.root)
    assert refused(forged, deltas[1]) is Reason.TL_DELTA_CHAIN
    # a delta is never a trust list, nor the reverse
    with pytest.raises(TrustListError) as err:
        load_trust_list(deltas[0], pki.root)
    assert err.value.reason is Reason.TL_MALFORMED
    with pytest.raises(TrustListError) as err:
        load_revocation_delta(lists[1].encoded, pki.root)
    assert err.value.reason is Reason.TL_MALFORMED
    # another root
    with pytest.raises(TrustListError) as err:
        load_revocation_delta(deltas[0], x509.load_pem_x509_certificate(VECTORS["chain"]["root_pem"].encode()))
    assert err.value.reason is Reason.TL_SIGNER


def test_delta_builder_refuses_what_terminals_cannot_apply(pki, now):
    a = RevocationSet.from_serials([3], base=0, size=10)
    kw = dict(issued_at=now, next_update=now + 10, issuer_certificates=[pki.issuer.certificate],
              signer=pki.trust_list_signer)
    with pytest.raises(TrustListError):
        build_revocation_delta(base_version=2, new_version=2, previous={}, current={"SH01": a}, **kw)
    with pytest.raises(TrustListError):
        build_revocation_delta(base_version=1, new_version=2, previous={"SH01": a}, current={}, **kw)
    with pytest.raises(TrustListError):
        build_revocation_delta(base_version=1, new_version=2, previous={"SH01": frozenset({3})},
                               current={"SH01": a}, **kw)
    with pytest.raises(ValueError):
        a.changes_to(RevocationSet.from_serials([3], base=0, size=9))  # the universe may not shrink
    one = load_trust_list(format2_list(pki, now, {"SH01": a}), pki.root)
    other = load_trust_list(format2_list(pki, now, {"SH01": a}, version=2, issuer_certificates_extra=True), pki.root)
    with pytest.raises(TrustListError):  # new issuer certificates travel in a full list only
        delta_between(one, other, pki.trust_list_signer)


def test_unchanged_format_1_entries_do_not_stop_a_delta(pki, now):
    a, b = RevocationSet.from_serials([3], base=0, size=10), RevocationSet.from_serials([3, 4], base=0, size=10)
    one = load_trust_list(format2_list(pki, now, {"SH01": a, "SH02": [5]}), pki.root)
    two = load_trust_list(format2_list(pki, now, {"SH01": b, "SH02": [5]}, version=2), pki.root)
    after = apply_revocation_delta(one, load_revocation_delta(delta_between(one, two, pki.trust_list_signer),
                                                              pki.root))
    assert after.revoked == two.revoked
    three = load_trust_list(format2_list(pki, now, {"SH01": b, "SH02": [5, 6]}, version=3), pki.root)
    with pytest.raises(TrustListError):
        delta_between(two, three, pki.trust_list_signer)


def test_a_new_issuer_enters_by_delta(pki, now):
    empty = load_trust_list(format2_list(pki, now, {}), pki.root)
    new = RevocationSet.from_serials([5, 9], base=0, size=20)
    delta = build_revocation_delta(base_version=1, new_version=2, issued_at=now, next_update=now + 100,
                                   issuer_certificates=[pki.issuer.certificate], previous={}, current={"SH01": new},
                                   signer=pki.trust_list_signer)
    after = apply_revocation_delta(empty, load_revocation_delta(delta, pki.root))
    assert after.revoked["SH01"] == new and after.version == 2 and after.next_update == now + 100


def test_delta_next_update_drives_staleness(pki, now):
    typical = samples.typical()
    old = load_trust_list(format2_list(pki, now, {"SH01": RevocationSet.from_serials([7], base=0, size=100)},
                                       issued_at=now - 1800, next_update=now - 600), pki.root)
    qr = qr_text_for(typical, pki.issuer, iat=now - 60)
    assert verify_credential(qr, TrustStore(pki.root, old), now=now).outcome is Outcome.INDETERMINATE
    delta = build_revocation_delta(base_version=1, new_version=2, issued_at=now - 30, next_update=now + 86_400,
                                   issuer_certificates=[pki.issuer.certificate],
                                   previous={"SH01": old.revoked["SH01"]},
                                   current={"SH01": RevocationSet.from_serials([7, 42], base=0, size=100)},
                                   signer=pki.trust_list_signer)
    fresh = apply_revocation_delta(old, load_revocation_delta(delta, pki.root))
    verdict = verify_credential(qr, TrustStore(pki.root, fresh), now=now)
    assert verdict.outcome is Outcome.INVALID and verdict.reasons == [Reason.REVOKED]


# ---------------------------------------------------------------- the vectors (tests/vectors/revocation_gr.json)

@pytest.mark.parametrize("v", VECTORS["sets"], ids=lambda v: v["id"])
def test_set_vector(v):
    rs = RevocationSet.from_serials(v["serials"], base=v["base"], size=v["size"])
    coded = rs.encode(v["k"])
    assert cbor.dumps(coded).hex() == v["cbor_hex"] and coded[5].hex() == v["bits_hex"]
    assert rs.digest(v["issuer"]).hex() == v["state_digest_hex"]
    decoded = decode_map(cbor.loads(bytes.fromhex(v["cbor_hex"]), max_size=1 << 20, what="set"))
    assert list(decoded) == v["serials"]
    if v["k"] == rs.encode()[4]:  # the vector uses the best k unless it says otherwise
        assert rs.encode()[5].hex() == v["bits_hex"]


@pytest.mark.parametrize("v", VECTORS["malformed_sets"], ids=lambda v: v["id"])
def test_malformed_set_vector(v):
    with pytest.raises(RevocationError) as err:
        decode_map(cbor.loads(bytes.fromhex(v["cbor_hex"]), max_size=1 << 20, what="set"))
    assert err.value.reason.value == v["reason"]


def test_delta_vectors():
    chain = VECTORS["chain"]
    root = x509.load_pem_x509_certificate(chain["root_pem"].encode())
    tl = load_trust_list(bytes.fromhex(chain["trust_list"]["hex"]), root)
    assert {c: sorted(s) for c, s in tl.revoked.items()} == chain["trust_list"]["revoked"]
    held = {"trust_list": tl}
    for v in VECTORS["deltas"]:
        try:
            after = apply_revocation_delta(held[v["held"]], load_revocation_delta(bytes.fromhex(v["delta_hex"]), root))
        except TrustListError as exc:
            assert (False, exc.reason.value) == (v["expected"]["accepted"], v["expected"]["reason"]), v["id"]
            continue
        assert v["expected"]["accepted"], v["id"]
        held[v["id"]] = after
    for name, state in chain["states"].items():
        rs = held[name].revoked["SH01"]
        assert (held[name].version, rs.base, rs.size, list(rs)) == \
            (state["version"], state["base"], state["size"], state["SH01"])
        assert rs.digest("SH01").hex() == state["state_digest_hex"]


def test_every_new_reason_has_a_vector():
    reasons = {v["reason"] for v in VECTORS["malformed_sets"]} | \
              {v["expected"]["reason"] for v in VECTORS["deltas"]}
    assert {Reason.TL_REVOCATION_MALFORMED.value, Reason.TL_DELTA_CHAIN.value} <= reasons
