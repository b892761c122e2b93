"""The e-card presentation (issue 7 "Measure", docs/spec.md §12):

- generation on the phone: ``crypto.ecard.present`` (device claims, Sig_structure, ES256
  signature, CBOR, base45) against a bare ``cryptography`` ECDSA sign of the same bytes;
- size: e-card claims, credential, presentation bytes, QR characters, and the QR version
  at levels M and Q, for the typical record (service-style 16-character card number) and
  the long record, next to the printed card's static QR of the same record;
- verification: ``crypto.ecard_verify.verify_presentation`` (the credential's eight checks,
  the phone's signature, freshness and the replay guard in memory) against the static QR
  path (``crypto.verify_credential`` of the same record) and against a bare ECDSA verify;
  its stages; and the terminal's verdict with the SQLite replay cache (one fsync each).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import qrcode
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from qrcode.constants import ERROR_CORRECT_M, ERROR_CORRECT_Q

from bench.fixtures import IAT, NOW, Fixtures
from bench.timing import Settings, measure, paired_ratio, us
from crypto import cose, parse_credential, qr_text_for, qrtext, samples, verify_credential
from crypto.claims import Profile, decode_claims
from crypto.ecard import (PREFIX, compress_device_key, decode_presentation, device_to_be_signed, present,
                          sign_ecard_credential)
from crypto.ecard_verify import verify_presentation
from crypto.keys import raw_signature

NAME = "ecard"
TARGET_VERSION = 15  # at level M (issue 7)
_ECDSA = ec.ECDSA(hashes.SHA256())


class _AcceptAll:
    """A replay guard that records like the in-memory one and never refuses: the same text is
    verified thousands of times here, and every run must take the VALID path."""

    def __init__(self) -> None:
        self.seen: dict[bytes, int] = {}

    def first_use(self, key: bytes, until: int) -> bool:
        self.seen[key] = until
        return True


def _record(base: dict, serial: int) -> dict:
    base["card"].update(kind=2, serial=serial, card_number=f"SH01P{serial:010d}X")
    return base


def _version(text: str, level: int) -> int:
    qr = qrcode.QRCode(error_correction=level)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.version


def _phone(fx: Fixtures, record: dict):
    key = ec.generate_private_key(ec.SECP256R1())
    credential = sign_ecard_credential(parse_credential(record), fx.es256.pki.issuer,
                                       device_key=compress_device_key(key.public_key()), iat=IAT)
    return credential, key


def _sizes(fx: Fixtures) -> list[dict]:
    rows = []
    for name, base in (("typical", samples.typical_record()), ("long", samples.long_record())):
        record = _record(base, 1042)
        credential, key = _phone(fx, record)
        text = present(credential, key, now=NOW)
        static = qr_text_for(parse_credential(record | {"card": dict(record["card"], kind=1)}), fx.es256.pki.issuer,
                             iat=IAT)
        payload = cose.decode_sign1(credential, max_size=qrtext.MAX_COSE_BYTES).payload
        rows.append({"record": name, "claims_bytes": len(payload), "credential_bytes": len(credential),
                     "presentation_bytes": len(qrtext.decode_qr_text(text, PREFIX)), "qr_chars": len(text),
                     "version_m": _version(text, ERROR_CORRECT_M), "version_q": _version(text, ERROR_CORRECT_Q),
                     "static_chars": len(static), "static_version_m": _version(static, ERROR_CORRECT_M),
                     "static_version_q": _version(static, ERROR_CORRECT_Q),
                     "target_met": _version(text, ERROR_CORRECT_M) <= TARGET_VERSION})
    return rows


def _generation(fx: Fixtures, settings: Settings) -> dict:
    credential, key = _phone(fx, _record(samples.typical_record(), 1042))
    device = bytes.fromhex("a3011a69a4ef1602445eca4d010300")
    tbs = device_to_be_signed(credential, device)
    stats = measure({"bare sign": lambda: key.sign(tbs, _ECDSA),
                     "present": lambda: present(credential, key, now=NOW),
                     "device signature (r||s)": lambda: raw_signature(key, tbs)}, settings)
    return {"stats": {k: s.to_dict() for k, s in stats.items()},
            "ratio": stats["present"].median_ns / stats["bare sign"].median_ns,
            "paired_ratio": paired_ratio(stats["present"], stats["bare sign"])}


def _verification(fx: Fixtures, settings: Settings, folder: Path) -> dict:
    from terminal.ecard import PresentationStore
    from terminal.policy import load_policy
    from terminal.verifier import Verifier

    issuer = fx.es256
    record = _record(samples.typical_record(), 1042)
    credential, key = _phone(fx, record)
    text = present(credential, key, now=NOW - 5)
    static = issuer.qr_texts["typical"]
    guard = _AcceptAll()
    if not verify_presentation(text, issuer.store, now=NOW, replay=guard).valid:
        raise RuntimeError("the benchmark presentation does not verify")
    p = decode_presentation(text)
    envelope = cose.decode_sign1(p.credential, max_size=qrtext.MAX_COSE_BYTES)
    pub = issuer.store.issuers_for(envelope.kid)[0].public_key
    sig = envelope.signature
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    tbs = envelope.to_be_signed()
    device_key = key.public_key()
    device_tbs = p.to_be_signed()
    only = frozenset({Profile.ECARD})
    cases = {
        "bare verify": lambda: pub.verify(der, tbs, _ECDSA),
        "static QR verdict": lambda: verify_credential(static, issuer.store, now=NOW),
        "e-card verdict": lambda: verify_presentation(text, issuer.store, now=NOW, replay=guard),
        "decode presentation": lambda: decode_presentation(text),
        "e-card claims (incl. device key point)": lambda: decode_claims(envelope.payload, issuer_code="SH01",
                                                                        profiles=only),
        "device signature": lambda: cose.verify_signature(cose.Algorithm.ES256, device_key, device_tbs, p.signature),
    }
    stats = measure(cases, settings)
    # the terminal with its replay cache on SQLite: every accepted presentation is one
    # durable insert; a fresh presentation per call (else the second is a replay)
    policy = load_policy("bureau")
    with PresentationStore(folder / "events.sqlite", clock=lambda: NOW) as seen:
        verifier = Verifier(policy, lambda: issuer.store, presentations=seen, clock=lambda: NOW)
        texts = [present(credential, key, now=NOW - 5) for _ in range(60)]
        if verifier.verify_qr_text(texts[0], "bench").outcome != "VALID":
            raise RuntimeError("the terminal does not accept the benchmark presentation")
        it = iter(texts[1:])
        terminal = measure({"terminal with SQLite replay cache": lambda: verifier.verify_qr_text(next(it), "bench")},
                           Settings(rounds=40, batch_ns=1, warmup_ns=1))
    ref, static_ns, total = (stats[k].median_ns for k in ("bare verify", "static QR verdict", "e-card verdict"))
    return {"stats": {k: s.to_dict() for k, s in {**stats, **terminal}.items()},
            "ratio_to_bare": total / ref, "paired_to_bare": paired_ratio(stats["e-card verdict"], stats["bare verify"]),
            "ratio_to_static": total / static_ns,
            "paired_to_static": paired_ratio(stats["e-card verdict"], stats["static QR verdict"]),
            "static_ratio_to_bare": static_ns / ref}


def run(fx: Fixtures, settings: Settings) -> dict:
    with tempfile.TemporaryDirectory(prefix="sscard-bench-ecard-") as folder:
        return {"sizes": _sizes(fx), "generation": _generation(fx, settings),
                "verification": _verification(fx, settings, Path(folder))}


def report(result: dict) -> list[str]:
    out = ["E-card presentation (SSC1E:, ES256 issuer and phone; sizes with a 16-character card number)",
           f"  {'record':8} {'claims':>7} {'cred.':>6} {'pres.':>6} {'chars':>6} {'ver M':>6} {'ver Q':>6}  "
           f"{'static chars':>12} {'M':>3} {'Q':>3}  target v≤{TARGET_VERSION}-M"]
    for r in result["sizes"]:
        out.append(f"  {r['record']:8} {r['claims_bytes']:>6}B {r['credential_bytes']:>5}B "
                   f"{r['presentation_bytes']:>5}B {r['qr_chars']:>6} {r['version_m']:>6} {r['version_q']:>6}  "
                   f"{r['static_chars']:>12} {r['static_version_m']:>3} {r['static_version_q']:>3}  "
                   + ("met" if r["target_met"] else "NOT met"))
    g = result["generation"]
    s = g["stats"]
    out.append(f"  generation: present() {us(s['present']['median_ns'])} (p90 {us(s['present']['p90_ns'])}), "
               f"bare ECDSA sign {us(s['bare sign']['median_ns'])}: {g['ratio']:.2f}× (paired "
               f"{g['paired_ratio']:.2f}×)")
    v = result["verification"]
    s = v["stats"]
    out.append(f"  verification: e-card verdict {us(s['e-card verdict']['median_ns'])} (p90 "
               f"{us(s['e-card verdict']['p90_ns'])}); static QR verdict {us(s['static QR verdict']['median_ns'])}; "
               f"bare verify {us(s['bare verify']['median_ns'])}")
    out.append(f"    e-card / static QR: {v['ratio_to_static']:.2f}× (paired {v['paired_to_static']:.2f}×); "
               f"e-card / bare verify: {v['ratio_to_bare']:.2f}× (paired {v['paired_to_bare']:.2f}×); "
               f"static / bare: {v['static_ratio_to_bare']:.2f}×")
    out.append("    stages: " + ", ".join(f"{k} {us(s[k]['median_ns'])}" for k in (
        "decode presentation", "e-card claims (incl. device key point)", "device signature")))
    t = s["terminal with SQLite replay cache"]
    out.append(f"    terminal verdict (bureau) with the SQLite replay cache: {us(t['median_ns'])} median, "
               f"p90 {us(t['p90_ns'])} ({t['rounds']} fresh presentations)")
    return out
