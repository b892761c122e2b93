#!/usr/bin/env python3
"""Generate the e-card presentation vectors (docs/spec.md §12.8).

    .venv/bin/python tests/vectors/generate_ecard.py

Writes tests/vectors/ecard.json and the generated blocks of docs/spec.md §12 (the worked
example and the size table). The vectors have their own root, issuer and phone keys
(random, never written anywhere), so running this again rewrites every signature; the
structure and the expected outcomes stay. Checked by tests/ecard/test_vectors.py; the
script also runs every vector through crypto.ecard_verify and stops on a disagreement.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

import qrcode  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from crypto import TrustStore, base45, build_trust_list, cbor, cose, parse_credential, qrtext, samples  # noqa: E402
from crypto.claims import Profile, encode_claims, sscard_map  # noqa: E402
from crypto.ecard import (PREFIX, DeviceClaims, Presentation, Purpose, compress_device_key,  # noqa: E402
                          device_to_be_signed, encode_presentation, sign_ecard_credential)
from crypto.ecard_verify import FreshnessRules, MemoryReplayGuard, verify_presentation  # noqa: E402
from crypto.keys import raw_signature  # noqa: E402
from crypto.pki import DevelopmentPki  # noqa: E402
from crypto.reasons import Reason  # noqa: E402

OUT = HERE / "ecard.json"
SPEC = REPO / "docs" / "spec.md"
UTC = dt.timezone.utc
IAT = samples.SAMPLE_IAT                                                  # 2026-01-05T09:30:00Z
NOW = int(dt.datetime(2026, 3, 2, 2, 0, tzinfo=UTC).timestamp())          # the verifier's clock
TL_AT = int(dt.datetime(2026, 3, 1, tzinfo=UTC).timestamp())
SERIAL, REVOKED_SERIAL = 2001, 2002
CARD_NUMBER = "SH01P0000000042X"


def pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def record(base: dict | None = None, serial: int = SERIAL) -> dict:
    rec = base or samples.typical_record()
    rec["card"].update(kind=2, serial=serial, card_number=CARD_NUMBER)
    return rec


class Book:
    """The challenges a vector's verifier holds open (hex -> expired?)."""

    def __init__(self, open_challenges: list[dict]):
        self.open = {bytes.fromhex(c["hex"]): c.get("expired", False) for c in open_challenges}

    def redeem(self, challenge: bytes):
        if challenge not in self.open:
            return Reason.ECARD_CHALLENGE_UNKNOWN
        expired = self.open.pop(challenge)
        return Reason.ECARD_CHALLENGE_EXPIRED if expired else None


def run_vector(v: dict, store: TrustStore):
    """Verify a vector as a verifier would (also used by tests/ecard/test_vectors.py)."""
    settings = v.get("verifier", {})
    rules = FreshnessRules(window=settings.get("window", 60), leeway=settings.get("leeway", 30),
                           purposes=frozenset(Purpose[p.upper()] for p in settings.get("purposes",
                                                                                       ["any", "medical", "permit"])),
                           challenge_required=settings.get("challenge_required", False))
    replay, book = MemoryReplayGuard(), Book(settings.get("open_challenges", []))
    verdict = None
    for _ in range(v.get("repeat", 1)):
        verdict = verify_presentation(v["input"]["qr_text"], store, now=v["now"], replay=replay, rules=rules,
                                      challenges=book)
    return verdict


