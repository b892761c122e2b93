"""Trust list: time to load and verify one into a fresh store (``TrustStore(root).update``)
with 1 and 10 issuers and with 0 and 100,000 revoked serials, and its size; against a
bare verify of its signature over the same bytes and a bare ``cbor2.loads`` of its payload."""

from __future__ import annotations

import random

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench.fixtures import PKI_TIME, TL_ISSUED_AT, TL_NEXT_UPDATE, Fixtures
from bench.timing import Settings, measure, paired_ratio, us
from crypto import Algorithm, TrustStore, build_trust_list, cose, trustlist
from crypto.certs import load_der, make_issuer_certificate
from crypto.keys import generate_private_key

NAME = "trust_list"
REVOKED = 100_000
SERIAL_RANGE = 100_000_000  # card serials go up to 8 digits in the samples


def _issuer_certificates(fx: Fixtures, count: int) -> list:
    root = fx.es256.pki.root
    certs = [fx.es256.pki.issuer.certificate]
    for i in range(2, count + 1):
        key = generate_private_key(Algorithm.ES256)
        certs.append(make_issuer_certificate(fx.root_key, root, key.public_key(), issuer_code=f"SH{i:02d}",
                                             now=PKI_TIME))
    return certs


def _one(fx: Fixtures, certificates: list, revoked: int, settings: Settings) -> dict:
    root = fx.es256.pki.root
    serials = random.Random(revoked).sample(range(1, SERIAL_RANGE), revoked)
    data = build_trust_list(version=1, issued_at=TL_ISSUED_AT, next_update=TL_NEXT_UPDATE,
                            issuer_certificates=certificates, revoked={"SH01": serials} if serials else None,
                            signer=fx.es256.pki.trust_list_signer)
    loaded = TrustStore(root).update(data)
    if len(loaded.issuers) != len(certificates) or len(loaded.revoked.get("SH01", ())) != revoked:
        raise RuntimeError("the trust list did not load as built")
    env = cose.decode_sign1(data, max_size=trustlist.MAX_TRUST_LIST_BYTES)
    tbs, payload, sig = env.to_be_signed(), env.payload, env.signature
    pub = load_der(env.unprotected[cose.HDR_X5CHAIN]).public_key()
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    ecdsa = ec.ECDSA(hashes.SHA256())
    stats = measure({"bare_verify": lambda: pub.verify(der, tbs, ecdsa),
                     "bare_cbor2_loads": lambda: cbor2.loads(payload),
                     "update": lambda: TrustStore(root).update(data)}, settings)
    update = stats["update"].median_ns
    return {"issuers": len(certificates), "revoked": revoked, "bytes": len(data),
            "ratio_to_verify": update / stats["bare_verify"].median_ns,
            "ratio_to_cbor2": update / stats["bare_cbor2_loads"].median_ns,
            "paired_ratio_to_verify": paired_ratio(stats["update"], stats["bare_verify"]),
            "paired_ratio_to_cbor2": paired_ratio(stats["update"], stats["bare_cbor2_loads"]),
            "stats": {name: s.to_dict() for name, s in stats.items()}}


def run(fx: Fixtures, settings: Settings) -> dict:
    ten = _issuer_certificates(fx, 10)
    rows = [_one(fx, certs, revoked, settings) for certs in (ten[:1], ten) for revoked in (0, REVOKED)]
    return {"rows": rows}


def report(result: dict) -> list[str]:
    out = ["Trust list: TrustStore(root).update(bytes) vs bare signature verify / cbor2.loads of the same list",
           f"  {'issuers':>7} {'revoked':>8} {'bytes':>9} {'update':>10} {'p90':>10} {'bare verify':>12} "
           f"{'ratio':>7} {'cbor2.loads':>12} {'ratio':>6}"]
    for r in result["rows"]:
        s = r["stats"]
        out.append(f"  {r['issuers']:>7} {r['revoked']:>8} {r['bytes']:>9} {us(s['update']['median_ns']):>10} "
                   f"{us(s['update']['p90_ns']):>10} {us(s['bare_verify']['median_ns']):>12} "
                   f"{r['ratio_to_verify']:>6.1f}× {us(s['bare_cbor2_loads']['median_ns']):>12} "
                   f"{r['ratio_to_cbor2']:>5.1f}×")
    return out
