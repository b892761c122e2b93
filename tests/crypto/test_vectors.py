"""The conformance vectors of docs/spec.md §9 (tests/vectors/*.json), run against
crypto.verify_credential and crypto.TrustStore.update: one test per vector id.

The vectors state what the specification requires. Where crypto/ does otherwise today,
the vector is listed in KNOWN_DEVIATIONS (docs/spec.md §9.4) and marked as a strict
expected failure: once crypto/ is fixed the mark must go.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import re
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from crypto import Reason, Status, TrustStore, cose, qrtext, verify_credential
from crypto.cose import Algorithm
from crypto.errors import TrustListError
from crypto.verdict import CREDENTIAL_CHECKS, Check

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors"
SPEC = REPO / "docs" / "spec.md"
GROUPS = ("valid", "qr_text", "cose", "claims", "certificates", "revocation")

# Vectors on which crypto/ deviates from docs/spec.md today (spec §9.4).
KNOWN_DEVIATIONS: dict[str, str] = {}

# Codes a credential or trust-list vector cannot produce, and why (spec §8).
NOT_IN_VERDICTS = {
    **{r: "e-card presentations (spec §12): tests/vectors/ecard.json, checked by tests/ecard/test_vectors.py"
       for r in Reason if r.value.startswith("ECARD_")},
    **{r: "chip reads (spec §10.3): tests/firmware_tools/test_reader.py" for r in (
        Reason.CHIP_FILE_MALFORMED, Reason.CHIP_DIGEST_MISMATCH, Reason.CHIP_NOT_GENUINE,
        Reason.CHIP_NOT_ISSUED, Reason.CHIP_TERMINATED)},
    **{r: "chip security objects (spec §10.2): tests/vectors/security_object.json, checked by "
          "tests/crypto/test_security_object_vectors.py" for r in Reason if r.value.startswith("SO_")},
    Reason.CBOR_NOT_DETERMINISTIC: "verifiers do not require deterministic encoding (spec §2.2)",
    Reason.SCHEMA_INVALID: "issuer-side content rules (spec §4.7)",
    Reason.CLAIMS_STRUCTURE: "reserved, not emitted",
    Reason.IAT_IN_FUTURE: "reserved, not emitted (CREDENTIAL_NOT_YET_VALID is used)",
    Reason.TL_NOT_YET_VALID: "reserved, not emitted",
    Reason.CERT_NOT_CHAINED: "reported as TL_MALFORMED / TL_SIGNER when a trust list is loaded",
    Reason.CERT_WRONG_USAGE: "reported as TL_MALFORMED / TL_SIGNER when a trust list is loaded",
    Reason.CERT_MALFORMED: "reported as TL_MALFORMED when a trust list is loaded",
    Reason.INTERNAL_ERROR: "no well-defined input is meant to produce it",
    Reason.KEY_FILE: "issuer side", Reason.KEY_PASSPHRASE: "issuer side", Reason.KEY_TYPE: "issuer side",
    Reason.SIGNER_FAILED: "issuer side", Reason.HSM_UNAVAILABLE: "issuer side",
    Reason.TL_REVOCATION_MALFORMED: "revocation format 2 (spec §11): vectors in revocation_gr.json, "
                                    "checked by tests/crypto/test_revocation.py",
    Reason.TL_DELTA_CHAIN: "revocation deltas (spec §11): vectors in revocation_gr.json, "
                           "checked by tests/crypto/test_revocation.py",
}

# The reason sections of crypto/reasons.py (spec §5, §2, §3, §4, §7, §6).
SECTIONS = {
    "QR text": ("QR_", "BASE45_"), "CBOR": ("CBOR_",), "COSE": ("COSE_",), "claims": ("CLAIMS_",),
    "verification": ("ALG_NOT_ALLOWED", "KID_UNKNOWN", "SIGNATURE_INVALID", "CERT_NOT_VALID_AT_IAT",
                     "IAT_OUTSIDE_KEY_USAGE", "CREDENTIAL_", "REVOKED", "REVOCATION_"),
    "trust list": ("TL_",),
}


def _load(name: str) -> list[dict]:
    return json.loads((VECTORS / f"{name}.json").read_text())["vectors"]


PKI = json.loads((VECTORS / "pki.json").read_text())
BY_GROUP = {g: _load(g) for g in GROUPS}
CREDENTIAL_VECTORS = [v for g in GROUPS for v in BY_GROUP[g]]
TRUST_LIST_VECTORS = _load("trust_list")
ROOT = x509.load_pem_x509_certificate(PKI["root_pem"].encode())
TRUST_LIST = bytes.fromhex(PKI["trust_list"]["hex"])


def _generator():
    spec = importlib.util.spec_from_file_location("sscard_vector_generator", VECTORS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _params(vectors: list[dict]) -> list:
    out = []
    for v in vectors:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_DEVIATIONS[v["id"]])] if v["id"] in KNOWN_DEVIATIONS else []
        out.append(pytest.param(v, id=v["id"], marks=marks))
    return out


_STORES: dict[tuple, TrustStore] = {}


def store_for(vector: dict) -> TrustStore:
    """The verifier's trust store the vector describes (cached: verification does not change it)."""
    allowed = tuple(sorted(vector.get("allowed_algorithms", (-7, -8))))
    with_list = vector.get("trust_list", "pki") is not None
    key = (allowed, with_list)
    if key not in _STORES:
        store = TrustStore(ROOT, allowed_algorithms=frozenset(Algorithm(a) for a in allowed))
        if with_list:
            store.update(TRUST_LIST)
        _STORES[key] = store
    return _STORES[key]


