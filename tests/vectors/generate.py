#!/usr/bin/env python3
"""Generate sscard's conformance test vectors (docs/spec.md §9).

    .venv/bin/python tests/vectors/generate.py

Creates a fixed test PKI (root CA, issuer signing certificates SH01 ES256 and SH02 EdDSA,
a previous SH01 key whose signing period has ended, an issuer certificate that is *not*
in the trust list, the trust-list signer), a trust list, and one JSON file of vectors per
group. Every timestamp is fixed (2025-2026), so the vectors verify the same way forever;
the keys are random, so running this again rewrites every file: the JSON is generated
once and committed, this script is kept to regenerate it when the format changes.
Private keys exist only while this script runs: none is written.

It also refreshes the generated blocks of docs/spec.md (sizes, worked example) between
their ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` markers, and prints a
check of every vector against crypto.verify_credential (the real assertions are in
tests/crypto/test_vectors.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

import cbor2  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from crypto import (Status, TrustStore, build_trust_list, cbor, certs, cose, keys,  # noqa: E402
                    qrtext, samples, verify_credential)
from crypto.claims import Profile, encode_claims  # noqa: E402
from crypto.cose import Algorithm  # noqa: E402
from crypto.errors import SscError  # noqa: E402
from crypto.keys import SoftwareSigner, raw_signature  # noqa: E402
from crypto.schema import Credential, parse_credential  # noqa: E402
from crypto.trustlist import REVOCATION_SERIAL_LIST  # noqa: E402

UTC = dt.timezone.utc
SPEC = REPO / "docs" / "spec.md"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def ts(text: str) -> int:
    return int(at(text).timestamp())


# ---------------------------------------------------------------- the fixed timeline

ROOT_AT = at("2025-01-01T00:00:00")          # root CA not before
PREVIOUS_AT = at("2025-06-01T00:00:00")      # SH01's previous key: signs 60 days only
ISSUERS_AT = at("2025-12-15T00:00:00")       # SH01, SH02, SH09 (unlisted), trust-list signer
IAT = samples.SAMPLE_IAT                     # 2026-01-05T09:30:00Z
TL_VERSION = 3
TL_ISSUED_AT = ts("2026-03-01T00:00:00")
TL_NEXT_UPDATE = ts("2026-03-08T00:00:00")
NOW = ts("2026-03-02T02:00:00")              # 10:00 in Beijing, the day after the list was issued
REVOKED = {"SH01": [7, 9, 1001], "SH02": [5]}
LEEWAY = 300


# ---------------------------------------------------------------- helpers

def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


class RawSigner:
    """A signer with a chosen algorithm and kid (to build vectors a real Signer refuses)."""

    def __init__(self, key, kid: bytes, algorithm: Algorithm):
        self.key, self.kid, self.algorithm = key, kid, algorithm

    def sign(self, data: bytes) -> bytes:
        return raw_signature(self.key, data)


def envelope(protected: bytes, unprotected, payload, signature, tag: int | None = cose.COSE_SIGN1_TAG) -> bytes:
    items = [protected, unprotected, payload, signature]
    return cbor2.dumps(items if tag is None else cbor2.CBORTag(tag, items), canonical=True)


def signed_envelope(protected: bytes, payload: bytes, key, *, unprotected=None, tag=cose.COSE_SIGN1_TAG,
                    signature_edit=None) -> bytes:
    """A COSE_Sign1 whose protected header bytes are given verbatim, correctly signed."""
    signature = raw_signature(key, cose.sig_structure(protected, payload))
    if signature_edit:
        signature = signature_edit(signature)
    return envelope(protected, unprotected if unprotected is not None else {}, payload, signature, tag)


def mutate(payload: bytes, edit) -> bytes:
    claims = cbor2.loads(payload)
    edit(claims)
    return cbor.dumps(claims)


def iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def credential_view(cred: Credential, profile: Profile, iss: str) -> dict:
    """What a verifier decodes from a credential of `profile`, as JSON (the source record
    with what the profile leaves out set to null)."""
    qr = profile is Profile.QR
    h, i, p, c = cred.holder, cred.identifiers, cred.permit, cred.card
    return {
        "holder": {"family_name": h.family_name, "given_names": h.given_names, "chinese_name": h.chinese_name,
                   "nationality": h.nationality, "birth_date": iso(h.birth_date), "sex": int(h.sex),
                   "photo_digest": None if qr or h.photo_digest is None else h.photo_digest.hex()},
        "identifiers": {"social_security_number": i.social_security_number,
                        "work_permit_number": i.work_permit_number,
                        "passport_number": None if qr else i.passport_number,
                        "permanent_residence_id": i.permanent_residence_id},
        "permit": {"category": int(p.category), "employer": {"name": p.employer.name, "uscc": p.employer.uscc},
                   "position": p.position, "work_location": p.work_location, "valid_from": iso(p.valid_from),
                   "valid_until": iso(p.valid_until), "status": int(p.status)},
        "insurance": [{"type": int(e.type), "status": int(e.status),
                       "since": None if qr or e.since is None else iso(e.since),
                       "paid_through": iso(e.paid_through) if e.since is not None else None}
                      for e in cred.insurance],
        "card": {"card_number": c.card_number, "serial": c.serial, "kind": int(c.kind), "sequence": c.sequence,
                 "issue_date": None if qr else iso(c.issue_date), "expiry_date": iso(c.expiry_date),
                 "issuing_centre": iss},
    }


# ---------------------------------------------------------------- CBOR diagnostic notation

def diag(value) -> str:
    """RFC 8949 §8 diagnostic notation, on one line (what the vectors record)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        return f"h'{value.hex()}'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(diag(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{diag(k)}: {diag(v)}" for k, v in value.items()) + "}"
    if isinstance(value, cbor2.CBORTag):
        return f"{value.tag}({diag(value.value)})"
    raise TypeError(type(value).__name__)


_NAMES = {
    (): {1: "iss", 4: "exp", 6: "iat", 7: "cti", -65537: "sscard"},
    (-65537,): {1: "profile", 2: "holder", 3: "identifiers", 4: "permit", 5: "insurance", 6: "card"},
    (-65537, 2): {1: "family_name", 2: "given_names", 3: "chinese_name", 4: "nationality", 5: "birth_date",
                  6: "sex", 7: "photo_digest"},
    (-65537, 3): {1: "social_security_number", 2: "work_permit_number", 3: "passport_number",
                  4: "permanent_residence_id"},
    (-65537, 4): {1: "category", 2: "employer", 3: "uscc", 4: "position", 5: "work_location", 6: "valid_from",
                  7: "valid_until", 8: "status"},
    (-65537, 6): {1: "card_number", 2: "serial", 3: "kind", 4: "sequence", 5: "issue_date", 6: "expiry_date"},
}
_DAYS = {(-65537, 2, 5), (-65537, 4, 6), (-65537, 4, 7), (-65537, 6, 5), (-65537, 6, 6)}
_ENUMS = {(-65537, 1): {1: "QR", 2: "chip"}, (-65537, 2, 6): {0: "not known", 1: "male", 2: "female", 9: "n/a"},
          (-65537, 4, 1): {1: "A", 2: "B", 3: "C"}, (-65537, 4, 8): {1: "valid", 2: "suspended", 3: "cancelled"},
          (-65537, 6, 3): {1: "physical", 2: "electronic"}}
_INSURANCE = ("pension", "medical", "work injury", "unemployment", "maternity")
_INS_STATUS = {0: "not enrolled", 1: "normal", 2: "suspended", 3: "terminated"}


def _month(index: int) -> str:
    return f"{1970 + index // 12:04d}-{index % 12 + 1:02d}"


