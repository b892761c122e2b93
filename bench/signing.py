"""Signing throughput: ``sign_credential`` (QR profile) against a bare ``cryptography``
sign of the same to-be-signed bytes with the private key object held in memory."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bench.fixtures import IAT, Fixtures, Issuer
from bench.timing import Settings, measure, paired_ratio, us
from crypto import Algorithm, cose, qr_text_for, qrtext, sign_credential

NAME = "signing"


def _one(issuer: Issuer, algorithm: str, record: str, settings: Settings) -> dict:
    cred, signer, key = issuer.credentials[record], issuer.pki.issuer, issuer.private_key
    raw = sign_credential(cred, signer, iat=IAT)
    tbs = cose.decode_sign1(raw, max_size=qrtext.MAX_COSE_BYTES).to_be_signed()
    if signer.algorithm is Algorithm.ES256:
        ecdsa = ec.ECDSA(hashes.SHA256())
        reference = lambda: key.sign(tbs, ecdsa)  # noqa: E731
    else:
        reference = lambda: key.sign(tbs)  # noqa: E731
    cases = {"reference": reference, "sign_credential": lambda: sign_credential(cred, signer, iat=IAT)}
    if record == "typical":
        cases["qr_text_for"] = lambda: qr_text_for(cred, signer, iat=IAT)
    stats = measure(cases, settings)
    ref = stats["reference"].median_ns
    return {"algorithm": algorithm, "record": record,
            "per_second": {name: round(1e9 / s.median_ns) for name, s in stats.items()},
            "cost_ratio": {name: stats[name].median_ns / ref for name in cases if name != "reference"},
            "paired_ratio": paired_ratio(stats["sign_credential"], stats["reference"]),
            "stats": {name: s.to_dict() for name, s in stats.items()}}


def run(fx: Fixtures, settings: Settings) -> dict:
    rows = [_one(fx.es256, "ES256", record, settings) for record in ("typical", "long")]
    rows += [_one(fx.eddsa, "EdDSA", record, settings) for record in ("typical", "long")]
    return {"rows": rows}


def report(result: dict) -> list[str]:
    out = ["Signing (QR profile) vs bare cryptography sign of the same bytes, key in memory",
           f"  {'alg':6} {'record':8} {'bare sign':>10} {'/s':>8} {'sign_credential':>16} {'/s':>8} "
           f"{'cost':>6} {'paired':>6} {'thrpt':>6}  qr_text_for"]
    for r in result["rows"]:
        s, ps, cr = r["stats"], r["per_second"], r["cost_ratio"]
        extra = (f"{us(s['qr_text_for']['median_ns'])} ({cr['qr_text_for']:.2f}×)"
                 if "qr_text_for" in s else "")
        out.append(f"  {r['algorithm']:6} {r['record']:8} {us(s['reference']['median_ns']):>10} "
                   f"{ps['reference']:>8} {us(s['sign_credential']['median_ns']):>16} {ps['sign_credential']:>8} "
                   f"{cr['sign_credential']:>5.2f}× {r['paired_ratio']:>5.2f}× "
                   f"{1 / cr['sign_credential']:>5.2f}×  {extra}")
    out.append("  cost = time(sign_credential) / time(bare sign); thrpt = its inverse (throughput ratio)")
    return out