def run(vector: dict):
    inp = vector["input"]
    credential = inp["qr_text"] if "qr_text" in inp else bytes.fromhex(inp["cose_hex"])
    kwargs = {"revocation_max_age": vector["revocation_max_age"]} if "revocation_max_age" in vector else {}
    return verify_credential(credential, store_for(vector), now=vector["now"], **kwargs)


# ---------------------------------------------------------------- every vector

@pytest.mark.parametrize("vector", _params(CREDENTIAL_VECTORS))
def test_credential_vector(vector):
    expected = vector["expected"]
    verdict = run(vector)
    assert verdict.outcome.value == expected["outcome"], [c.to_dict() for c in verdict.checks]
    assert [r.value for r in verdict.reasons] == expected["reasons"]
    # one result per check, in order; the failed (or indeterminate) one is the expected
    # check, every check before it passed and every check after it did not run
    assert tuple(c.check for c in verdict.checks) == CREDENTIAL_CHECKS
    statuses = [c.status for c in verdict.checks]
    stopped = [c for c in verdict.checks if c.status in (Status.FAILED, Status.INDETERMINATE)]
    assert len(stopped) <= 1
    assert (stopped[0].check.value if stopped else None) == expected["failed_check"]
    if stopped:
        at = statuses.index(stopped[0].status)
        assert statuses[:at] == [Status.PASSED] * at
        assert statuses[at + 1:] == [Status.NOT_CHECKED] * (len(statuses) - at - 1)
    else:
        assert statuses == [Status.PASSED] * len(statuses)


@pytest.mark.parametrize("vector", _params(TRUST_LIST_VECTORS))
def test_trust_list_vector(vector):
    store = TrustStore(ROOT)
    if vector["held"] == "pki":
        store.update(TRUST_LIST)
    else:
        assert vector["held"] is None
    held = store.trust_list
    data = bytes.fromhex(vector["input"]["trust_list_hex"])
    expected = vector["expected"]
    if expected["accepted"]:
        installed = store.update(data)
        assert store.trust_list is installed and installed.encoded == data
    else:
        with pytest.raises(TrustListError) as err:
            store.update(data)
        assert err.value.reason.value == expected["reason"]
        assert store.trust_list is held  # a refused list leaves the last good one in place


# ---------------------------------------------------------------- the valid vectors' content

_GEN = None


def diag(value) -> str:
    global _GEN
    if _GEN is None:
        _GEN = _generator()
    return _GEN.diag(value)