def _note(path: tuple, value) -> str:
    if path in ((4,), (6,)):
        return f" / {dt.datetime.fromtimestamp(value, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} /"
    if path in _DAYS:
        return f" / {dt.date(1970, 1, 1) + dt.timedelta(days=value)} /"
    if path in _ENUMS:
        return f" / {_ENUMS[path].get(value, '?')} /"
    if path == (-65537, 4, 5):
        return f' / shown as "{value:06d}" /'
    if path == (-65537, 3, 2):
        return f' / shown as "{value:018d}" /'
    return ""


def annotated(value, path: tuple = (), indent: int = 0, profile: int = 1) -> str:
    """Pretty diagnostic notation with the spec's field names as /comments/."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        names = _NAMES.get(path, {})
        if path == ():
            profile = value.get(-65537, {}).get(1, 1)
        lines = []
        items = list(value.items())
        for n, (k, v) in enumerate(items):
            comma = "," if n < len(items) - 1 else ""
            name = f" / {names[k]} /" if k in names else ""
            body = annotated(v, path + (k,), indent + 1, profile)
            note = _note(path + (k,), v)
            lines.append(f"{pad}{diag(k)}{name}: {body}{comma}{note}")
        return "{\n" + "\n".join(lines) + "\n" + "  " * indent + "}"
    if path == (-65537, 5):
        lines = []
        for n, item in enumerate(value):
            comma = "," if n < len(value) - 1 else ""
            parts = [_INS_STATUS.get(item[0], "?")]
            months = item[1:]
            if profile == 2 and months:
                parts.append(f"since {_month(months[0])}")
                months = months[1:]
            if months:
                parts.append(f"paid through {_month(months[0])}")
            lines.append(f"{pad}{diag(item)}{comma} / {_INSURANCE[n]}: {', '.join(parts)} /")
        return "[\n" + "\n".join(lines) + "\n" + "  " * indent + "]"
    return diag(value)


# ---------------------------------------------------------------- the PKI

class Pki:
    def __init__(self):
        self.root_key = keys.generate_private_key(Algorithm.ES256)
        self.root = certs.make_root_ca(self.root_key, now=ROOT_AT)
        self.sh01_key = keys.generate_private_key(Algorithm.ES256)
        self.sh01 = certs.make_issuer_certificate(self.root_key, self.root, self.sh01_key.public_key(),
                                                  issuer_code="SH01", now=ISSUERS_AT)
        self.sh02_key = keys.generate_private_key(Algorithm.EDDSA)
        self.sh02 = certs.make_issuer_certificate(self.root_key, self.root, self.sh02_key.public_key(),
                                                  issuer_code="SH02", now=ISSUERS_AT)
        self.previous_key = keys.generate_private_key(Algorithm.ES256)
        self.previous = certs.make_issuer_certificate(self.root_key, self.root, self.previous_key.public_key(),
                                                      issuer_code="SH01", now=PREVIOUS_AT, signing_days=60)
        self.unlisted_key = keys.generate_private_key(Algorithm.ES256)
        self.unlisted = certs.make_issuer_certificate(self.root_key, self.root, self.unlisted_key.public_key(),
                                                      issuer_code="SH09", now=ISSUERS_AT)
        self.tl_key = keys.generate_private_key(Algorithm.ES256)
        self.tl_cert = certs.make_trust_list_signer_certificate(self.root_key, self.root, self.tl_key.public_key(),
                                                                now=ISSUERS_AT)
        self.sh01_signer = SoftwareSigner(self.sh01_key, self.sh01)
        self.sh02_signer = SoftwareSigner(self.sh02_key, self.sh02)
        self.previous_signer = SoftwareSigner(self.previous_key, self.previous)
        self.unlisted_signer = SoftwareSigner(self.unlisted_key, self.unlisted)
        self.tl_signer = SoftwareSigner(self.tl_key, self.tl_cert)
        self.listed = [self.sh01, self.sh02, self.previous]
        self.trust_list = self.make_trust_list()

    def make_trust_list(self, *, version=TL_VERSION, issued_at=TL_ISSUED_AT, next_update=TL_NEXT_UPDATE,
                        issuers=None, revoked=None, signer=None) -> bytes:
        return build_trust_list(version=version, issued_at=issued_at, next_update=next_update,
                                issuer_certificates=issuers if issuers is not None else self.listed,
                                revoked=revoked if revoked is not None else REVOKED,
                                signer=signer or self.tl_signer)

    def issuer_entry(self, name, cert, key_note, listed) -> dict:
        ic = certs.IssuerCertificate.from_certificate(cert, self.root)
        return {"name": name, "issuer_code": ic.issuer_code, "algorithm": ic.algorithm.name,
                "kid": ic.kid.hex(), "in_trust_list": listed,
                "not_before": ic.not_before, "not_after": ic.not_after,
                "private_key_usage_period": [ic.usage_not_before, ic.usage_not_after],
                "note": key_note, "pem": pem(cert)}

    def to_json(self) -> dict:
        return {
            "description": "The fixed test PKI of the sscard vectors (docs/spec.md §9). Times are epoch seconds.",
            "root_pem": pem(self.root),
            "issuer_sh01_pem": pem(self.sh01),
            "issuer_sh02_pem": pem(self.sh02),
            "trust_list_signer_pem": pem(self.tl_cert),
            "issuers": [
                self.issuer_entry("SH01", self.sh01, "ES256 issuer signing certificate of centre SH01", True),
                self.issuer_entry("SH02", self.sh02, "EdDSA (Ed25519) issuer signing certificate of centre SH02", True),
                self.issuer_entry("SH01-previous", self.previous,
                                  "SH01's previous key: its private key usage period (60 days) has ended; "
                                  "the certificate stays valid for the credentials it signed", True),
                self.issuer_entry("SH09-unlisted", self.unlisted,
                                  "chained to the root but not in the trust list", False),
            ],
            "trust_list": {"version": TL_VERSION, "issued_at": TL_ISSUED_AT, "next_update": TL_NEXT_UPDATE,
                           "revoked": REVOKED, "hex": self.trust_list.hex()},
        }


# ---------------------------------------------------------------- records

def typical() -> Credential:
    return samples.typical()


def record(edit=None) -> Credential:
    rec = samples.typical_record()
    if edit:
        edit(rec)
    return parse_credential(rec)


def eddsa_record(rec: dict) -> None:
    rec["holder"] = {"family_name": "TANAKA", "given_names": "YUKI", "nationality": "JPN",
                     "birth_date": "1991-07-21", "sex": 1, "photo_digest": samples.SAMPLE_PHOTO_DIGEST}
    rec["identifiers"] = {"social_security_number": "F310000JPN910721", "work_permit_number": "156000019910721033",
                          "passport_number": "TR4471930"}
    rec["permit"]["category"] = "C"
    rec["permit"]["position"] = "Japanese Language Teacher"
    rec["permit"]["work_location"] = "310104"
    rec["insurance"] = [
        {"type": 1, "status": 1, "since": "2026-02-01", "paid_through": "2026-02-01"},
        {"type": 2, "status": 1, "since": "2026-02-01", "paid_through": "2026-02-01"},
        {"type": 3, "status": 1, "since": "2026-02-01"},
        {"type": 4, "status": 0},
        {"type": 5, "status": 2, "since": "2026-02-01", "paid_through": "2026-02-01"},
    ]
    rec["card"] = {"card_number": "M31B00017", "serial": 17, "kind": 2, "sequence": 1,
                   "issue_date": "2026-02-03", "expiry_date": "2029-02-02", "issuing_centre": "SH02"}


def with_serial(serial: int, centre: str = "SH01"):
    def edit(rec):
        rec["card"]["serial"] = serial
        rec["card"]["card_number"] = f"M31A{serial:05d}"
        rec["card"]["issuing_centre"] = centre
    return edit


# ---------------------------------------------------------------- vectors

class Vectors:
    def __init__(self, pki: Pki):
        self.pki = pki
        self.groups: dict[str, list[dict]] = {g: [] for g in
                                              ("valid", "qr_text", "cose", "claims", "certificates", "revocation")}
        self.trust_lists: list[dict] = []
        self.sizes: list[dict] = []

    def add(self, group, id_, description, input_, outcome, reasons=(), failed_check=None, *, now=NOW,
            **extra) -> dict:
        if isinstance(input_, str):
            inp = {"qr_text": input_}
        else:
            inp = {"cose_hex": bytes(input_).hex()}
        vector = {"id": f"{group}/{id_}", "description": description, "now": now}
        vector.update(extra)
        vector["input"] = inp
        vector["expected"] = {"outcome": outcome, "reasons": list(reasons), "failed_check": failed_check}
        self.groups[group].append(vector)
        return vector

    def bad(self, group, id_, description, input_, reason, check, **extra):
        return self.add(group, id_, description, input_, "INVALID", [reason], check, **extra)

    # --- building blocks

    def qr_payload(self, cred=None, *, iat=IAT, exp=None) -> bytes:
        return encode_claims(cred or typical(), profile=Profile.QR, iat=iat, exp=exp)

    def sign(self, payload: bytes, signer=None) -> bytes:
        return cose.sign1(payload, signer or self.pki.sh01_signer)

    def qr(self, payload: bytes, signer=None) -> str:
        return qrtext.encode_qr_text(self.sign(payload, signer))

    def valid(self, id_, description, cred: Credential, signer, *, profile=Profile.QR, iat=IAT, exp=None, cti=None,
              as_qr=True, group="valid", now=NOW, **extra):
        payload = encode_claims(cred, profile=profile, iat=iat, exp=exp, cti=cti)
        cose_bytes = cose.sign1(payload, signer)
        text = qrtext.encode_qr_text(cose_bytes)
        iss = signer.certificate.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value
        vector = self.add(group, id_, description, text if as_qr else cose_bytes, "VALID", now=now, **extra)
        decoded = cbor2.loads(payload)
        vector["expected"].update({
            "cose_hex": cose_bytes.hex(),
            "payload_hex": payload.hex(),
            "payload_diag": diag(decoded),
            "claims": {"iss": iss, "iat": iat, "exp": decoded[4], "cti": cti.hex() if cti else None,
                       "profile": int(profile), "credential": credential_view(cred, profile, iss)},
        })
        return vector, payload, cose_bytes, text

    # --- groups

    def build(self) -> None:
        self.build_valid()
        self.build_qr_text()
        self.build_cose()
        self.build_claims()
        self.build_certificates()
        self.build_revocation()
        self.build_trust_lists()

    def build_valid(self):
        p = self.pki
        v, payload, cose_bytes, text = self.valid(
            "es256-typical", "A typical record in the QR profile, ES256, issuing centre SH01 (the worked example "
            "of docs/spec.md §9)", typical(), p.sh01_signer)
        self.example = (v, payload, cose_bytes, text)
        self.size("typical record (SAMPLE MUELLER)", "QR", "ES256", payload, cose_bytes, text)
        v, payload, cose_bytes, text = self.valid(
            "es256-long", "The longest realistic record (long Latin names, Chinese name, permanent residence ID, "
            "long Chinese employer name) in the QR profile, ES256", samples.long(), p.sh01_signer)
        self.size("long record (samples.long)", "QR", "ES256", payload, cose_bytes, text)
        v, payload, cose_bytes, text = self.valid(
            "eddsa-typical", "An electronic card (kind 2) of centre SH02 signed with EdDSA (Ed25519); insurance "
            "entries in every QR shape: [1, m], [1] (enrolled, paid_through unknown), [0], [2, m]",
            record(eddsa_record), p.sh02_signer, iat=ts("2026-02-03T08:00:00"))
        self.size("typical record, electronic card", "QR", "EdDSA", payload, cose_bytes, text)
        cti = hashlib.sha256(b"sscard vector chip-typical").digest()[:16]
        v, payload, cose_bytes, text = self.valid(
            "chip-typical", "The chip profile (security object payload read from the chip): iss, cti, passport "
            "number, photo digest, issue date and insurance 'since' present; input is the COSE bytes",
            typical(), p.sh01_signer, profile=Profile.CHIP, cti=cti, as_qr=False)
        self.size("typical record", "chip", "ES256", payload, cose_bytes, None)
        v, payload, cose_bytes, text = self.valid(
            "chip-long", "The long record in the chip profile, no cti", samples.long(), p.sh01_signer,
            profile=Profile.CHIP, as_qr=False)
        self.size("long record (samples.long)", "chip", "ES256", payload, cose_bytes, None)
        self.valid("previous-key-inside-usage", "Signed on 2025-07-01 by SH01's previous key, inside its 60-day "
                   "private key usage period: still valid after the period ended (the certificate outlives "
                   "the signing period)", record(with_serial(77)), p.previous_signer,
                   iat=ts("2025-07-01T03:00:00"))

    def size(self, what, profile, alg, payload, cose_bytes, text):
        self.sizes.append({"record": what, "profile": profile, "algorithm": alg, "payload": len(payload),
                           "cose": len(cose_bytes), "qr_chars": len(text) if text else None,
                           "qr_version_q": qr_version(text) if text else None})

    def build_qr_text(self):
        _, _, cose_bytes, text = self.example
        body = text[len(qrtext.PREFIX):]
        g = "qr_text"
        self.add(g, "trailing-crlf", "CR LF after the text (a scanner's end of scan) is stripped", text + "\r\n",
                 "VALID")
        self.add(g, "trailing-lf", "LF after the text is stripped", text + "\n", "VALID")
        self.add(g, "trailing-cr-cr", "Several trailing CR are stripped", text + "\r\r", "VALID")
        self.bad(g, "lowercase-all", "The whole text in lowercase (scanner caps-lock)", text.lower(),
                 "QR_LOWERCASE", "format")
        self.bad(g, "lowercase-body", "Prefix in capitals, content in lowercase",
                 qrtext.PREFIX + body.lower(), "QR_LOWERCASE", "format")
        self.bad(g, "embedded-tab", "A TAB inside the content", text[:40] + "\t" + text[40:],
                 "QR_WHITESPACE", "format")
        self.bad(g, "embedded-newline", "An LF inside the content (a split scan)", text[:100] + "\n" + text[100:],
                 "QR_WHITESPACE", "format")
        self.bad(g, "trailing-tab", "A TAB after the text: only CR and LF are stripped", text + "\t",
                 "QR_WHITESPACE", "format")
        self.bad(g, "leading-newline", "An LF before the prefix: the text does not start with SSC1:",
                 "\n" + text, "QR_PREFIX", "format")
        self.bad(g, "prefix-hc1", "An EU Digital COVID Certificate", "HC1:" + body, "QR_PREFIX", "format")
        self.bad(g, "prefix-wifi", "A Wi-Fi configuration QR code", "WIFI:S:sscard-guest;T:WPA;P:secret;;",
                 "QR_PREFIX", "format")
        self.bad(g, "prefix-url", "A web link", "https://si.12333.gov.cn/", "QR_PREFIX", "format")
        self.bad(g, "prefix-newer-version", "A newer format version this verifier does not know (SSC2:)",
                 "SSC2:" + body, "QR_PREFIX", "format")
        self.bad(g, "prefix-missing", "base45 content without any prefix", body, "QR_PREFIX", "format")
        self.bad(g, "empty", "An empty scan", "", "QR_EMPTY", "format")
        self.bad(g, "empty-crlf", "Only the scanner's CR LF", "\r\n", "QR_EMPTY", "format")
        self.bad(g, "prefix-only", "The prefix and nothing after it", "SSC1:", "QR_EMPTY", "format")
        self.bad(g, "too-long", "4297 characters: more than any QR code holds (4296 alphanumeric)",
                 "SSC1:" + "0" * 4292, "QR_TOO_LONG", "format")
        self.bad(g, "max-length-checked-further", "Exactly 4296 characters is not too long: the content is "
                 "checked, and 4291 base45 characters (length mod 3 = 1) cannot be decoded",
                 "SSC1:" + "0" * 4291, "BASE45_LENGTH", "format")
        cut = next(k for k in (1, 2, 3) if (len(body) - k) % 3 == 1)
        self.bad(g, "base45-length", f"{cut} character(s) cut off the end: base45 length mod 3 = 1",
                 text[:-cut], "BASE45_LENGTH", "format")
        self.bad(g, "base45-value-triple", "A 3-character group worth 65536 (GGW)", text[:5] + "GGW" + text[8:],
                 "BASE45_VALUE", "format")
        self.bad(g, "base45-value-pair", "A final 2-character group worth 1619 (':Z'), above 255",
                 "SSC1:" + (body[:-2] if len(body) % 3 == 2 else body) + ":Z",
                 "BASE45_VALUE", "format")
        self.bad(g, "character-hash", "'#' is not in the base45 alphabet", text[:60] + "#" + text[61:],
                 "QR_CHARACTER", "format")
        self.bad(g, "character-non-ascii", "A non-ASCII character (fullwidth digit)", text[:60] + "\uff10" + text[61:],
                 "QR_CHARACTER", "format")
        self.bad(g, "not-cbor", "Valid base45 of bytes that are not CBOR (0xff, a lone break code)",
                 qrtext.encode_qr_text(b"\xff\x00"), "CBOR_MALFORMED", "format")

    def build_cose(self):
        p = self.pki
        g = "cose"
        payload = self.qr_payload()
        good = self.sign(payload)
        kid = p.sh01_signer.kid
        prot = cose.protected_header(Algorithm.ES256, kid)
        key = p.sh01_key

        def sig(protected=prot, data=payload):
            return raw_signature(key, cose.sig_structure(protected, data))

        self.add(g, "x5chain-allowed", "An x5chain (33) in the unprotected header is allowed (and ignored)",
                 signed_envelope(prot, payload, key, unprotected={33: der(p.sh01)}), "VALID")
        self.bad(g, "untagged", "A COSE_Sign1 array without tag 18",
                 envelope(prot, {}, payload, sig(), tag=None), "COSE_UNTAGGED", "format")
        self.bad(g, "wrong-tag-98", "Tag 98 (COSE_Sign) instead of 18", envelope(prot, {}, payload, sig(), tag=98),
                 "COSE_WRONG_TAG", "format")
        self.bad(g, "cwt-tag-61", "Tag 61 (CWT) wrapped around the tagged COSE_Sign1",
                 cbor2.dumps(cbor2.CBORTag(61, cbor2.loads(good))), "COSE_WRONG_TAG", "format")
        self.bad(g, "self-describe-55799", "The self-described CBOR tag 55799 around the COSE_Sign1",
                 b"\xd9\xd9\xf7" + good, "CBOR_MALFORMED", "format")
        self.bad(g, "not-array", "Tag 18 around a map", cbor2.dumps(cbor2.CBORTag(18, {1: prot})),
                 "COSE_STRUCTURE", "format")
        self.bad(g, "array-of-3", "Tag 18 around an array of 3 (no signature)",
                 cbor2.dumps(cbor2.CBORTag(18, [prot, {}, payload])), "COSE_STRUCTURE", "format")
        self.bad(g, "array-of-5", "Tag 18 around an array of 5",
                 cbor2.dumps(cbor2.CBORTag(18, [prot, {}, payload, sig(), b""])), "COSE_STRUCTURE", "format")
        self.bad(g, "protected-as-map", "The protected header as a map instead of a byte string",
                 envelope({1: -7, 4: kid}, {}, payload, sig()), "COSE_STRUCTURE", "format")
        self.bad(g, "unprotected-as-bstr", "The unprotected header as a byte string instead of a map",
                 envelope(prot, b"", payload, sig()), "COSE_STRUCTURE", "format")
        self.bad(g, "payload-detached", "A detached payload (null)", envelope(prot, {}, None, sig()),
                 "COSE_DETACHED_PAYLOAD", "format")
        self.bad(g, "payload-as-map", "The payload as a CBOR map instead of a byte string wrapping it",
                 envelope(prot, {}, cbor2.loads(payload), sig()), "COSE_STRUCTURE", "format")
        self.bad(g, "signature-as-text", "The signature as a text string",
                 envelope(prot, {}, payload, "x" * 64), "COSE_STRUCTURE", "format")
        self.bad(g, "protected-empty", "An empty protected header (h''): alg and kid missing",
                 signed_envelope(b"", payload, key), "COSE_ALG_MISSING", "format")
        p_kid_only = cbor.dumps({4: kid})
        self.bad(g, "alg-missing", "A protected header with kid but no alg",
                 signed_envelope(p_kid_only, payload, key), "COSE_ALG_MISSING", "format")
        self.bad(g, "alg-unprotected", "alg only in the unprotected header (kid protected)",
                 signed_envelope(p_kid_only, payload, key, unprotected={1: -7}), "COSE_ALG_UNPROTECTED", "format")
        p_es384 = cbor.dumps({1: -35, 4: kid})
        self.bad(g, "alg-es384", "alg -35 (ES384): not an sscard algorithm",
                 envelope(p_es384, {}, payload, sig(p_es384) + b"\x00" * 32), "COSE_ALG_UNKNOWN", "format")
        p_text_alg = cbor.dumps({1: "ES256", 4: kid})
        self.bad(g, "alg-as-text", "alg as the text \"ES256\"", signed_envelope(p_text_alg, payload, key),
                 "COSE_ALG_UNKNOWN", "format")
        p_crit = cbor.dumps({1: -7, 2: [4], 4: kid})
        self.bad(g, "crit", "A crit (2) header parameter", signed_envelope(p_crit, payload, key),
                 "COSE_HEADER", "format")
        p_iv = cbor.dumps({1: -7, 4: kid, 5: b"\x00" * 12})
        self.bad(g, "protected-unknown-label", "An unknown protected label (5, IV)",
                 signed_envelope(p_iv, payload, key), "COSE_HEADER", "format")
        self.bad(g, "unprotected-unknown-label", "An unknown unprotected label (5, IV)",
                 signed_envelope(prot, payload, key, unprotected={5: b"\x00" * 12}), "COSE_HEADER", "format")
        self.bad(g, "protected-not-map", "The protected header bytes encode an array",
                 signed_envelope(cbor.dumps([-7, kid]), payload, key), "COSE_HEADER", "format")
        self.bad(g, "protected-bool-label", "The protected header uses the label true instead of 1 "
                 "(labels are integers or text strings, RFC 9052 §3)",
                 signed_envelope(bytes.fromhex("a2f52604") + b"\x48" + kid, payload, key), "COSE_HEADER", "format")
        self.bad(g, "label-in-both-buckets", "kid in both the protected and the unprotected header",
                 signed_envelope(prot, payload, key, unprotected={4: kid}), "COSE_HEADER", "format")
        self.bad(g, "kid-missing", "No kid", signed_envelope(cbor.dumps({1: -7}), payload, key),
                 "COSE_KID", "format")
        self.bad(g, "kid-7-bytes", "A 7-byte kid", signed_envelope(cbor.dumps({1: -7, 4: kid[:7]}), payload, key),
                 "COSE_KID", "format")
        self.bad(g, "kid-32-bytes", "A 32-byte kid (the whole SHA-256)",
                 signed_envelope(cbor.dumps({1: -7, 4: hashlib.sha256(der(p.sh01)).digest()}), payload, key),
                 "COSE_KID", "format")
        self.bad(g, "kid-as-text", "kid as a text string",
                 signed_envelope(cbor.dumps({1: -7, 4: kid.hex()[:8]}), payload, key), "COSE_KID", "format")
        self.bad(g, "kid-unprotected", "kid only in the unprotected header",
                 signed_envelope(cbor.dumps({1: -7}), payload, key, unprotected={4: kid}), "COSE_KID", "format")
        self.bad(g, "signature-63", "An ES256 signature of 63 bytes",
                 signed_envelope(prot, payload, key, signature_edit=lambda s: s[:63]),
                 "COSE_SIGNATURE_LENGTH", "format")
        self.bad(g, "signature-65", "An ES256 signature of 65 bytes",
                 signed_envelope(prot, payload, key, signature_edit=lambda s: s + b"\x00"),
                 "COSE_SIGNATURE_LENGTH", "format")
        self.bad(g, "signature-der", "An ES256 signature in DER (ASN.1) form instead of r||s",
                 signed_envelope(prot, payload, key, signature_edit=_to_der), "COSE_SIGNATURE_LENGTH", "format")
        self.bad(g, "trailing-byte", "One byte (0x00) after the COSE_Sign1", good + b"\x00",
                 "CBOR_TRAILING_BYTES", "format")
        self.bad(g, "truncated", "The last byte of the signature cut off", good[:-1], "CBOR_MALFORMED", "format")
        dup = bytes.fromhex("a3012604") + b"\x48" + kid + bytes.fromhex("0126")
        self.bad(g, "protected-duplicate-key", "alg twice in the protected header map",
                 signed_envelope(dup, payload, key), "CBOR_DUPLICATE_KEY", "format")
        indefinite = (b"\xd2\x9f" + cbor2.dumps(prot) + b"\xa0" + cbor2.dumps(payload) + cbor2.dumps(sig())
                      + b"\xff")
        self.bad(g, "indefinite-array", "The COSE_Sign1 array with indefinite length (0x9f ... 0xff)",
                 indefinite, "CBOR_MALFORMED", "format")
        indef_payload = b"\x5f" + cbor2.dumps(payload[:100]) + cbor2.dumps(payload[100:]) + b"\xff"
        self.bad(g, "indefinite-payload", "The payload as an indefinite-length byte string (two chunks)",
                 b"\xd2\x84" + cbor2.dumps(prot) + b"\xa0" + indef_payload + cbor2.dumps(sig()),
                 "CBOR_MALFORMED", "format")
        too_large = envelope(prot, {}, b"\x00" * 2775, sig(prot, b"\x00" * 2775))
        assert len(too_large) == qrtext.MAX_COSE_BYTES + 1, len(too_large)
        self.bad(g, "too-large", f"{len(too_large)} bytes of COSE (input as bytes): more than the largest QR code "
                 f"can carry ({qrtext.MAX_COSE_BYTES})", too_large, "CBOR_TOO_LARGE", "format")
        # the signature check
        flipped = bytearray(good)
        at_ = good.index(b"MUELLER") + 6
        flipped[at_] ^= 0x01  # 'R' -> 'S'
        self.bad(g, "payload-modified", "One byte of the signed payload changed (MUELLER -> MUELLES)",
                 bytes(flipped), "SIGNATURE_INVALID", "signature")
        zero = signed_envelope(prot, payload, key, signature_edit=lambda s: b"\x00" * 64)
        self.bad(g, "signature-zero", "A signature of 64 zero bytes", zero, "SIGNATURE_INVALID", "signature")
        flipped_sig = signed_envelope(prot, payload, key, signature_edit=lambda s: s[:-1] + bytes([s[-1] ^ 1]))
        self.bad(g, "signature-bit-flipped", "The last bit of s flipped", flipped_sig, "SIGNATURE_INVALID",
                 "signature")
        other_protected = cose.protected_header(Algorithm.ES256, kid)
        self.bad(g, "signature-other-key", "SH01's kid, but signed with another P-256 key (SH09's)",
                 signed_envelope(other_protected, payload, p.unlisted_key), "SIGNATURE_INVALID", "signature")
        # the algorithm allow-list
        eddsa = self.sign(self.qr_payload(record(eddsa_record)), p.sh02_signer)
        self.bad(g, "alg-not-allowed", "An EdDSA credential at a verifier whose allow-list is [-7] (ES256 only)",
                 qrtext.encode_qr_text(eddsa), "ALG_NOT_ALLOWED", "algorithm", allowed_algorithms=[-7])

    def build_claims(self):
        p = self.pki
        g = "claims"
        base = self.qr_payload()
        claims = cbor2.loads(base)
        s = lambda payload: self.sign(payload)  # noqa: E731
        ssc = -65537

        def bad(id_, description, payload, reason, **extra):
            self.bad(g, id_, description, s(payload), reason, "claims", **extra)

        def edit(fn):
            return mutate(base, fn)

        bad("serial-as-text", "card.serial (6/2) as the text \"42\"",
            edit(lambda c: c[ssc][6].__setitem__(2, "42")), "CLAIMS_TYPE")
        bad("sex-as-bool", "holder.sex (2/6) as true: booleans are not integers",
            edit(lambda c: c[ssc][2].__setitem__(6, True)), "CLAIMS_TYPE")
        bad("iat-as-float", "iat (6) as the float 1767605400.0",
            edit(lambda c: c.__setitem__(6, float(IAT))), "CLAIMS_TYPE")
        bad("iat-as-tag-1", "iat (6) as a tag-1 epoch date: tags are not allowed in claims",
            edit(lambda c: c.__setitem__(6, cbor2.CBORTag(1, IAT))), "CBOR_MALFORMED")
        bad("payload-array", "The payload is an array, not a map", cbor.dumps([IAT, 1]), "CLAIMS_TYPE")
        bad("payload-empty", "The payload is the empty byte string", b"", "CBOR_MALFORMED")
        bad("holder-as-array", "holder (2) is an array", edit(lambda c: c[ssc].__setitem__(2, ["MUELLER"])),
            "CLAIMS_TYPE")
        bad("exp-missing", "No exp (4)", edit(lambda c: c.pop(4)), "CLAIMS_MISSING")
        bad("iat-missing", "No iat (6)", edit(lambda c: c.pop(6)), "CLAIMS_MISSING")
        bad("sscard-missing", "No sscard claim (-65537)", edit(lambda c: c.pop(ssc)), "CLAIMS_MISSING")
        bad("profile-missing", "No profile (sscard key 1)", edit(lambda c: c[ssc].pop(1)), "CLAIMS_MISSING")
        bad("family-name-missing", "No holder.family_name (2/1)", edit(lambda c: c[ssc][2].pop(1)),
            "CLAIMS_MISSING")
        bad("serial-missing", "No card.serial (6/2)", edit(lambda c: c[ssc][6].pop(2)), "CLAIMS_MISSING")
        bad("insurance-missing", "No insurance group (sscard key 5)", edit(lambda c: c[ssc].pop(5)),
            "CLAIMS_MISSING")
        bad("unknown-top-level-claim", "An unknown claim 8 (cnf) at the top level",
            edit(lambda c: c.__setitem__(8, b"\x01")), "CLAIMS_UNKNOWN_KEY")
        bad("unknown-private-claim", "An unknown private claim -65538",
            edit(lambda c: c.__setitem__(-65538, 1)), "CLAIMS_UNKNOWN_KEY")
        bad("unknown-sscard-key", "An unknown sscard key 7", edit(lambda c: c[ssc].__setitem__(7, 1)),
            "CLAIMS_UNKNOWN_KEY")
        bad("unknown-holder-key", "An unknown holder key 8", edit(lambda c: c[ssc][2].__setitem__(8, "X")),
            "CLAIMS_UNKNOWN_KEY")
        bad("float-key", "The claim key 6.0 (a float) instead of 6 for iat",
            edit(lambda c: c.__setitem__(6.0, c.pop(6))), "CLAIMS_UNKNOWN_KEY")
        bad("iss-in-qr-profile", "iss (1) in a QR-profile claim set",
            edit(lambda c: c.__setitem__(1, "SH01")), "CLAIMS_UNKNOWN_KEY")
        bad("cti-in-qr-profile", "cti (7) in a QR-profile claim set",
            edit(lambda c: c.__setitem__(7, b"\x01" * 16)), "CLAIMS_UNKNOWN_KEY")
        bad("passport-in-qr-profile", "The chip-only passport number (3/3) in the QR profile",
            edit(lambda c: c[ssc][3].__setitem__(3, "C4J7K2L9M")), "CLAIMS_UNKNOWN_KEY")
        bad("photo-in-qr-profile", "The chip-only photo digest (2/7) in the QR profile",
            edit(lambda c: c[ssc][2].__setitem__(7, samples.SAMPLE_PHOTO_DIGEST)), "CLAIMS_UNKNOWN_KEY")
        bad("profile-3", "profile 3 (unknown)", edit(lambda c: c[ssc].__setitem__(1, 3)), "CLAIMS_VALUE")
        bad("sex-5", "holder.sex 5: not an ISO/IEC 5218 code", edit(lambda c: c[ssc][2].__setitem__(6, 5)),
            "CLAIMS_VALUE")
        bad("category-4", "permit.category 4 (only 1-3: A, B, C)", edit(lambda c: c[ssc][4].__setitem__(1, 4)),
            "CLAIMS_VALUE")
        bad("card-kind-0", "card.kind 0", edit(lambda c: c[ssc][6].__setitem__(3, 0)), "CLAIMS_VALUE")
        bad("work-location-out-of-range", "permit.work_location 999999 (first digit must be 1-8)",
            edit(lambda c: c[ssc][4].__setitem__(5, 999999)), "CLAIMS_VALUE")
        bad("work-permit-number-19-digits", "identifiers.work_permit_number 10^18 (19 digits)",
            edit(lambda c: c[ssc][3].__setitem__(2, 10**18)), "CLAIMS_VALUE")
        bad("serial-negative", "card.serial -1", edit(lambda c: c[ssc][6].__setitem__(2, -1)), "CLAIMS_VALUE")
        bad("serial-2-32", "card.serial 2^32", edit(lambda c: c[ssc][6].__setitem__(2, 2**32)), "CLAIMS_VALUE")
        bad("birth-date-before-1900", "holder.birth_date -25568 days (1899-12-31)",
            edit(lambda c: c[ssc][2].__setitem__(5, -25568)), "CLAIMS_VALUE")
        bad("text-129-characters", "permit.position of 129 characters (text is capped at 128)",
            edit(lambda c: c[ssc][4].__setitem__(4, "X" * 129)), "CLAIMS_VALUE")
        bad("insurance-4-entries", "insurance with 4 entries", edit(lambda c: c[ssc][5].pop()), "CLAIMS_TYPE")
        bad("insurance-qr-3-items", "A QR-profile insurance entry with 3 items (the chip shape)",
            edit(lambda c: c[ssc][5].__setitem__(0, [1, 672, 681])), "CLAIMS_TYPE")
        bad("insurance-status-7", "An insurance status 7 (unknown)",
            edit(lambda c: c[ssc][5].__setitem__(1, [7])), "CLAIMS_TYPE")
        bad("insurance-nested-array", "An insurance entry whose status is an array ([[1]])",
            edit(lambda c: c[ssc][5].__setitem__(0, [[1]])), "CLAIMS_TYPE")
        bad("insurance-month-out-of-range", "A paid-through month index of 2760 (2200-01): months are 0-2759",
            edit(lambda c: c[ssc][5].__setitem__(0, [1, 2760])), "CLAIMS_TYPE")
        bad("insurance-not-enrolled-with-month", "Status 0 (not enrolled) with a paid-through month",
            edit(lambda c: c[ssc][5].__setitem__(0, [0, 681])), "CLAIMS_VALUE")
        dup = bytearray(base)
        assert dup[0] == 0xA3
        dup[0] = 0xA4
        dup += b"\x06" + cbor2.dumps(IAT)
        bad("duplicate-claim", "iat (6) twice in the claims map", bytes(dup), "CBOR_DUPLICATE_KEY")
        bad("trailing-byte", "One byte after the claims map", base + b"\x00", "CBOR_TRAILING_BYTES")
        bad("indefinite-map", "The claims map with indefinite length (0xbf ... 0xff)",
            b"\xbf" + base[1:] + b"\xff", "CBOR_MALFORMED")
        self.add(g, "not-deterministic-accepted", "Claims not in deterministic order (iat before exp): a "
                 "verifier does not require deterministic encoding (the signature covers the bytes as sent)",
                 s(cbor2.dumps({6: claims[6], 4: claims[4], ssc: claims[ssc]})), "VALID")
        # the chip profile (COSE bytes from the chip)
        chip = encode_claims(typical(), profile=Profile.CHIP, iat=IAT)
        bad("chip-iss-mismatch", "A chip-profile claim set whose iss (SH02) is not the signer's issuer code (SH01)",
            mutate(chip, lambda c: c.__setitem__(1, "SH02")), "CLAIMS_VALUE")
        bad("chip-iss-missing", "A chip-profile claim set without iss", mutate(chip, lambda c: c.pop(1)),
            "CLAIMS_MISSING")
        bad("chip-photo-missing", "A chip-profile claim set without the photo digest (2/7)",
            mutate(chip, lambda c: c[ssc][2].pop(7)), "CLAIMS_MISSING")
        bad("chip-photo-31-bytes", "A photo digest of 31 bytes",
            mutate(chip, lambda c: c[ssc][2].__setitem__(7, b"\x00" * 31)), "CLAIMS_VALUE")

    def build_certificates(self):
        p = self.pki
        g = "certificates"
        payload = self.qr_payload()
        self.bad(g, "kid-unknown", "A kid no trusted certificate has (8 random bytes), signed with SH01's key",
                 qrtext.encode_qr_text(cose.sign1(payload, RawSigner(p.sh01_key, bytes.fromhex("0123456789abcdef"),
                                                                      Algorithm.ES256))),
                 "KID_UNKNOWN", "signer_known")
        self.bad(g, "issuer-not-in-trust-list", "Signed by SH09, whose certificate chains to the root but is not "
                 "in the trust list", self.qr(payload, p.unlisted_signer), "KID_UNKNOWN", "signer_known")
        self.bad(g, "alg-kid-mismatch", "alg EdDSA with SH01's kid (an ES256 certificate), signed by SH02's "
                 "Ed25519 key: no trusted EdDSA certificate has that kid",
                 qrtext.encode_qr_text(cose.sign1(payload, RawSigner(p.sh02_key, p.sh01_signer.kid, Algorithm.EDDSA))),
                 "KID_UNKNOWN", "signer_known")
        self.bad(g, "iat-before-certificate", "iat 2025-12-01, before SH01's certificate (2025-12-15)",
                 self.qr(self.qr_payload(iat=ts("2025-12-01T00:00:00"))), "CERT_NOT_VALID_AT_IAT",
                 "signer_certificate")
        self.bad(g, "iat-outside-key-usage", "Signed 2026-01-05 by SH01's previous key, whose private key usage "
                 "period ended 2025-07-31 (the certificate itself is valid)",
                 self.qr(payload, p.previous_signer), "IAT_OUTSIDE_KEY_USAGE", "signer_certificate")
        self.bad(g, "iat-before-key-usage", "Signed 2025-05-31 by SH01's previous key, a day before its "
                 "certificate and usage period begin",
                 self.qr(self.qr_payload(iat=ts("2025-05-31T00:00:00")), p.previous_signer),
                 "CERT_NOT_VALID_AT_IAT", "signer_certificate")
        # the validity window
        exp = ts("2026-03-02T00:00:00")
        short = self.qr(self.qr_payload(exp=exp))
        self.bad(g, "expired", "exp 2026-03-02T00:00:00Z, now two hours later", short, "CREDENTIAL_EXPIRED",
                 "validity")
        self.add(g, "exp-within-leeway", "now = exp + 300 s: inside the clock leeway", short, "VALID",
                 now=exp + LEEWAY)
        self.bad(g, "exp-past-leeway", "now = exp + 301 s: past the clock leeway", short, "CREDENTIAL_EXPIRED",
                 "validity", now=exp + LEEWAY + 1)
        self.bad(g, "card-expired", "The typical card (exp = end of 2031-01-04 in Beijing) read in 2031-02",
                 self.qr(payload), "CREDENTIAL_EXPIRED", "validity", now=ts("2031-02-01T00:00:00"))
        future = self.qr(self.qr_payload(iat=NOW + 3600))
        self.bad(g, "iat-in-future", "iat one hour after now (the verifier's clock is behind)", future,
                 "CREDENTIAL_NOT_YET_VALID", "validity")
        self.add(g, "iat-within-leeway", "iat = now + 300 s: inside the clock leeway",
                 self.qr(self.qr_payload(iat=NOW + LEEWAY)), "VALID")
        self.bad(g, "iat-past-leeway", "iat = now + 301 s: past the clock leeway",
                 self.qr(self.qr_payload(iat=NOW + LEEWAY + 1)), "CREDENTIAL_NOT_YET_VALID", "validity")

    def build_revocation(self):
        p = self.pki
        g = "revocation"
        typical_qr = self.qr(self.qr_payload())
        revoked = self.qr(self.qr_payload(record(with_serial(1001))))
        self.bad(g, "revoked", "Card serial 1001 of SH01 is on the revocation list", revoked, "REVOKED",
                 "revocation")
        self.add(g, "same-serial-other-centre", "Serial 5 is revoked at SH02, not at SH01",
                 self.qr(self.qr_payload(record(with_serial(5)))), "VALID")
        self.bad(g, "revoked-eddsa", "Serial 5 of SH02 (EdDSA) is revoked",
                 self.qr(self.qr_payload(record(lambda r: (eddsa_record(r), r["card"].__setitem__("serial", 5)))),
                         p.sh02_signer), "REVOKED", "revocation")
        self.add(g, "at-next-update", "now = next_update: the revocation data is still current", typical_qr,
                 "VALID", now=TL_NEXT_UPDATE)
        self.add(g, "stale", "now = next_update + 1 s: the revocation data is stale", typical_qr, "INDETERMINATE",
                 ["REVOCATION_STALE"], "revocation", now=TL_NEXT_UPDATE + 1)
        self.add(g, "stale-by-policy", "A site policy allows revocation data at most 24 h old; the list is 26 h "
                 "old (before its next_update)", typical_qr, "INDETERMINATE", ["REVOCATION_STALE"], "revocation",
                 revocation_max_age=86400)
        self.add(g, "policy-allows-older", "A site policy allows revocation data 30 days old: past next_update "
                 "is accepted", typical_qr, "VALID", now=TL_NEXT_UPDATE + 86400, revocation_max_age=30 * 86400)
        self.bad(g, "revoked-and-stale", "A revoked serial with stale data is INVALID, not INDETERMINATE",
                 revoked, "REVOKED", "revocation", now=TL_NEXT_UPDATE + 86400)
        self.add(g, "no-trust-list", "A verifier that holds no trust list (trust_list: null) knows no issuer and "
                 "no revocation data: it cannot decide", typical_qr, "INDETERMINATE", ["REVOCATION_MISSING"],
                 "signer_known", trust_list=None)

    # --- trust lists (TrustStore.update)

    def tl(self, id_, description, data: bytes, held, error=None):
        self.trust_lists.append({"id": f"trust_list/{id_}", "description": description, "held": held,
                                 "input": {"trust_list_hex": data.hex()},
                                 "expected": {"accepted": error is None, "reason": error}})

    def build_trust_lists(self):
        p = self.pki
        self.tl("current", "The trust list of pki.json, installed on an empty store", p.trust_list, None)
        self.tl("same-again", "The same list again: accepted (nothing changes)", p.trust_list, "pki")
        self.tl("newer", "Version 4 after version 3", p.make_trust_list(version=4, issued_at=TL_NEXT_UPDATE,
                                                                        next_update=TL_NEXT_UPDATE + 7 * 86400),
                "pki")
        self.tl("rollback", "Version 2 while version 3 is held", p.make_trust_list(
            version=2, issued_at=TL_ISSUED_AT - 7 * 86400, next_update=TL_ISSUED_AT), "pki", "TL_ROLLBACK")
        self.tl("same-version-different", "A different list with the held version number 3 (serial 42 revoked too)",
                p.make_trust_list(revoked={"SH01": [7, 9, 42, 1001], "SH02": [5]}), "pki", "TL_ROLLBACK")
        good = p.trust_list
        tampered = bytearray(good)
        tampered[good.rindex(b"SH01") + 3] ^= 0x03  # "SH01" -> "SH02" in the revocation entries
        self.tl("tampered", "One byte of the signed payload changed", bytes(tampered), None, "TL_SIGNATURE")
        self.tl("signed-by-issuer", "Signed by SH01's issuer key (certificate in x5chain): not a trust-list signer",
                p.make_trust_list(signer=p.sh01_signer), None, "TL_SIGNER")
        envelope_ = cbor2.loads(good)
        items = list(envelope_.value)
        self.tl("no-x5chain", "The signer certificate (x5chain, 33) removed from the unprotected header",
                cbor2.dumps(cbor2.CBORTag(18, [items[0], {}, items[2], items[3]])), None, "TL_SIGNER")
        foreign_key = keys.generate_private_key()
        foreign_root = certs.make_root_ca(foreign_key, now=ROOT_AT, common_name="Another Root CA")
        f_tl_key = keys.generate_private_key()
        f_tl_cert = certs.make_trust_list_signer_certificate(foreign_key, foreign_root, f_tl_key.public_key(),
                                                             now=ISSUERS_AT)
        self.tl("foreign-signer", "Signed by a trust-list signer of another root",
                p.make_trust_list(signer=SoftwareSigner(f_tl_key, f_tl_cert)), None, "TL_SIGNER")
        f_issuer_key = keys.generate_private_key()
        f_issuer = certs.make_issuer_certificate(foreign_key, foreign_root, f_issuer_key.public_key(),
                                                 issuer_code="SH01", now=ISSUERS_AT)
        self.tl("foreign-issuer", "An issuer certificate of another root in the list: the whole list is refused",
                p.make_trust_list(issuers=[p.sh01, f_issuer]), None, "TL_MALFORMED")
        self.tl("issued-before-signer", "issued_at (2025-06-01) before the trust-list signer certificate "
                "(2025-12-15)", p.make_trust_list(version=1, issued_at=ts("2025-06-01T00:00:00"),
                                                  next_update=ts("2025-06-08T00:00:00")), None, "TL_SIGNER")

        def signed_payload(body: dict) -> bytes:
            return cose.sign1(cbor.dumps(body), p.tl_signer, unprotected={cose.HDR_X5CHAIN: der(p.tl_cert)})

        body = cbor2.loads(items[2])
        self.tl("next-update-not-after", "next_update equal to issued_at",
                signed_payload({**body, 3: body[2]}), None, "TL_MALFORMED")
        self.tl("key-5-missing", "No revocation (key 5)", signed_payload({k: v for k, v in body.items() if k != 5}),
                None, "TL_MALFORMED")
        self.tl("revocation-format-2", "Format 2 (coded set, spec §11) whose data is a byte string, not a coded-set map",
                signed_payload({**body, 5: [{1: "SH01", 2: REVOCATION_SERIAL_LIST + 1, 3: b"\x00"}]}), None, "TL_MALFORMED")
        self.tl("revocation-unsorted-duplicate-issuer", "Two revocation entries for SH01",
                signed_payload({**body, 5: [{1: "SH01", 2: 1, 3: [7]}, {1: "SH01", 2: 1, 3: [9]}]}), None,
                "TL_MALFORMED")
        self.tl("untagged", "The trust list COSE_Sign1 without tag 18", cbor2.dumps(items), None, "TL_MALFORMED")


def _to_der(signature: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    return encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))


def qr_version(text: str, level: str = "Q") -> int:
    import qrcode
    import qrcode.constants
    import qrcode.util
    qr = qrcode.QRCode(error_correction=getattr(qrcode.constants, f"ERROR_CORRECT_{level}"))
    qr.add_data(qrcode.util.QRData(text.encode("ascii"), mode=qrcode.util.MODE_ALPHA_NUM))
    return qr.best_fit()


def qr_capacity(version: int, level: str = "Q") -> int:
    """The most alphanumeric characters a QR code of `version` holds at `level`."""
    lo, hi = 1, 4296
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if qr_version("0" * mid, level) <= version:
            lo = mid
        else:
            hi = mid - 1
    return lo


# ---------------------------------------------------------------- output

def store_for(vector: dict, pki: Pki) -> TrustStore:
    allowed = frozenset(Algorithm(a) for a in vector.get("allowed_algorithms", (-7, -8)))
    store = TrustStore(pki.root, allowed_algorithms=allowed)
    if "trust_list" not in vector or vector["trust_list"] is not None:
        store.update(pki.trust_list)
    return store


def self_check(vectors: Vectors) -> int:
    problems = 0
    for group, items in vectors.groups.items():
        for v in items:
            inp = v["input"]
            credential = inp["qr_text"] if "qr_text" in inp else bytes.fromhex(inp["cose_hex"])
            kwargs = {"revocation_max_age": v["revocation_max_age"]} if "revocation_max_age" in v else {}
            verdict = verify_credential(credential, store_for(v, vectors.pki), now=v["now"], **kwargs)
            failed = [c.check.value for c in verdict.checks if c.status in (Status.FAILED, Status.INDETERMINATE)]
            got = (verdict.outcome.value, [r.value for r in verdict.reasons], failed[0] if failed else None)
            e = v["expected"]
            want = (e["outcome"], e["reasons"], e["failed_check"])
            if got != want:
                problems += 1
                print(f"  differs from crypto.verify_credential: {v['id']}: expected {want}, got {got}")
    for v in vectors.trust_lists:
        store = TrustStore(vectors.pki.root)
        if v["held"] == "pki":
            store.update(vectors.pki.trust_list)
        try:
            store.update(bytes.fromhex(v["input"]["trust_list_hex"]))
            got = None
        except SscError as exc:
            got = exc.reason.value
        if got != v["expected"]["reason"]:
            problems += 1
            print(f"  differs from TrustStore.update: {v['id']}: expected {v['expected']['reason']}, got {got}")
    return problems


def wrap(text: str, width: int = 64) -> str:
    return "\n".join(text[i:i + width] for i in range(0, len(text), width))


def spec_blocks(vectors: Vectors) -> dict[str, str]:
    v, payload, cose_bytes, text = vectors.example
    pki = vectors.pki
    protected = cose.protected_header(Algorithm.ES256, pki.sh01_signer.kid)
    tbs = cose.sig_structure(protected, payload)
    env = cbor2.loads(cose_bytes)
    signature = env.value[3]
    head = cose_bytes[:cose_bytes.index(payload)]
    sizes = ["| record | profile | alg | claims payload (bytes) | COSE_Sign1 (bytes) | QR text (characters) "
             "| QR version at level Q |", "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for s in vectors.sizes:
        sizes.append(f"| {s['record']} | {s['profile']} | {s['algorithm']} | {s['payload']} | {s['cose']} | "
                     f"{s['qr_chars'] if s['qr_chars'] else '—'} | {s['qr_version_q'] or '—'} |")
    cap12 = qr_capacity(12)
    sizes.append("")
    sizes.append(f"A version 12 QR code at level Q holds at most {cap12} alphanumeric characters, that is "
                 f"{cap12 - len(qrtext.PREFIX)} base45 characters after the prefix, or "
                 f"{(cap12 - len(qrtext.PREFIX)) // 3 * 2 + ((cap12 - len(qrtext.PREFIX)) % 3 == 2)} bytes of "
                 f"COSE_Sign1. The largest text any QR code holds is 4296 characters (version 40, level L): "
                 f"{qrtext.MAX_COSE_BYTES} bytes of COSE_Sign1.")
    example = f"""Vector `{v['id']}` (tests/vectors/valid.json), signed by SH01 (ES256) at
