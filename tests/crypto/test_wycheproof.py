"""The signature layer (crypto.cose.verify_signature) against Wycheproof: every valid
vector accepted, every invalid one rejected (tests/vectors/wycheproof, vendored: see its README)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from crypto.cose import Algorithm, verify_signature

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "wycheproof"
FILES = {"ecdsa_secp256r1_sha256_p1363_test.json": Algorithm.ES256, "ed25519_test.json": Algorithm.EDDSA}


def _cases():
    for name, algorithm in FILES.items():
        data = json.loads((VECTORS / name).read_text())
        for group in data["testGroups"]:
            for test in group["tests"]:
                yield pytest.param(algorithm, group["publicKeyDer"], test, id=f"{algorithm.name}-{test['tcId']}")


def test_vectors_are_present_and_whole():
    assert (VECTORS / "LICENSE").is_file() and (VECTORS / "README.md").is_file()
    for name in FILES:
        data = json.loads((VECTORS / name).read_text())
        tests = [test for group in data["testGroups"] for test in group["tests"]]
        assert len(tests) == data["numberOfTests"], name


@pytest.mark.parametrize("algorithm,key_der,test", list(_cases()))
def test_wycheproof(algorithm, key_der, test):
    public_key = serialization.load_der_public_key(bytes.fromhex(key_der))
    ok = verify_signature(algorithm, public_key, bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"]))
    if test["result"] == "valid":
        assert ok, test["comment"]
    elif test["result"] == "invalid":
        assert not ok, test["comment"]
