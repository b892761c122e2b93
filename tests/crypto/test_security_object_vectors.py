"""The chip security-object vectors and their trust lists (tests/vectors/security_object.json,
docs/spec.md §10.4), run against crypto.verify_security_object and TrustStore.update: one
test per vector; every SO_* reason code has a vector; the chip files hash to the digests of
the valid security object."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from crypto import Reason, verify_security_object
from crypto.chip import Group
from crypto.errors import TrustListError
from crypto.verdict import Status

REPO = Path(__file__).resolve().parents[2]
DOC = json.loads((REPO / "tests" / "vectors" / "security_object.json").read_text())
sys.path.insert(0, str(REPO / "tests" / "vectors"))
from generate_security_object import store_for  # noqa: E402  (a vector's verifier, as the spec reads it)

VECTORS, LISTS = DOC["vectors"], DOC["trust_list_vectors"]


@pytest.fixture(scope="module")
def store():
    return store_for(DOC)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_security_object_vector(vector, store):
    verdict = verify_security_object(bytes.fromhex(vector["input"]["security_object_hex"]), store, now=vector["now"])
    expected = vector["expected"]
    assert verdict.outcome.value == expected["outcome"], verdict.to_dict()
    assert [r.value for r in verdict.reasons] == expected["reasons"]
    stopped = [c for c in verdict.checks if c.status in (Status.FAILED, Status.INDETERMINATE)]
    assert (stopped[0].check.value if stopped else None) == expected["failed_check"]


@pytest.mark.parametrize("vector", LISTS, ids=[v["id"] for v in LISTS])
def test_trust_list_vector(vector):
    store = store_for(DOC, vector["held"], vector.get("allowed_algorithms", (-7, -8)))
    held = store.trust_list
    data = bytes.fromhex(vector["input"]["trust_list_hex"])
    if vector["expected"]["accepted"]:
        assert store.update(data).encoded == data
    else:
        with pytest.raises(TrustListError) as err:
            store.update(data)
        assert err.value.reason.value == vector["expected"]["reason"]
        assert store.trust_list is held


def test_every_security_object_reason_has_a_vector():
    covered = {r for v in VECTORS for r in v["expected"]["reasons"]}
    missing = {r.value for r in Reason if r.value.startswith("SO_")} - covered
    assert not missing, missing
    assert {v["expected"]["outcome"] for v in VECTORS} == {"VALID", "INVALID"}
    ids = [v["id"] for v in VECTORS + LISTS]
    assert len(ids) == len(set(ids))


def test_the_files_hash_to_the_valid_security_objects_digests(store):
    valid = next(v for v in VECTORS if v["id"] == "security_object/valid-every-group")
    so = verify_security_object(bytes.fromhex(valid["input"]["security_object_hex"]), store, now=valid["now"]).claims
    for name, hex_ in DOC["files"].items():
        data = bytes.fromhex(hex_)
        assert so.digests[int(Group[name])] == hashlib.sha256(data).digest()
        assert so.digest_matches(Group[name], data)
