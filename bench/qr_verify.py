"""QR text → verdict, against a bare ``cryptography`` verify of the same signature over
the same to-be-signed bytes (DER signature and public key object prepared beforehand),
with each stage of the verification timed on its own on the same input."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench.fixtures import NOW, Fixtures, Issuer
from bench.timing import Settings, measure, paired_ratio, us
from crypto import Algorithm, cose, qrtext, verify_credential
from crypto.claims import decode_claims

NAME = "qr_verify"
TARGET_RATIO = 1.3  # the foundation issue's target for ES256
STAGES = ("qr_text", "cose_decode", "signature", "claims")


def _cases(issuer: Issuer, record: str) -> dict:
    text, store = issuer.qr_texts[record], issuer.store
    verdict = verify_credential(text, store, now=NOW)
    if not verdict.valid:
        raise RuntimeError(f"the {record} sample does not verify: {verdict.to_dict()}")
    raw = qrtext.decode_qr_text(text)
    envelope = cose.decode_sign1(raw, max_size=qrtext.MAX_COSE_BYTES)
    tbs, sig, alg = envelope.to_be_signed(), envelope.signature, envelope.algorithm
    signer = store.issuers_for(envelope.kid)[0]
    pub, code, payload = signer.public_key, signer.issuer_code, envelope.payload
    if alg is Algorithm.ES256:
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        ecdsa = ec.ECDSA(hashes.SHA256())
        reference = lambda: pub.verify(der, tbs, ecdsa)  # noqa: E731
    else:
        reference = lambda: pub.verify(sig, tbs)  # noqa: E731
    reference()  # raises if the reference is wrong
    return {
        "reference": reference,
        "total": lambda: verify_credential(text, store, now=NOW),
        "qr_text": lambda: qrtext.decode_qr_text(text),
        "cose_decode": lambda: cose.decode_sign1(raw, max_size=qrtext.MAX_COSE_BYTES),
        "signature": lambda: cose.verify_signature(alg, pub, tbs, sig),
        "claims": lambda: decode_claims(payload, issuer_code=code),
        "to_be_signed": envelope.to_be_signed,  # informational: part of the rest
    }


def _one(issuer: Issuer, algorithm: str, record: str, settings: Settings) -> dict:
    stats = measure(_cases(issuer, record), settings)
    ref, total = stats["reference"].median_ns, stats["total"].median_ns
    stages = {name: stats[name].median_ns for name in STAGES}
    stages["rest"] = total - sum(stages.values())
    stages["to_be_signed (in rest)"] = stats["to_be_signed"].median_ns
    return {
        "algorithm": algorithm, "record": record, "qr_chars": len(issuer.qr_texts[record]),
        "ratio": total / ref, "paired_ratio": paired_ratio(stats["total"], stats["reference"]),
        "target_ratio": TARGET_RATIO if algorithm == "ES256" else None,
        "stats": {name: s.to_dict() for name, s in stats.items()},
        "stages_ns": {name: round(v, 1) for name, v in stages.items()},
    }


def run(fx: Fixtures, settings: Settings) -> dict:
    rows = [_one(fx.es256, "ES256", record, settings) for record in ("typical", "long")]
    rows.append(_one(fx.eddsa, "EdDSA", "typical", settings))
    return {"rows": rows}


def report(result: dict) -> list[str]:
    out = ["QR text → verdict (verify_credential) vs bare cryptography verify of the same signature",
           f"  {'alg':6} {'record':8} {'bare verify':>12} {'verdict':>10} {'p90':>10} {'ratio':>6} "
           f"{'paired':>6}  target"]
    for r in result["rows"]:
        s = r["stats"]
        target = "—"
        if r["target_ratio"]:
            target = f"≤ {r['target_ratio']}× " + ("met" if r["ratio"] <= r["target_ratio"] else "NOT met")
        out.append(f"  {r['algorithm']:6} {r['record']:8} {us(s['reference']['median_ns']):>12} "
                   f"{us(s['total']['median_ns']):>10} {us(s['total']['p90_ns']):>10} {r['ratio']:>5.2f}× "
                   f"{r['paired_ratio']:>5.2f}×  {target}")
    out.append("  stages (each timed alone on the same input; rest = total minus the four):")
    out.append(f"  {'alg':6} {'record':8} " + " ".join(f"{n:>12}" for n in (*STAGES, "rest")) + "  of rest: tbs")
    for r in result["rows"]:
        st = r["stages_ns"]
        out.append(f"  {r['algorithm']:6} {r['record']:8} " + " ".join(f"{us(st[n]):>12}" for n in (*STAGES, "rest"))
                   + f"  {us(st['to_be_signed (in rest)'])}")
    return out