def _iso(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def _json(value):
    """claims.data as the vectors write it: dates ISO 8601, enumerations as integers, bytes hex."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)  # IntEnum members become plain integers
    return _iso(value)


@pytest.mark.parametrize("vector", _params(BY_GROUP["valid"]))
def test_valid_vector_decodes_to_the_documented_payload(vector):
    expected = vector["expected"]
    inp = vector["input"]
    if "qr_text" in inp:
        text = inp["qr_text"]
        assert set(text) <= set(qrtext.PREFIX + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"), \
            "QR text must fit the QR alphanumeric mode"
        raw = qrtext.decode_qr_text(text)
        assert qrtext.encode_qr_text(raw) == text
    else:
        raw = bytes.fromhex(inp["cose_hex"])
    assert raw.hex() == expected["cose_hex"]
    envelope = cose.decode_sign1(raw, max_size=qrtext.MAX_COSE_BYTES)
    assert envelope.payload.hex() == expected["payload_hex"]
    assert diag(cbor2.loads(envelope.payload)) == expected["payload_diag"]
    verdict = run(vector)
    claims = verdict.claims
    got = {"iss": claims.iss, "iat": claims.iat, "exp": claims.exp, "cti": claims.cti.hex() if claims.cti else None,
           "profile": int(claims.profile), "credential": _json(claims.data)}
    assert got == expected["claims"]
    assert verdict.signer.issuer_code == expected["claims"]["iss"]


def test_the_worked_example_in_the_spec_is_the_vector():
    example = next(v for v in BY_GROUP["valid"] if v["id"] == "valid/es256-typical")
    spec = SPEC.read_text()
    assert example["expected"]["cose_hex"] in re.sub(r"\s+", "", spec)
    assert "\n" + example["input"]["qr_text"] + "\n" in spec
    sh01 = next(i for i in PKI["issuers"] if i["name"] == "SH01")
    assert f"`{sh01['kid']}`" in spec


# ---------------------------------------------------------------- the vector set itself

def test_vector_files_are_well_formed():
    ids = [v["id"] for v in CREDENTIAL_VECTORS + TRUST_LIST_VECTORS]
    assert len(ids) == len(set(ids)), "vector ids must be unique"
    checks = {c.value for c in Check}
    codes = {r.value for r in Reason}
    for group in GROUPS:
        assert BY_GROUP[group], f"{group}.json has no vectors"
        for v in BY_GROUP[group]:
            assert v["id"].startswith(group + "/")
            assert type(v["now"]) is int and v["description"]
            assert set(v["input"]) in ({"qr_text"}, {"cose_hex"})
            e = v["expected"]
            assert e["outcome"] in ("VALID", "INVALID", "INDETERMINATE")
            assert set(e["reasons"]) <= codes
            assert (e["failed_check"] is None) == (e["outcome"] == "VALID")
            assert e["failed_check"] is None or e["failed_check"] in checks
            assert len(e["reasons"]) == (0 if e["outcome"] == "VALID" else 1)
    for v in TRUST_LIST_VECTORS:
        assert v["expected"]["accepted"] == (v["expected"]["reason"] is None)
        assert v["expected"]["reason"] is None or v["expected"]["reason"] in codes
    assert set(KNOWN_DEVIATIONS) <= set(ids)


def _covered() -> set[Reason]:
    covered = {Reason(r) for v in CREDENTIAL_VECTORS for r in v["expected"]["reasons"]}
    covered |= {Reason(v["expected"]["reason"]) for v in TRUST_LIST_VECTORS if v["expected"]["reason"]}
    return covered


def test_every_reason_a_verifier_can_emit_has_a_vector():
    missing = set(Reason) - set(NOT_IN_VERDICTS) - _covered()
    assert not missing, f"reason codes without a vector: {sorted(r.value for r in missing)}"


@pytest.mark.parametrize("section", SECTIONS)
def test_every_reason_section_has_vectors(section):
    prefixes = SECTIONS[section]
    assert any(r.value.startswith(prefixes) for r in _covered()), section


def test_pki_json_matches_the_trust_list():
    store = TrustStore(ROOT)
    tl = store.update(TRUST_LIST)
    meta = PKI["trust_list"]
    assert (tl.version, tl.issued_at, tl.next_update) == (meta["version"], meta["issued_at"], meta["next_update"])
    assert {code: sorted(serials) for code, serials in tl.revoked.items()} == meta["revoked"]
    listed = {i.kid.hex() for i in tl.issuers}
    for issuer in PKI["issuers"]:
        cert = x509.load_pem_x509_certificate(issuer["pem"].encode())
        der = cert.public_bytes(serialization.Encoding.DER)
        assert hashlib.sha256(der).digest()[:8].hex() == issuer["kid"]
        assert (issuer["kid"] in listed) == issuer["in_trust_list"]
    for name in ("issuer_sh01_pem", "issuer_sh02_pem"):
        assert PKI[name] in {i["pem"] for i in PKI["issuers"] if i["in_trust_list"]}
    # every vector's `now` lies where the description of the fixed timeline puts it: the
    # trust list is current unless the vector is about staleness
    for v in CREDENTIAL_VECTORS:
        if v["expected"]["reasons"] != ["REVOCATION_STALE"] and "revocation_max_age" not in v \
                and v["expected"]["outcome"] == "VALID":
            assert v["now"] <= meta["next_update"], v["id"]