iat {IAT} (2026-01-05T09:30:00Z). SH01's certificate is `issuer_sh01_pem` in
tests/vectors/pki.json; its kid, the first 8 bytes of SHA-256 over its DER, is
`{pki.sh01_signer.kid.hex()}`.

The claim set ({len(payload)} bytes), in diagnostic notation with the field names as comments:

```
{annotated(cbor2.loads(payload))}
```

The protected header ({len(protected)} bytes) is `{protected.hex()}`:
`a2` map(2), `01 26` alg: -7 (ES256), `04 48 {pki.sh01_signer.kid.hex()}` kid: 8 bytes.

The COSE_Sign1 ({len(cose_bytes)} bytes) starts
`{head.hex()}`: `d2` tag(18), `84` array(4), `4d ...` the protected header as a byte string,
`a0` an empty unprotected map, `58 {len(payload):02x}` a byte string of {len(payload)} bytes (the claim set);
after the claim set, `58 40` and the 64-byte signature r||s. In full:

```
{wrap(cose_bytes.hex())}
```

The bytes that were signed, the Sig_structure `["Signature1", protected, h'', payload]`
({len(tbs)} bytes), start `{tbs[:12].hex()}` (`84` array(4), `6a` text(10) "Signature1") and continue
`4d` + the protected header, `40` (the empty external_aad), `58 {len(payload):02x}` + the claim set.
The signature is