class Gen:
    def __init__(self, folder: Path):
        self.pki = DevelopmentPki.create(folder, b"ecard-vectors", now=dt.datetime(2026, 1, 1, tzinfo=UTC))
        self.phone = ec.generate_private_key(ec.SECP256R1())
        self.other = ec.generate_private_key(ec.SECP256R1())
        self.trust_list = build_trust_list(version=3, issued_at=TL_AT, next_update=TL_AT + 7 * 86_400,
                                           issuer_certificates=[self.pki.issuer.certificate],
                                           revoked={"SH01": [REVOKED_SERIAL]}, signer=self.pki.trust_list_signer)
        self.vectors: list[dict] = []

    def credential(self, rec: dict | None = None, *, key=None, iat: int = IAT, exp: int | None = None) -> bytes:
        return sign_ecard_credential(parse_credential(rec or record()), self.pki.issuer,
                                     device_key=compress_device_key((key or self.phone).public_key()), iat=iat, exp=exp)

    def presentation(self, credential: bytes, *, t: int = NOW - 10, purpose: Purpose = Purpose.ANY,
                     challenge: bytes | None = None, key=None, nonce: bytes = b"\x5e\xca\x4d\x01") -> Presentation:
        claims = DeviceClaims(t, nonce, purpose, challenge)
        device = claims.encode()
        signature = raw_signature(key or self.phone, device_to_be_signed(credential, device))
        return Presentation(credential, device, signature, claims)

    def add(self, id_: str, description: str, text: str, outcome: str, reason: str | None = None,
            failed: str | None = None, *, now: int = NOW, verifier: dict | None = None, repeat: int = 1,
            p: Presentation | None = None) -> dict:
        v = {"id": f"ecard/{id_}", "description": description, "now": now, "input": {"qr_text": text},
             "expected": {"outcome": outcome, "reasons": [reason] if reason else [], "failed_check": failed}}
        if verifier:
            v["verifier"] = verifier
        if repeat > 1:
            v["repeat"] = repeat
        if p is not None and outcome == "VALID":
            v["presentation"] = {"credential_hex": p.credential.hex(), "device_claims_hex": p.device.hex(),
                                 "to_be_signed_hex": p.to_be_signed().hex(), "signature_hex": p.signature.hex(),
                                 "replay_key_hex": p.replay_key().hex()}
        self.vectors.append(v)
        return v

    def build(self) -> None:
        cred = self.credential()
        p = self.presentation(cred)
        text = encode_presentation(p)
        self.add("valid-typical", "A typical record's e-card, shown 10 s before the verifier's clock, purpose any",
                 text, "VALID", p=p)
        long_p = self.presentation(self.credential(record(samples.long_record())))
        self.add("valid-long", "The long record (Chinese employer name, long names): valid, but version 19 at M",
                 encode_presentation(long_p), "VALID", p=long_p)
        edge = self.presentation(cred, t=NOW - 90)
        self.add("window-edge", "Made 90 s before now: the 60 s window plus the 30 s leeway, still valid",
                 encode_presentation(edge), "VALID", p=edge)
        self.add("stale-by-one-second", "Made 91 s before now", encode_presentation(self.presentation(cred, t=NOW - 91)),
                 "INVALID", "ECARD_STALE", "freshness")
        self.add("screenshot-two-minutes", "A screenshot scanned two minutes after it was made",
                 encode_presentation(self.presentation(cred, t=NOW - 120)), "INVALID", "ECARD_STALE", "freshness")
        ahead = self.presentation(cred, t=NOW + 30)
        self.add("phone-ahead-within-leeway", "The phone's clock 30 s ahead", encode_presentation(ahead), "VALID",
                 p=ahead)
        self.add("future", "The phone's clock 31 s ahead of the verifier's",
                 encode_presentation(self.presentation(cred, t=NOW + 31)), "INVALID", "ECARD_FUTURE", "freshness")
        self.add("replayed", "The same presentation verified twice by one verifier (expected: the second)", text,
                 "INVALID", "ECARD_REPLAYED", "freshness", repeat=2)
        self.add("other-phone", "The right credential, signed by another phone's key",
                 encode_presentation(self.presentation(cred, key=self.other)), "INVALID", "ECARD_DEVICE_SIGNATURE",
                 "device_auth")
        tampered = Presentation(p.credential, p.device, p.signature[:-1] + bytes([p.signature[-1] ^ 1]), p.claims)
        self.add("signature-altered", "The phone's signature with its last bit flipped", encode_presentation(tampered),
                 "INVALID", "ECARD_DEVICE_SIGNATURE", "device_auth")
        moved = DeviceClaims(NOW - 5, p.claims.nonce)
        self.add("time-altered", "The device claims' time changed after the phone signed them",
                 encode_presentation(Presentation(p.credential, moved.encode(), p.signature, moved)), "INVALID",
                 "ECARD_DEVICE_SIGNATURE", "device_auth")
        someone = record(samples.long_record(), serial=SERIAL + 10)
        self.add("other-holders-credential", "Another holder's e-card credential (bound to another phone), "
                 "signed by this phone", encode_presentation(self.presentation(self.credential(someone, key=self.other))),
                 "INVALID", "ECARD_DEVICE_SIGNATURE", "device_auth")
        self.add("purpose-not-accepted", "Shown for 'medical' at a verifier that accepts any and permit",
                 encode_presentation(self.presentation(cred, purpose=Purpose.MEDICAL)), "INVALID", "ECARD_PURPOSE",
                 "device_auth", verifier={"purposes": ["any", "permit"]})
        challenge = bytes.fromhex("39a68bee5d")
        answer = self.presentation(cred, t=NOW - 7200, challenge=challenge, purpose=Purpose.PERMIT)
        self.add("challenge-answered", "Answers challenge 39a68bee5d (76K8-QVJX) that the verifier holds open; the "
                 "phone's clock is 2 h behind, which challenge mode does not compare", encode_presentation(answer),
                 "VALID", verifier={"challenge_required": True, "open_challenges": [{"hex": challenge.hex()}]},
                 p=answer)
        self.add("challenge-unknown", "Answers a challenge the verifier did not issue", encode_presentation(answer),
                 "INVALID", "ECARD_CHALLENGE_UNKNOWN", "freshness", verifier={"open_challenges": []})
        self.add("challenge-expired", "Answers a challenge whose lifetime has passed", encode_presentation(answer),
                 "INVALID", "ECARD_CHALLENGE_EXPIRED", "freshness",
                 verifier={"open_challenges": [{"hex": challenge.hex(), "expired": True}]})
        self.add("challenge-required", "No challenge, at a verifier whose clock is not trusted", text, "INVALID",
                 "ECARD_CHALLENGE_REQUIRED", "freshness", verifier={"challenge_required": True})
        revoked = self.credential(record(serial=REVOKED_SERIAL))
        self.add("revoked", f"An e-card whose serial ({REVOKED_SERIAL}) the trust list revokes",
                 encode_presentation(self.presentation(revoked)), "INVALID", "REVOKED", "revocation")
        expired = self.credential(iat=IAT, exp=IAT + 30 * 86_400)
        self.add("credential-expired", "An e-card credential that expired (30 days after iat) before now",
                 encode_presentation(self.presentation(expired)), "INVALID", "CREDENTIAL_EXPIRED", "validity")
        static = cose.sign1(encode_claims(samples.typical(), profile=Profile.QR, iat=IAT), self.pki.issuer)
        self.add("static-credential", "A printed card's QR-profile credential inside a presentation",
                 encode_presentation(self.presentation(static)), "INVALID", "CLAIMS_VALUE", "claims")
        claims = cbor.loads(cose.decode_sign1(cred, max_size=2860).payload, max_size=4096, what="claims")
        del claims[-65537][7]
        unbound = cose.sign1(cbor.dumps(claims), self.pki.issuer)
        self.add("no-device-key", "An e-card claim set without the device key (sscard key 7)",
                 encode_presentation(self.presentation(unbound)), "INVALID", "CLAIMS_MISSING", "claims")
        forged = cred[:-1] + bytes([cred[-1] ^ 1])
        self.add("issuer-signature-altered", "The e-card credential's issuer signature with its last bit flipped",
                 encode_presentation(self.presentation(forged)), "INVALID", "SIGNATURE_INVALID", "signature")
        for id_, description, raw in (
                ("array-of-two", "A presentation array of 2 items", cbor.dumps([cred, p.device])),
                ("nonce-too-short", "A 3-byte nonce", cbor.dumps([cred, cbor.dumps({1: NOW, 2: b"abc", 3: 0}),
                                                                   p.signature])),
                ("unknown-device-claim", "A device claim 5", cbor.dumps([cred, cbor.dumps({1: NOW, 2: b"abcd", 3: 0,
                                                                                         5: 1}), p.signature]))):
            self.add(id_, description, PREFIX + base45.encode(raw), "INVALID", "ECARD_FORMAT", "format")
        self.add("lowercase", "The presentation text in lowercase (a scanner's caps lock)", text.lower(), "INVALID",
                 "QR_LOWERCASE", "format")
        self.add("static-prefix", "A presentation under the credential prefix SSC1: is not a presentation",
                 text.replace(PREFIX, "SSC1:", 1), "INVALID", "QR_PREFIX", "format")

    def document(self) -> dict:
        store = TrustStore(self.pki.root)
        store.update(self.trust_list)
        for v in self.vectors:
            got = run_vector(v, store)
            e = v["expected"]
            failed = next((c.check.value for c in got.checks if c.status.value in ("failed", "indeterminate")), None)
            if got.outcome.value != e["outcome"] or [r.value for r in got.reasons] != e["reasons"] \
                    or failed != e["failed_check"]:
                raise SystemExit(f"{v['id']}: the reference implementation says {got.to_dict()}, expected {e}")
        return {"group": "ecard", "description": "E-card presentations (docs/spec.md §12.8). Verifier defaults: window "
                "60 s, leeway 30 s, purposes any/medical/permit, no challenge required, no open challenge, an empty "
                "replay guard; the credential leeway is 300 s.",
                "pki": {"root_pem": pem(self.pki.root), "issuer_pem": pem(self.pki.issuer.certificate),
                        "trust_list_hex": self.trust_list.hex(), "revoked": {"SH01": [REVOKED_SERIAL]}},
                "device_keys": {"phone": compress_device_key(self.phone.public_key()).hex(),
                                "other": compress_device_key(self.other.public_key()).hex()},
                "vectors": self.vectors}


