#!/usr/bin/env python3
"""Generate the vectors of revocation format 2 and its deltas (docs/spec.md §11).

    .venv/bin/python tests/vectors/generate_revocation.py

Writes tests/vectors/revocation_gr.json: coded sets (exact bytes for given serials),
malformed coded sets with the reason a verifier reports, and a signed chain — a trust
list with format-2 data and the deltas that follow it, good and bad. The signed part
has its own root (the keys are random and not written anywhere), so running this again
rewrites the signed hex; the coded sets and digests stay the same. Checked by
tests/crypto/test_revocation.py.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from crypto import build_trust_list, cbor, cose  # noqa: E402
from crypto.errors import SscError  # noqa: E402
from crypto.pki import DevelopmentPki  # noqa: E402
from crypto.revocation import RevocationSet  # noqa: E402
from crypto.revocation_delta import (apply_revocation_delta, build_revocation_delta,  # noqa: E402
                                     load_revocation_delta)
from crypto.trustlist import REVOCATION_GOLOMB_RICE, load_trust_list  # noqa: E402

OUT = HERE / "revocation_gr.json"
UTC = dt.timezone.utc


def ts(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


PKI_AT = dt.datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86_400
V10_AT = ts("2026-03-01T00:00:00")


def pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def random_set(seed: int, base: int, size: int, count: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return sorted((rng.choice(size, count, replace=False) + base).tolist()) if count else []


# ---------------------------------------------------------------- coded sets (§11.1, §11.2)

def set_vector(id_: str, description: str, serials: list[int], base: int, size: int, k: int | None = None) -> dict:
    rs = RevocationSet.from_serials(serials, base=base, size=size)
    coded = rs.encode(k)
    return {"id": f"set/{id_}", "description": description, "issuer": "SH01", "base": base, "size": size,
            "serials": serials, "k": coded[4], "bits_hex": coded[5].hex(), "cbor_hex": cbor.dumps(coded).hex(),
            "state_digest_hex": rs.digest("SH01").hex()}


def sets() -> list[dict]:
    return [
        set_vector("empty", "No serial revoked in [1000, 1100): no bits", [], 1000, 100),
        set_vector("empty-universe", "The empty universe (an issuer without data)", [], 0, 0),
        set_vector("single-first", "Only the first serial of the universe", [500], 500, 10),
        set_vector("single-last", "Only the last serial of the universe", [509], 500, 10),
        set_vector("all", "Every serial of a universe of 16: k = 0, 16 one-bits", list(range(16)), 0, 16),
        set_vector("worked-example", "The worked example of §11.2: serials 3, 4, 9, 30 of [0, 40), k = 2",
                   [3, 4, 9, 30], 0, 40, k=2),
        set_vector("k0-forced", "The same set coded with k = 0 (any k in 0..31 decodes)", [3, 4, 9, 30], 0, 40, k=0),
        set_vector("k31", "Serials 0 and 2^32 - 1 in the whole serial space, k = 31",
                   [0, 2**32 - 1], 0, 2**32, k=31),
        set_vector("sparse", "50 of 100,000 serials from base 7,000,000", random_set(1, 7_000_000, 100_000, 50),
                   7_000_000, 100_000),
        set_vector("two-percent", "400 of 20,000 (2%, the density of the issue's 50M/1M): k = 5",
                   random_set(2, 1_000_000, 20_000, 400), 1_000_000, 20_000),
        set_vector("dense", "900 of 1,000 (90%)", random_set(3, 0, 1000, 900), 0, 1000),
    ]


def malformed(id_: str, description: str, coded: dict, reason: str) -> dict:
    return {"id": f"malformed/{id_}", "description": description, "cbor_hex": cbor.dumps(coded).hex(),
            "reason": reason}


def malformed_sets() -> list[dict]:
    good = RevocationSet.from_serials([3, 4, 9, 30], base=0, size=40).encode(2)  # the worked example of §11.2
    bits = good[5]
    m = []
    m.append(malformed("truncated", "The last byte of the bit stream is missing", {**good, 5: bits[:-1]},
                       "TL_REVOCATION_MALFORMED"))
    m.append(malformed("trailing-byte", "A zero byte after the last code", {**good, 5: bits + b"\x00"},
                       "TL_REVOCATION_MALFORMED"))
    m.append(malformed("padding-not-zero", "A one in the padding after the last unary code",
                       {**good, 5: bits[:-1] + bytes((bits[-1] | 1,))}, "TL_REVOCATION_MALFORMED"))
    m.append(malformed("k-32", "Rice parameter 32 (at most 31)", {**good, 4: 32}, "TL_REVOCATION_MALFORMED"))
    m.append(malformed("count-too-high", "count 5 with 4 codes in the stream", {**good, 3: 5},
                       "TL_REVOCATION_MALFORMED"))
    m.append(malformed("count-too-low", "count 3 with 4 codes in the stream", {**good, 3: 3},
                       "TL_REVOCATION_MALFORMED"))
    m.append(malformed("beyond-universe", "Serial 30 decoded in a universe of size 30", {**good, 2: 30},
                       "TL_REVOCATION_MALFORMED"))
    m.append(malformed("count-over-size", "count larger than the universe", {1: 0, 2: 3, 3: 4, 4: 0, 5: b"\xf0"},
                       "TL_REVOCATION_MALFORMED"))
    m.append(malformed("universe-past-2-32", "base + size > 2^32", {**good, 1: 2**32 - 39},
                       "TL_REVOCATION_MALFORMED"))
    m.append(malformed("empty-with-bits", "count 0 with a non-empty bit stream", {1: 0, 2: 40, 3: 0, 4: 0, 5: b"\x80"},
                       "TL_REVOCATION_MALFORMED"))
    m.append(malformed("missing-key", "No key 4 (k)", {k: v for k, v in good.items() if k != 4}, "TL_MALFORMED"))
    m.append(malformed("negative-base", "A negative base", {**good, 1: -1}, "TL_MALFORMED"))
    m.append(malformed("bits-not-bytes", "The bits as an array", {**good, 5: list(bits)}, "TL_MALFORMED"))
    m.append(malformed("not-a-map", "The coded set as an array", [0, 40, 4, 2, bits], "TL_MALFORMED"))
    return m


# ---------------------------------------------------------------- the signed chain (§11.4)

class Chain:
    def __init__(self, folder: Path):
        self.pki = DevelopmentPki.create(folder, b"vectors-only-passphrase", issuer_code="SH01", now=PKI_AT)
        self.issuers = [self.pki.issuer.certificate]
        self.signer = self.pki.trust_list_signer
        # v10: SH01 revoked 20 of [1000, 1200); SH02 held as a plain serial list (format 1)
        self.v10 = RevocationSet.from_serials(random_set(10, 1000, 200, 20), base=1000, size=200)
        # v11: 3 more revoked, one suspension lifted; 10 cards issued since
        v11 = set(self.v10) | {1005, 1150, 1203}
        v11.discard(sorted(self.v10)[3])
        self.v11 = RevocationSet.from_serials(v11, base=1000, size=210)
        # v12: cards up to 1049 expired (base 1050), 2 more revoked
        self.v12 = RevocationSet.from_serials(set(self.v11) | {1099, 1209}, base=1050, size=160, clip=True)

    def trust_list(self) -> bytes:
        return build_trust_list(version=10, issued_at=V10_AT, next_update=V10_AT + 2 * DAY,
                                issuer_certificates=self.issuers, revoked={"SH01": self.v10, "SH02": [5, 6]},
                                signer=self.signer)

    def delta(self, base_version, new_version, previous, current, *, day=1, issuers=None) -> bytes:
        at = V10_AT + day * DAY
        return build_revocation_delta(base_version=base_version, new_version=new_version, issued_at=at,
                                      next_update=at + 2 * DAY, issuer_certificates=issuers or self.issuers,
                                      previous=previous, current=current, signer=self.signer)

    def signed(self, body: dict) -> bytes:
        x5 = self.signer.certificate.public_bytes(serialization.Encoding.DER)
        return cose.sign1(cbor.dumps(body), self.signer, unprotected={cose.HDR_X5CHAIN: x5})


def delta_vector(id_, description, held, data, accepted, reason=None) -> dict:
    return {"id": f"delta/{id_}", "description": description, "held": held, "delta_hex": data.hex(),
            "expected": {"accepted": accepted, "reason": reason}}


def chain_vectors(c: Chain) -> tuple[dict, list[dict]]:
    tl = c.trust_list()
    d11 = c.delta(10, 11, {"SH01": c.v10}, {"SH01": c.v11}, day=1)
    d12 = c.delta(11, 12, {"SH01": c.v11}, {"SH01": c.v12}, day=2)
    body11 = cbor.loads(cose.decode_sign1(d11, max_size=1 << 20).payload, max_size=1 << 20, what="delta")
    entry = body11[6][0]
    v = []
    v.append(delta_vector("v10-to-v11", "3 revoked, 1 suspension lifted, 10 new cards", "trust_list", d11, True))
    v.append(delta_vector("v11-to-v12", "base moves to 1050 (expired cards leave), 2 revoked", "delta/v10-to-v11",
                          d12, True))
    v.append(delta_vector("gap", "The delta from 11 applied to 10 (one missing)", "trust_list", d12, False,
                          "TL_DELTA_CHAIN"))
    v.append(delta_vector("replayed", "v10-to-v11 applied again to version 11", "delta/v10-to-v11", d11, False,
                          "TL_DELTA_CHAIN"))
    v.append(delta_vector("previous-digest", "Version 10 → 11, but the previous state digest is not version 10's",
                          "trust_list", c.signed({**body11, 6: [{**entry, 2: bytes(32)}]}), False, "TL_DELTA_CHAIN"))
    v.append(delta_vector("new-digest", "The state after the delta is not the one it names", "trust_list",
                          c.signed({**body11, 6: [{**entry, 3: bytes(32)}]}), False, "TL_DELTA_CHAIN"))
    v.append(delta_vector("issuers-changed", "Made for other issuer certificates", "trust_list",
                          c.signed({**body11, 5: bytes(32)}), False, "TL_DELTA_CHAIN"))
    removed_not_revoked = RevocationSet.from_serials([1001 if 1001 not in c.v10 else 1002], base=1000, size=210)
    v.append(delta_vector("removes-unrevoked", "Removes a serial that is not revoked", "trust_list",
                          c.signed({**body11, 6: [{**entry, 5: removed_not_revoked.encode()}]}), False,
                          "TL_DELTA_CHAIN"))
    v.append(delta_vector("format-1-held", "An entry for SH02, whose data is held as a serial list", "trust_list",
                          c.delta(10, 11, {"SH02": RevocationSet.from_serials([5, 6], base=0, size=10)},
                                  {"SH02": RevocationSet.from_serials([5, 6, 7], base=0, size=10)}),
                          False, "TL_DELTA_CHAIN"))
    back = RevocationSet.from_serials(c.v11, base=900, size=310)
    nothing = RevocationSet.empty(base=900, size=310).encode()
    v.append(delta_vector("universe-back", "Moves the universe back below the base held (digests consistent)",
                          "delta/v10-to-v11",
                          c.signed({**body11, 1: 11, 2: 12, 6: [{1: "SH01", 2: c.v11.digest("SH01"),
                                                                 3: back.digest("SH01"), 4: nothing, 5: nothing}]}),
                          False, "TL_DELTA_CHAIN"))
    bad_bits = {**entry, 4: {**entry[4], 5: entry[4][5][:-1]}}
    v.append(delta_vector("truncated-added", "The added set's bit stream is truncated", "trust_list",
                          c.signed({**body11, 6: [bad_bits]}), False, "TL_REVOCATION_MALFORMED"))
    v.append(delta_vector("not-later", "new_version equal to base_version", "trust_list",
                          c.signed({**body11, 2: 10}), False, "TL_MALFORMED"))
    v.append(delta_vector("a-trust-list", "A trust list where a delta is expected", "trust_list", tl, False,
                          "TL_MALFORMED"))
    tampered = bytearray(d11)
    tampered[-1] ^= 1
    v.append(delta_vector("signature", "The delta's signature does not verify", "trust_list", bytes(tampered),
                          False, "TL_SIGNATURE"))
    chain = {"root_pem": pem(c.pki.root), "trust_list_signer_pem": pem(c.signer.certificate),
             "issuer_sh01_pem": pem(c.pki.issuer.certificate),
             "trust_list": {"version": 10, "issued_at": V10_AT, "next_update": V10_AT + 2 * DAY,
                            "revocation_format": {"SH01": REVOCATION_GOLOMB_RICE, "SH02": 1},
                            "revoked": {"SH01": list(c.v10), "SH02": [5, 6]}, "hex": tl.hex()},
             "states": {"trust_list": _state(c.v10, 10), "delta/v10-to-v11": _state(c.v11, 11),
                        "delta/v11-to-v12": _state(c.v12, 12)}}
    return chain, v


def _state(rs: RevocationSet, version: int) -> dict:
    return {"version": version, "base": rs.base, "size": rs.size, "SH01": list(rs),
            "state_digest_hex": rs.digest("SH01").hex()}


def self_check(doc: dict) -> list[str]:
    """Run every vector through the implementation; the assertions are in the tests."""
    from cryptography import x509
    problems = []
    for v in doc["sets"]:
        rs = RevocationSet.decode(cbor.loads(bytes.fromhex(v["cbor_hex"]), max_size=1 << 20, what="set"))
        if list(rs) != v["serials"]:
            problems.append(v["id"])
    for v in doc["malformed_sets"]:
        try:
            RevocationSet.decode(cbor.loads(bytes.fromhex(v["cbor_hex"]), max_size=1 << 20, what="set"))
            problems.append(f"{v['id']}: accepted")
        except SscError as exc:
            if exc.reason.value != v["reason"]:
                problems.append(f"{v['id']}: {exc.reason.value}")
    root = x509.load_pem_x509_certificate(doc["chain"]["root_pem"].encode())
    held = {"trust_list": load_trust_list(bytes.fromhex(doc["chain"]["trust_list"]["hex"]), root)}
    for v in doc["deltas"]:
        try:
            after = apply_revocation_delta(held[v["held"]], load_revocation_delta(bytes.fromhex(v["delta_hex"]), root))
            held[v["id"]] = after
            outcome = (True, None)
        except SscError as exc:
            outcome = (False, exc.reason.value)
        if outcome != (v["expected"]["accepted"], v["expected"]["reason"]):
            problems.append(f"{v['id']}: {outcome}")
    return problems


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        chain, deltas = chain_vectors(Chain(Path(folder)))
    doc = {"group": "revocation_gr", "spec": "docs/spec.md §11",
           "sets": sets(), "malformed_sets": malformed_sets(), "chain": chain, "deltas": deltas}
    OUT.write_text(json.dumps(doc, indent=2) + "\n")
    problems = self_check(doc)
    print(f"{OUT.name}: {len(doc['sets'])} sets, {len(doc['malformed_sets'])} malformed, {len(deltas)} deltas"
          + (f"; DISAGREEMENTS: {problems}" if problems else "; all agree"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
