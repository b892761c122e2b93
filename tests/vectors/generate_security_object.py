#!/usr/bin/env python3
"""Generate the chip security-object vectors and the trust-list vectors that go with them
(docs/spec.md §10.4).

    .venv/bin/python tests/vectors/generate_security_object.py

Writes tests/vectors/security_object.json: its own root, SH01 issuer (ES256) and an
EdDSA trust-list signer (random keys, never written anywhere: running this again rewrites
every signature, the structure and the expected outcomes stay), the sample card's chip
files, security objects positive and negative (every SO_* code at least once), and trust
lists that pin the rules of §2.2 and §6.5. Checked by
tests/crypto/test_security_object_vectors.py; the script also runs every vector and stops
on a disagreement.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

import cbor2  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from crypto import (Algorithm, TrustStore, build_trust_list, certs, cose, keys, parse_credential,  # noqa: E402
                    samples, verify_security_object)
from crypto.chip import Group, build_security_object, group_payloads  # noqa: E402
from crypto.claims import end_of_day  # noqa: E402
from crypto.errors import TrustListError  # noqa: E402
from crypto.keys import SoftwareSigner  # noqa: E402
from firmware_tools.card import profile as card_profile  # noqa: E402

OUT = HERE / "security_object.json"
UTC = dt.timezone.utc
PKI_AT = dt.datetime(2026, 1, 1, tzinfo=UTC)
IAT = samples.SAMPLE_IAT                                                  # 2026-01-05T09:30:00Z
NOW = int(dt.datetime(2026, 3, 2, 2, 0, tzinfo=UTC).timestamp())          # the verifier's clock
TL_AT = int(dt.datetime(2026, 3, 1, tzinfo=UTC).timestamp())
TL_VERSION, REVOKED_SERIAL = 5, 77
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF sample photo of the security-object vectors"
FILES = {Group.CARD_INFO: card_profile.CARD_INFO, Group.HOLDER: card_profile.DG1, Group.PHOTO: card_profile.DG2,
         Group.PERMIT: card_profile.DG3, Group.INSURANCE: card_profile.DG4, Group.CHIP_KEY: card_profile.DG5}


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def credential(serial: int = 42):
    record = samples.typical_record()
    record["holder"]["photo_digest"] = hashlib.sha256(PHOTO).digest()
    record["card"]["serial"] = serial
    return parse_credential(record)


class Gen:
    def __init__(self) -> None:
        root_key = keys.generate_private_key(Algorithm.ES256)
        self.root = certs.make_root_ca(root_key, now=PKI_AT)
        issuer_key = keys.generate_private_key(Algorithm.ES256)
        self.issuer = SoftwareSigner(issuer_key, certs.make_issuer_certificate(
            root_key, self.root, issuer_key.public_key(), issuer_code="SH01", now=PKI_AT))
        tl_key = keys.generate_private_key(Algorithm.EDDSA)
        self.tl_signer = SoftwareSigner(tl_key, certs.make_trust_list_signer_certificate(
            root_key, self.root, tl_key.public_key(), now=PKI_AT))
        self.trust_list = self.list(TL_VERSION)
        chip_key = keys.generate_private_key(Algorithm.ES256).public_key()
        payloads = dict(group_payloads(credential(), PHOTO))
        payloads[Group.CHIP_KEY] = card_profile.chip_key_payload(chip_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        self.files = {g: FILES[g].wrap(p) for g, p in payloads.items()}
        self.vectors: list[dict] = []
        self.trust_list_vectors: list[dict] = []

    def list(self, version: int, signer=None) -> bytes:
        return build_trust_list(version=version, issued_at=TL_AT, next_update=TL_AT + 7 * 86_400,
                                issuer_certificates=[self.issuer.certificate],
                                revoked={"SH01": [REVOKED_SERIAL]}, signer=signer or self.tl_signer)

    # ---------------------------------------------------------------- security objects

    def so(self, *, files=None, serial: int = 42, exp: int | None = None) -> bytes:
        cred = credential(serial)
        return build_security_object(card_number=cred.card.card_number, serial=serial, issuer_code="SH01",
                                     iat=IAT, exp=exp if exp is not None else end_of_day(cred.card.expiry_date),
                                     files=files or self.files, signer=self.issuer)

    def payload(self) -> dict:
        return cbor2.loads(cbor2.loads(self.so()).value[2])

    def signed(self, payload: bytes, protected: bytes | None = None) -> bytes:
        protected = protected if protected is not None else cose.protected_header(self.issuer.algorithm,
                                                                                   self.issuer.kid)
        signature = self.issuer.sign(cose.sig_structure(protected, payload))
        return cbor2.dumps(cbor2.CBORTag(cose.COSE_SIGN1_TAG, [protected, {}, payload, signature]))

    def edited(self, edit) -> bytes:
        body = self.payload()
        edit(body)
        return self.signed(cbor2.dumps(body, canonical=True))

    def add(self, id_: str, description: str, data: bytes, outcome: str, reason: str | None = None,
            failed: str | None = None, now: int = NOW) -> None:
        self.vectors.append({"id": f"security_object/{id_}", "description": description, "now": now,
                             "input": {"security_object_hex": data.hex()},
                             "expected": {"outcome": outcome, "reasons": [reason] if reason else [],
                                          "failed_check": failed}})

    def security_objects(self) -> None:
        S = cbor2.CBORSimpleValue
        self.add("valid-every-group", "the sample card: card info, DG1-DG5 hashed", self.so(), "VALID")
        required = {g: f for g, f in self.files.items() if g in (Group.CARD_INFO, Group.HOLDER, Group.CHIP_KEY)}
        self.add("valid-required-groups-only", "only groups 0, 1 and 5 (a card without photo, permit, insurance "
                 "files)", self.so(files=required), "VALID")
        self.add("revoked", f"serial {REVOKED_SERIAL}, revoked by the trust list", self.so(serial=REVOKED_SERIAL),
                 "INVALID", "REVOKED", "revocation")
        self.add("expired", "exp an hour before now (beyond the 300 s leeway)", self.so(exp=NOW - 3600),
                 "INVALID", "CREDENTIAL_EXPIRED", "validity")
        good = self.so()
        self.add("signature-altered", "the last byte of the signature flipped", good[:-1] + bytes([good[-1] ^ 1]),
                 "INVALID", "SIGNATURE_INVALID", "signature")
        protected = bytes.fromhex("a3012604") + cose.protected_header(self.issuer.algorithm, self.issuer.kid)[4:] \
            + bytes.fromhex("f501")
        self.add("protected-label-true", "protected header {1: -7, 4: kid, true: 1}: three distinct labels "
                 "(not a duplicate key, §2.2); true is not a label", self.signed(cbor2.loads(good).value[2],
                                                                                protected),
                 "INVALID", "COSE_HEADER", "format")
        cases = [
            ("payload-array", "the payload is an array", lambda b: None, "SO_TYPE"),
            ("simple-7-as-digests-key", "the digests under simple(7) instead of the integer 7 (equal in some "
             "languages, not in CBOR)", lambda b: b.__setitem__(S(7), b.pop(7)), "SO_UNKNOWN_KEY"),
            ("true-as-version-key", "version under the key true", lambda b: b.__setitem__(True, b.pop(1)),
             "SO_UNKNOWN_KEY"),
            ("unknown-key-9", "a key 9", lambda b: b.__setitem__(9, 0), "SO_UNKNOWN_KEY"),
            ("exp-missing", "no key 8 (exp)", lambda b: b.pop(8), "SO_MISSING"),
            ("serial-as-text", "serial \"42\"", lambda b: b.__setitem__(3, "42"), "SO_TYPE"),
            ("digests-as-array", "digests as an array of byte strings", lambda b: b.__setitem__(7, list(b[7].values())),
             "SO_TYPE"),
            ("version-2", "version 2", lambda b: b.__setitem__(1, 2), "SO_VALUE"),
            ("digest-algorithm-sha384", "digest algorithm -43 (SHA-384)", lambda b: b.__setitem__(6, -43), "SO_VALUE"),
            ("issuer-not-the-signer", "issuer BJ01, signed by SH01's key", lambda b: b.__setitem__(4, "BJ01"),
             "SO_VALUE"),
            ("serial-2-32", "serial 2^32", lambda b: b.__setitem__(3, 2**32), "SO_VALUE"),
            ("digest-31-bytes", "DG2's digest is 31 bytes", lambda b: b[7].__setitem__(2, b[7][2][:31]), "SO_VALUE"),
            ("digest-as-text", "DG2's digest as text", lambda b: b[7].__setitem__(2, b[7][2].hex()), "SO_TYPE"),
            ("digests-group-6", "a digest for group 6", lambda b: b[7].__setitem__(6, bytes(32)), "SO_UNKNOWN_KEY"),
            ("chip-key-digest-missing", "no digest of DG5 (required)", lambda b: b[7].pop(5), "SO_MISSING"),
        ]
        for id_, description, edit, reason in cases:
            data = self.signed(cbor2.dumps([1, 2, 3])) if id_ == "payload-array" else self.edited(edit)
            self.add(id_, description, data, "INVALID", reason, "claims")

    # ---------------------------------------------------------------- trust lists

    def add_list(self, id_: str, description: str, data: bytes, held: str | None, accepted: bool,
                 reason: str | None = None, **settings) -> None:
        self.trust_list_vectors.append({"id": f"trust_list/{id_}", "description": description, "held": held,
                                        **settings, "input": {"trust_list_hex": data.hex()},
                                        "expected": {"accepted": accepted, "reason": reason}})

    def resigned_list(self, payload: bytes, *, algorithm: Algorithm | None = None) -> bytes:
        signer = self.tl_signer
        algorithm = algorithm or signer.algorithm
        protected = cose.protected_header(algorithm, signer.kid)
        signature = signer.sign(cose.sig_structure(protected, payload))
        return cbor2.dumps(cbor2.CBORTag(18, [protected, {33: der(signer.certificate)}, payload, signature]))

    def trust_lists(self) -> None:
        S = cbor2.CBORSimpleValue
        body = cbor2.loads(cbor2.loads(self.list(TL_VERSION + 1)).value[2])
        self.add_list("simple-value-keys", "payload keys simple(1)..simple(5) instead of the integers 1..5 (§2.2)",
                      self.resigned_list(cbor2.dumps({S(k): v for k, v in body.items()})), "pki", False,
                      "TL_MALFORMED")
        self.add_list("alg-does-not-fit-signer-key", "alg ES256 (-7) in the protected header, signed by the "
                      "Ed25519 trust-list signer (§6.5 step 4)",
                      self.resigned_list(cbor2.dumps(body), algorithm=Algorithm.ES256), "pki", False, "TL_SIGNATURE")
        self.add_list("eddsa-signer-with-es256-only-allow-list", "version 6 signed with EdDSA; the verifier's "
                      "allow-list for credentials is ES256 only, which does not apply to trust lists (§6.5)",
                      self.list(TL_VERSION + 1), "pki", True, allowed_algorithms=[-7])
        cert = der(self.tl_signer.certificate)
        at = cert.index(bytes.fromhex("a003020102")) + 4
        items = list(cbor2.loads(self.list(TL_VERSION + 1)).value)
        items[1] = {33: cert[:at] + b"\x2e" + cert[at + 1:]}
        self.add_list("signer-certificate-version-2e", "the x5chain certificate's version byte 02 flipped to 2e "
                      "(§6.5 step 3)", cbor2.dumps(cbor2.CBORTag(18, items)), "pki", False, "TL_MALFORMED")
        self.add_list("first-list", "the file's trust list, given to an empty store", self.trust_list, None, True)

    def document(self) -> dict:
        return {
            "group": "security_object",
            "description": "chip security objects (docs/spec.md §10.2-§10.4) and trust lists (§2.2, §6.5)",
            "pki": {"root_pem": pem(self.root), "issuer_sh01_pem": pem(self.issuer.certificate),
                    "trust_list_signer_pem": pem(self.tl_signer.certificate),
                    "trust_list_hex": self.trust_list.hex(), "trust_list_version": TL_VERSION,
                    "revoked": {"SH01": [REVOKED_SERIAL]}},
            "files": {g.name: data.hex() for g, data in self.files.items()},
            "vectors": self.vectors,
            "trust_list_vectors": self.trust_list_vectors,
        }


def store_for(doc: dict, held: str | None = "pki", allowed=(-7, -8)) -> TrustStore:
    """The verifier of a vector (also used by tests/crypto/test_security_object_vectors.py)."""
    root = x509.load_pem_x509_certificate(doc["pki"]["root_pem"].encode())
    store = TrustStore(root, allowed_algorithms=frozenset(Algorithm(a) for a in allowed))
    if held == "pki":
        store.update(bytes.fromhex(doc["pki"]["trust_list_hex"]))
    return store


def check(doc: dict) -> list[str]:
    problems = []
    for v in doc["vectors"]:
        verdict = verify_security_object(bytes.fromhex(v["input"]["security_object_hex"]), store_for(doc),
                                         now=v["now"])
        got = (verdict.outcome.value, [r.value for r in verdict.reasons])
        if got != (v["expected"]["outcome"], v["expected"]["reasons"]):
            problems.append(f"{v['id']}: {got}")
    for v in doc["trust_list_vectors"]:
        store = store_for(doc, v["held"], v.get("allowed_algorithms", (-7, -8)))
        try:
            store.update(bytes.fromhex(v["input"]["trust_list_hex"]))
            got = (True, None)
        except TrustListError as exc:
            got = (False, exc.reason.value)
        if got != (v["expected"]["accepted"], v["expected"]["reason"]):
            problems.append(f"{v['id']}: {got}")
    return problems


def main() -> int:
    gen = Gen()
    gen.security_objects()
    gen.trust_lists()
    doc = gen.document()
    problems = check(doc)
    if problems:
        print("\n".join(problems))
        return 1
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"{OUT.relative_to(REPO)}: {len(doc['vectors'])} security objects, "
          f"{len(doc['trust_list_vectors'])} trust lists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