def qr_version(text: str, level) -> int:
    qr = qrcode.QRCode(error_correction=level)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.version


def spec_blocks(gen: Gen, doc: dict) -> dict[str, str]:
    typical = next(v for v in doc["vectors"] if v["id"] == "ecard/valid-typical")
    p = typical["presentation"]
    cred = bytes.fromhex(p["credential_hex"])
    payload = cose.decode_sign1(cred, max_size=2860).payload
    ssc = cbor.loads(payload, max_size=4096, what="claims")[-65537]
    groups = {1: "profile", 2: "holder", 3: "identifiers", 4: "permit (no USCC)", 5: "insurance (medical)",
              6: "card (no sequence)", 7: "device key"}
    parts = ", ".join(f"{groups[k]} {len(cbor.dumps(k)) + len(cbor.dumps(v))}" for k, v in ssc.items())
    text = typical["input"]["qr_text"]
    example = [
        f"Vector `ecard/valid-typical`: the typical record (crypto.samples) as an e-card of card {CARD_NUMBER},",
        f"e-card serial {SERIAL}, signed by the vectors' SH01 at iat {IAT}, presented at {NOW - 10} (10 s before "
        f"the verifier's now, {NOW}).", "",
        f"- e-card claim set: {len(payload)} bytes ({parts}; the rest is iat, exp and map heads);",
        f"- e-card credential (COSE_Sign1): {len(cred)} bytes;",
        f"- device claims: {len(p['device_claims_hex']) // 2} bytes, `{p['device_claims_hex']}` = "
        f"`{{1: {NOW - 10}, 2: h'5eca4d01', 3: 0}}`;",
        f"- to be signed by the phone: {len(p['to_be_signed_hex']) // 2} bytes, `846a5369676e61747572653143a10126` "
        f"+ the credential as a byte string + `54` + the device claims;",
        f"- presentation: {len(text[6:]) // 3 * 2 + (1 if len(text[6:]) % 3 == 2 else 0)} bytes of CBOR, "
        f"{len(text)} characters of QR text: version {qr_version(text, qrcode.constants.ERROR_CORRECT_M)} at "
        f"level M, {qr_version(text, qrcode.constants.ERROR_CORRECT_Q)} at level Q;",
        f"- replay key: `{p['replay_key_hex']}`.",
    ]
    rows = ["| record | e-card claims | e-card credential | presentation (CBOR) | QR text | version at M | version at Q |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, id_ in (("typical record, 16-character card number", "ecard/valid-typical"),
                      ("long record (samples.long)", "ecard/valid-long")):
        v = next(x for x in doc["vectors"] if x["id"] == id_)
        c = bytes.fromhex(v["presentation"]["credential_hex"])
        t = v["input"]["qr_text"]
        rows.append(f"| {name} | {len(cose.decode_sign1(c, max_size=2860).payload)} B | {len(c)} B | "
                    f"{len(qrtext.decode_qr_text(t, PREFIX))} B | {len(t)} | "
                    f"{qr_version(t, qrcode.constants.ERROR_CORRECT_M)} | "
                    f"{qr_version(t, qrcode.constants.ERROR_CORRECT_Q)} |")
    assert sscard_map  # (the mapping of §4 is the one crypto.claims implements)
    return {"ecard-example": "\n".join(example), "ecard-sizes": "\n".join(rows)}


def rewrite_spec(blocks: dict[str, str]) -> None:
    text = SPEC.read_text(encoding="utf-8")
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n)(?:.*?\n)?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            print(f"docs/spec.md has no generated:{name} block; not written", file=sys.stderr)
            continue
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    SPEC.write_text(text, encoding="utf-8")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        gen = Gen(Path(folder))
        gen.build()
        doc = gen.document()
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    rewrite_spec(spec_blocks(gen, doc))
    print(f"wrote {OUT.relative_to(REPO)}: {len(doc['vectors'])} vectors")


if __name__ == "__main__":
    main()
