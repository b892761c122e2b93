"""The CDDL appendix of docs/spec.md (Appendix A, RFC 8610) against every vector and every
structure the code produces, with pycddl (issue 11 item 5).

The CDDL lives in one place, the spec's ```cddl block, and is read from there. pycddl
0.6 validates `bstr .cbor rule` inside arrays at the wrong index, so the test checks one
layer at a time: the outer item against its rule with `.cbor` read as `bstr`, then each
embedded byte string, decoded, against the rule the `.cbor` names. Negative checks: claim
sets the vectors call CLAIMS_TYPE/CLAIMS_MISSING/CLAIMS_UNKNOWN_KEY, security objects they
call SO_TYPE/SO_MISSING/SO_UNKNOWN_KEY, and structures with a wrong type all fail.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import cbor2
import pycddl
import pytest

from crypto import base45
from crypto.chip import Group
from crypto.ecard import PREFIX as ECARD_PREFIX

from signed_samples import FILES, make_samples

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "docs" / "spec.md"
VECTORS = REPO / "tests" / "vectors"


def appendix() -> str:
    blocks = re.findall(r"```cddl\n(.*?)```", SPEC.read_text(), re.S)
    assert len(blocks) == 1, "docs/spec.md must hold exactly one ```cddl block (Appendix A)"
    return blocks[0]


CDDL = appendix()
RULES = re.findall(r"^([a-z][\w-]*) = ", CDDL, re.M)
FLAT = re.sub(r"bstr \.cbor [\w-]+", "bstr", CDDL)


def _embedded() -> dict[str, list[tuple[int, str]]]:
    """rule -> [(array index, rule of the embedded item)] for every `name: bstr .cbor rule`."""
    out: dict[str, list[tuple[int, str]]] = {}
    bodies = re.split(r"^(?=[a-z][\w-]* = )", CDDL, flags=re.M)
    for body in bodies:
        head = re.match(r"([a-z][\w-]*) = ", body)
        if not head:
            continue
        entries = re.findall(r"^\s+\w+: (.*?),?$", body, re.M)
        out[head.group(1)] = [(i, m.group(1)) for i, e in enumerate(entries)
                              if (m := re.match(r"bstr \.cbor ([\w-]+)", e))]
    return out


EMBEDDED = _embedded()
DATA_GROUPS = {Group.CARD_INFO: "card-info", Group.HOLDER: "data-group-1", Group.PHOTO: "data-group-2",
               Group.PERMIT: "data-group-3", Group.INSURANCE: "data-group-4", Group.CHIP_KEY: "data-group-5"}


@functools.cache
def schema(rule: str) -> pycddl.Schema:
    assert rule in RULES, f"no rule {rule} in Appendix A"
    return pycddl.Schema(f"sscard-root = {rule}\n{FLAT}")


def validate(rule: str, data: bytes) -> None:
    """Raise pycddl.ValidationError unless `data` and every item embedded in it fit `rule`."""
    schema(rule).validate_cbor(data)
    inner = EMBEDDED.get(rule)
    if inner:
        value = cbor2.loads(data)
        items = value.value if isinstance(value, cbor2.CBORTag) else value
        for index, target in inner:
            validate(target, items[index])


def fits(rule: str, data: bytes) -> bool:
    try:
        validate(rule, data)
    except pycddl.ValidationError:
        return False
    return True


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("cddl"))


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def _presentation_cbor(text: str) -> bytes:
    return base45.decode(text[len(ECARD_PREFIX):])


# ---------------------------------------------------------------- the appendix itself

def test_the_appendix_has_a_rule_for_every_structure():
    expected = {"credential-qr", "credential-chip", "credential-ecard", "security-object", "trust-list",
                "revocation-delta", "protected-header", "claims-qr", "claims-chip", "claims-ecard",
                "security-object-payload", "trust-list-payload", "revocation-serial-list", "revocation-coded-set",
                "coded-set", "delta-payload", "delta-entry", "presentation", "device-claims", *DATA_GROUPS.values()}
    assert expected <= set(RULES), sorted(expected - set(RULES))
    assert len(RULES) == len(set(RULES)), "a rule is defined twice"
    for rule in RULES:
        schema(rule)  # every rule compiles as a root
    assert EMBEDDED["credential-qr"] == [(0, "protected-header"), (2, "claims-qr")]
    assert EMBEDDED["presentation"] == [(0, "credential-ecard"), (1, "device-claims")]


# ---------------------------------------------------------------- what the code produces

PRODUCED = {
    "credential-qr": lambda s: s.qr_cose,
    "credential-chip": lambda s: s.chip_cose,
    "credential-ecard": lambda s: s.ecard_cose,
    "security-object": lambda s: s.security_object,
    "trust-list (format 1)": lambda s: s.trust_list(),
    "trust-list (format 2)": lambda s: s.coded_lists[1],
    "revocation-delta": lambda s: s.delta,
    "presentation": lambda s: _presentation_cbor(s.presentation()),
    "presentation (challenge)": lambda s: _presentation_cbor(s.presentation(challenge=b"\x01" * 5)),
}


@pytest.mark.parametrize("name", PRODUCED)
def test_every_structure_the_code_produces_fits_the_appendix(s, name):
    validate(name.split(" ")[0], PRODUCED[name](s))


@pytest.mark.parametrize("group", list(Group), ids=lambda g: g.name)
def test_every_data_group_the_code_produces_fits_the_appendix(s, group):
    validate(DATA_GROUPS[group], FILES[group].unwrap(s.files[group]))


# ---------------------------------------------------------------- every vector

def _profile_rule(cose: bytes) -> str:
    payload = cbor2.loads(cbor2.loads(cose).value[2])
    return {1: "credential-qr", 2: "credential-chip", 3: "credential-ecard"}[payload[-65537][1]]


def _valid_vectors() -> list[tuple[str, str, bytes]]:
    from crypto import qrtext

    out = []
    for v in _load("valid.json")["vectors"]:
        inp = v["input"]
        raw = qrtext.decode_qr_text(inp["qr_text"]) if "qr_text" in inp else bytes.fromhex(inp["cose_hex"])
        out.append((v["id"], _profile_rule(raw), raw))
    for name in ("claims.json", "certificates.json", "revocation.json", "cose.json", "qr_text.json"):
        for v in _load(name)["vectors"]:
            if v["expected"]["outcome"] == "VALID" or v["expected"]["failed_check"] in (
                    "signer_certificate", "validity", "revocation"):  # structurally sound credentials
                inp = v["input"]
                raw = qrtext.decode_qr_text(inp["qr_text"]) if "qr_text" in inp else bytes.fromhex(inp["cose_hex"])
                out.append((v["id"], _profile_rule(raw), raw))
    out.append(("pki.json trust list", "trust-list", bytes.fromhex(_load("pki.json")["trust_list"]["hex"])))
    for v in _load("trust_list.json")["vectors"]:
        if v["expected"]["accepted"]:
            out.append((v["id"], "trust-list", bytes.fromhex(v["input"]["trust_list_hex"])))
    ecard = _load("ecard.json")
    out.append(("ecard.json trust list", "trust-list", bytes.fromhex(ecard["pki"]["trust_list_hex"])))
    for v in ecard["vectors"]:
        if v["expected"]["outcome"] == "VALID":
            out.append((v["id"], "presentation", _presentation_cbor(v["input"]["qr_text"])))
    gr = _load("revocation_gr.json")
    out.append(("revocation_gr.json chain", "trust-list", bytes.fromhex(gr["chain"]["trust_list"]["hex"])))
    out += [(v["id"], "revocation-delta", bytes.fromhex(v["delta_hex"])) for v in gr["deltas"]
            if v["expected"]["accepted"]]
    out += [(v["id"], "coded-set", bytes.fromhex(v["cbor_hex"])) for v in gr["sets"]]
    so = _load("security_object.json")
    out.append(("security_object.json trust list", "trust-list", bytes.fromhex(so["pki"]["trust_list_hex"])))
    out += [(v["id"], "security-object", bytes.fromhex(v["input"]["security_object_hex"])) for v in so["vectors"]
            if v["expected"]["outcome"] == "VALID" or v["expected"]["failed_check"] in ("validity", "revocation")]
    out += [(f"security_object.json {name}", DATA_GROUPS[Group[name]], FILES[Group[name]].unwrap(bytes.fromhex(h)))
            for name, h in so["files"].items()]
    return out


VALID = _valid_vectors()


@pytest.mark.parametrize("rule, data", [(r, d) for _, r, d in VALID], ids=[i for i, _, _ in VALID])
def test_every_sound_vector_fits_the_appendix(rule, data):
    validate(rule, data)


def _refused_payloads() -> list[tuple[str, tuple[str, ...], bytes]]:
    """Payloads that the vectors refuse for their shape: they must fit no rule."""
    out = []
    for v in _load("claims.json")["vectors"]:
        if set(v["expected"]["reasons"]) & {"CLAIMS_TYPE", "CLAIMS_MISSING", "CLAIMS_UNKNOWN_KEY"}:
            payload = cbor2.loads(bytes.fromhex(v["input"]["cose_hex"])).value[2]
            out.append((v["id"], ("claims-qr", "claims-chip", "claims-ecard"), payload))
    for v in _load("security_object.json")["vectors"]:
        if set(v["expected"]["reasons"]) & {"SO_TYPE", "SO_MISSING", "SO_UNKNOWN_KEY"}:
            payload = cbor2.loads(bytes.fromhex(v["input"]["security_object_hex"])).value[2]
            out.append((v["id"], ("security-object-payload",), payload))
    for v in _load("security_object.json")["trust_list_vectors"]:
        if v["id"] == "trust_list/simple-value-keys":
            out.append((v["id"], ("trust-list-payload",), cbor2.loads(bytes.fromhex(v["input"]["trust_list_hex"])).value[2]))
    return out


REFUSED = _refused_payloads()

# pycddl 0.6.4 (the Rust cddl crate) does not enforce an occurrence such as 5*5 on an array
# whose items are arrays, nor a choice between array rules there: it accepts these shapes
# although Appendix A does not. Strict expected failures: once pycddl checks them, the
# mark must go. (Positive validation of the same rules is unaffected.)
PYCDDL_BLIND = {
    "claims/insurance-4-entries": "pycddl ignores 5*5 on an array of arrays",
    "claims/insurance-status-7": "pycddl ignores the choice of the entry arrays inside [5*5 ...]",
    "claims/insurance-nested-array": "pycddl ignores the choice of the entry arrays inside [5*5 ...]",
    "claims: insurance of 4 entries": "pycddl ignores 5*5 on an array of arrays",
}


def _marks(name: str) -> list:
    return [pytest.mark.xfail(strict=True, reason=PYCDDL_BLIND[name])] if name in PYCDDL_BLIND else []


@pytest.mark.parametrize("rules, payload", [pytest.param(r, p, id=i, marks=_marks(i)) for i, r, p in REFUSED])
def test_payloads_the_vectors_refuse_for_their_shape_fit_no_rule(rules, payload):
    assert not any(fits(rule, payload) for rule in rules)


def test_the_refused_payloads_cover_claims_security_objects_and_trust_lists():
    assert {r for _, rules, _ in REFUSED for r in rules} >= {"claims-qr", "security-object-payload",
                                                              "trust-list-payload"}
    assert len(REFUSED) >= 20


# ---------------------------------------------------------------- wrong types fail

def _edit(data: bytes, edit) -> bytes:
    value = cbor2.loads(data)
    edit(value)
    return cbor2.dumps(value)


WRONG = {
    "claims: iat as text": ("claims-qr", lambda s: _edit(cbor2.loads(s.qr_cose).value[2],
                                                         lambda c: c.__setitem__(6, "1767605400"))),
    "claims: profile 2 in the QR shape": ("claims-qr", lambda s: _edit(cbor2.loads(s.qr_cose).value[2],
                                                                       lambda c: c[-65537].__setitem__(1, 2))),
    "claims: insurance of 4 entries": ("claims-chip", lambda s: _edit(cbor2.loads(s.chip_cose).value[2],
                                                                      lambda c: c[-65537][5].pop())),
    "claims: sex as a boolean": ("claims-qr", lambda s: _edit(cbor2.loads(s.qr_cose).value[2],
                                                              lambda c: c[-65537][2].__setitem__(6, True))),
    "claims: key true for iat": ("claims-qr", lambda s: _edit(cbor2.loads(s.qr_cose).value[2],
                                                              lambda c: c.__setitem__(True, c.pop(6)))),
    "protected header: label true": ("protected-header", lambda s: bytes.fromhex("a3012604") + bytes([0x48])
                                     + s.pki.issuer.kid + bytes.fromhex("f501")),
    "protected header: alg as text": ("protected-header", lambda s: cbor2.dumps({1: "ES256", 4: s.pki.issuer.kid})),
    "security object: serial as text": ("security-object-payload", lambda s: _edit(
        cbor2.loads(s.security_object).value[2], lambda b: b.__setitem__(3, "42"))),
    "trust list: version as text": ("trust-list-payload", lambda s: _edit(
        cbor2.loads(s.trust_list()).value[2], lambda b: b.__setitem__(1, "1"))),
    "coded set: k = 32": ("coded-set", lambda s: _edit(
        cbor2.dumps(cbor2.loads(cbor2.loads(s.coded_lists[1]).value[2])[5][0][3]), lambda c: c.__setitem__(4, 32))),
    "delta: digest of 31 bytes": ("delta-payload", lambda s: _edit(
        cbor2.loads(s.delta).value[2], lambda b: b.__setitem__(5, b[5][:31]))),
    "device claims: purpose 3": ("device-claims", lambda s: cbor2.dumps({1: 1, 2: b"\x00" * 4, 3: 3})),
    "presentation: signature of 63 bytes": ("presentation", lambda s: _edit(
        _presentation_cbor(s.presentation()), lambda p: p.__setitem__(2, p[2][:63]))),
    "trust list: untagged": ("trust-list", lambda s: cbor2.dumps(list(cbor2.loads(s.trust_list()).value))),
}


@pytest.mark.parametrize("name", [pytest.param(n, id=n, marks=_marks(n)) for n in WRONG])
def test_a_structure_with_a_wrong_type_fails_the_appendix(s, name):
    rule, make = WRONG[name]
    assert not fits(rule, make(s))
