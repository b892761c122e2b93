"""QR size: claim payload, COSE and QR text lengths, and the QR version the ``qrcode``
library picks at error-correction levels Q and M; plus the arithmetic of the version-12-Q
target (how many bytes it holds in base45, how many the COSE framing takes)."""

from __future__ import annotations

import qrcode
import qrcode.exceptions
import qrcode.util
from qrcode.constants import ERROR_CORRECT_M, ERROR_CORRECT_Q

from bench.fixtures import Fixtures
from bench.timing import Settings
from crypto import cbor, cose, qrtext
from crypto.claims import Profile, sscard_map

NAME = "qr_size"
TARGET_VERSION, TARGET_LEVEL = 12, "Q"
MODULE_MM = 0.34  # print guidance for the module size (DESIGN.md §3)
_MODES = {qrcode.util.MODE_NUMBER: "numeric", qrcode.util.MODE_ALPHA_NUM: "alphanumeric",
          qrcode.util.MODE_8BIT_BYTE: "byte", qrcode.util.MODE_KANJI: "kanji"}
_GROUPS = {1: "profile", 2: "holder", 3: "identifiers", 4: "permit", 5: "insurance", 6: "card"}


def _version(text: str, level: int) -> tuple[int, list[str]]:
    qr = qrcode.QRCode(error_correction=level, version=None)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.version, [f"{_MODES[d.mode]}:{len(d.data)}" for d in qr.data_list]


def alnum_capacity(version: int, level: int) -> int:
    """Alphanumeric characters a QR symbol holds, from the qrcode library's tables, checked
    by filling a symbol of that version to the brim and one character beyond."""
    bits = qrcode.util.BIT_LIMIT_TABLE[level][version]
    bits -= 4 + qrcode.util.length_in_bits(qrcode.util.MODE_ALPHA_NUM, version)
    chars = bits // 11 * 2 + (1 if bits % 11 >= 6 else 0)
    for n, fits in ((chars, True), (chars + 1, False)):
        qr = qrcode.QRCode(version=version, error_correction=level)
        qr.add_data(qrcode.util.QRData("A" * n, mode=qrcode.util.MODE_ALPHA_NUM))
        try:
            qr.make(fit=False)
            ok = True
        except qrcode.exceptions.DataOverflowError:
            ok = False
        if ok is not fits:
            raise RuntimeError(f"capacity of version {version}: computed {chars} chars, the library disagrees")
    return chars


def base45_bytes(chars: int) -> int:
    """How many bytes base45 text of at most `chars` characters carries."""
    groups, rest = divmod(chars, 3)
    return groups * 2 + (1 if rest == 2 else 0)


def cose_overhead(raw: bytes, payload: bytes) -> dict[str, int]:
    """The bytes of a COSE_Sign1 that are not the claims, item by item (checked to add up)."""
    env = cose.decode_sign1(raw, max_size=qrtext.MAX_COSE_BYTES)
    parts = {"tag 18": 1, "array(4)": 1,
             "protected bstr (alg + 8-byte kid)": len(cbor.encode_bstr(env.protected_bytes)),
             "unprotected {}": len(cbor.dumps(env.unprotected)),
             "payload bstr head": len(cbor.bstr_header(len(payload))),
             "signature bstr (64 bytes + head)": len(cbor.encode_bstr(env.signature))}
    if sum(parts.values()) + len(payload) != len(raw):
        raise RuntimeError("the COSE overhead items do not add up to the COSE size")
    return parts


def _claim_groups(cred, payload: bytes) -> dict[str, int]:
    """Encoded size of each group of the QR claim set (key + value), and the rest (CWT
    iat/exp, map heads)."""
    groups = {_GROUPS[k]: len(cbor.dumps(k)) + len(cbor.dumps(v)) for k, v in sscard_map(cred, Profile.QR).items()}
    groups["CWT iat/exp, claim key, map heads"] = len(payload) - sum(groups.values())
    return groups


def _row(fx: Fixtures, record: str) -> dict:
    issuer = fx.es256
    text = issuer.qr_texts[record]
    raw = qrtext.decode_qr_text(text)
    payload = cose.decode_sign1(raw, max_size=qrtext.MAX_COSE_BYTES).payload
    mode = qrcode.util.QRData(text).mode
    version_q, segments_q = _version(text, ERROR_CORRECT_Q)
    version_m, _ = _version(text, ERROR_CORRECT_M)
    return {"record": record, "payload_bytes": len(payload), "cose_bytes": len(raw), "qr_chars": len(text),
            "mode": _MODES[mode], "segments_q": segments_q, "version_q": version_q, "version_m": version_m,
            "modules_q": 17 + 4 * version_q, "mm_q": round((17 + 4 * version_q) * MODULE_MM, 1),
            "target_met": version_q <= TARGET_VERSION,
            "overhead": cose_overhead(raw, payload), "claim_groups": _claim_groups(issuer.credentials[record], payload)}


def run(fx: Fixtures, settings: Settings) -> dict:
    capacity = alnum_capacity(TARGET_VERSION, ERROR_CORRECT_Q)
    rows = [_row(fx, record) for record in ("typical", "long")]
    overhead = sum(rows[0]["overhead"].values())
    cose_budget = base45_bytes(capacity - len(qrtext.PREFIX))
    return {"rows": rows, "target": {
        "version": TARGET_VERSION, "level": TARGET_LEVEL, "alnum_capacity": capacity, "prefix_chars": len(qrtext.PREFIX),
        "cose_bytes_that_fit": cose_budget, "cose_overhead_bytes": overhead,
        "claims_bytes_that_fit": cose_budget - overhead,
        "modules": 17 + 4 * TARGET_VERSION, "mm": round((17 + 4 * TARGET_VERSION) * MODULE_MM, 1)}}


def report(result: dict) -> list[str]:
    t = result["target"]
    out = ["QR size (ES256, QR profile; qrcode library, version=None, fit=True)",
           f"  {'record':8} {'claims':>7} {'COSE':>6} {'chars':>6} {'mode':>13} {'ver Q':>6} {'ver M':>6} "
           f"{'mm at Q':>8}  target v≤{t['version']}-{t['level']}"]
    for r in result["rows"]:
        out.append(f"  {r['record']:8} {r['payload_bytes']:>6}B {r['cose_bytes']:>5}B {r['qr_chars']:>6} "
                   f"{r['mode']:>13} {r['version_q']:>6} {r['version_m']:>6} {r['mm_q']:>7}  "
                   + ("met" if r["target_met"] else "NOT met") + f"  (segments {', '.join(r['segments_q'])})")
    out.append(f"  version {t['version']}-{t['level']}: {t['alnum_capacity']} alphanumeric chars − "
               f"{t['prefix_chars']} prefix = {t['cose_bytes_that_fit']} COSE bytes in base45; "
               f"COSE framing + signature = {t['cose_overhead_bytes']} B; left for claims: "
               f"{t['claims_bytes_that_fit']} B ({t['modules']} modules, {t['mm']} mm)")
    out.append("  COSE overhead: " + ", ".join(f"{k} {v}" for k, v in result["rows"][0]["overhead"].items()))
    for r in result["rows"]:
        out.append(f"  claims of {r['record']}: " + ", ".join(f"{k} {v}" for k, v in r["claim_groups"].items()))
    return out