```
{wrap(signature.hex())}
```

The QR text ({len(text)} characters: `SSC1:` and {len(text) - 5} base45 characters; QR version
{qr_version(text)} at level Q in alphanumeric mode), on one line:

```
{text}
```
"""
    return {"sizes": "\n".join(sizes), "example": example}


def update_spec(blocks: dict[str, str]) -> None:
    if not SPEC.exists():
        print(f"  {SPEC} does not exist: generated blocks not written")
        return
    text = SPEC.read_text()
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            print(f"  docs/spec.md has no generated:{name} block")
            continue
        text = pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)
    SPEC.write_text(text)


def dump(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def main() -> int:
    pki = Pki()
    vectors = Vectors(pki)
    vectors.build()
    dump(HERE / "pki.json", pki.to_json())
    for group, items in vectors.groups.items():
        dump(HERE / f"{group}.json", {"group": group, "vectors": items})
    dump(HERE / "trust_list.json", {"group": "trust_list", "vectors": vectors.trust_lists})
    update_spec(spec_blocks(vectors))
    counts = {g: len(v) for g, v in vectors.groups.items()} | {"trust_list": len(vectors.trust_lists)}
    print("vectors:", counts, "total", sum(counts.values()))
    for s in vectors.sizes:
        print("  size:", s)
    problems = self_check(vectors)
    print(f"{problems} vector(s) differ from the current crypto/ behaviour" if problems
          else "every vector agrees with crypto/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
