"""The e-card vectors (tests/vectors/ecard.json, docs/spec.md §12.8): every vector gets its
expected outcome, reasons and failed check from crypto.ecard_verify; the valid ones' bytes
(device claims, what the phone signed, the replay key) are what the spec says; every
ECARD_* reason has a vector."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from cryptography import x509

from crypto import Reason, TrustStore, cbor
from crypto.ecard import decode_presentation, device_to_be_signed

REPO = Path(__file__).resolve().parents[2]
DOC = json.loads((REPO / "tests" / "vectors" / "ecard.json").read_text())
VECTORS = DOC["vectors"]
sys.path.insert(0, str(REPO / "tests" / "vectors"))
from generate_ecard import run_vector  # noqa: E402  (the verifier settings of a vector, as the spec reads them)


@pytest.fixture(scope="module")
def store() -> TrustStore:
    s = TrustStore(x509.load_pem_x509_certificate(DOC["pki"]["root_pem"].encode()))
    s.update(bytes.fromhex(DOC["pki"]["trust_list_hex"]))
    return s


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector(vector, store):
    verdict = run_vector(vector, store)
    expected = vector["expected"]
    assert verdict.outcome.value == expected["outcome"], verdict.to_dict()
    assert [r.value for r in verdict.reasons] == expected["reasons"]
    failed = next((c.check.value for c in verdict.checks if c.status.value in ("failed", "indeterminate")), None)
    assert failed == expected["failed_check"]


@pytest.mark.parametrize("vector", [v for v in VECTORS if "presentation" in v], ids=lambda v: v["id"])
def test_valid_vectors_bytes(vector):
    p = decode_presentation(vector["input"]["qr_text"])
    given = vector["presentation"]
    assert p.credential.hex() == given["credential_hex"] and p.device.hex() == given["device_claims_hex"]
    tbs = device_to_be_signed(p.credential, p.device)
    assert tbs.hex() == given["to_be_signed_hex"]
    assert cbor.loads(tbs, max_size=4096, what="tbs") == ["Signature1", b"\xa1\x01\x26", p.credential, p.device]
    key = hashlib.sha256(b"sscard presentation v1\x00" + cbor.encode_bstr(p.credential)
                         + cbor.encode_bstr(p.device)).digest()[:16]
    assert key.hex() == given["replay_key_hex"] == p.replay_key().hex()


def test_every_ecard_reason_has_a_vector():
    covered = {r for v in VECTORS for r in v["expected"]["reasons"]}
    missing = {r.value for r in Reason if r.value.startswith("ECARD_")} - covered
    assert not missing, missing


def test_the_typical_vector_fits_version_15_at_m():
    import qrcode

    text = next(v for v in VECTORS if v["id"] == "ecard/valid-typical")["input"]["qr_text"]
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    assert len(text) <= 600 and qr.version <= 15
