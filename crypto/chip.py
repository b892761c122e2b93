"""The chip's data groups and security object (DESIGN.md §3, docs/spec.md §10).

The chip profile of the claim set is split into data groups, each a deterministically
encoded CBOR item (the card profile in firmware_tools wraps each in its file's TLV). The
security object is a COSE_Sign1 by the issuer over the card's identity and the SHA-256 of
every file's bytes, including the chip public key (DG5): the idea of ICAO 9303's EF.SOD,
in CBOR. A terminal reads only the groups its site needs and checks their digests
(passive authentication); the chip key then proves the chip is the one that was issued
(active authentication).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass

from crypto import cbor, cose
from crypto.claims import (K_CARD, K_HOLDER, K_IDS, K_INSURANCE, K_PERMIT, Profile, card_map, holder_map,
                           identifiers_map, insurance_array, permit_map, sscard_map)
from crypto.errors import ClaimsError, SecurityObjectError
from crypto.keys import Signer
from crypto.reasons import Reason
from crypto.schema import Credential

MAX_SO_BYTES = 4096
SO_VERSION = 1
DIGEST_SHA256 = -16  # COSE algorithm identifier of SHA-256 (RFC 9054)
# Security object payload keys (spec §10.2).
S_VERSION, S_CARD_NUMBER, S_SERIAL, S_ISSUER, S_IAT, S_DIGEST_ALG, S_DIGESTS, S_EXP = 1, 2, 3, 4, 5, 6, 7, 8


class Group(enum.IntEnum):
    """The hashed files; the value is the key of the file's digest in the security object."""

    CARD_INFO = 0
    HOLDER = 1     # DG1
    PHOTO = 2      # DG2
    PERMIT = 3     # DG3
    INSURANCE = 4  # DG4
    CHIP_KEY = 5   # DG5


def group_payloads(credential: Credential, photo_jpeg: bytes) -> dict[Group, bytes]:
    """The CBOR content of every data group except the chip key (which the card makes)."""
    if credential.holder.photo_digest is None or credential.card.issue_date is None:
        raise ClaimsError(Reason.CLAIMS_MISSING, "the chip needs the photo digest and the issue date")
    if hashlib.sha256(photo_jpeg).digest() != credential.holder.photo_digest:
        raise ClaimsError(Reason.CLAIMS_VALUE, "the photo does not match the holder's photo digest")
    ssc = sscard_map(credential, Profile.CHIP)
    card = dict(card_map(credential.card, Profile.CHIP))
    return {
        Group.CARD_INFO: cbor.dumps({K_CARD: card, 0: credential.card.issuing_centre}),
        Group.HOLDER: cbor.dumps({K_HOLDER: ssc[K_HOLDER], K_IDS: ssc[K_IDS]}),
        Group.PHOTO: cbor.dumps(photo_jpeg),
        Group.PERMIT: cbor.dumps({K_PERMIT: permit_map(credential.permit)}),
        Group.INSURANCE: cbor.dumps({K_INSURANCE: insurance_array(credential.insurance, Profile.CHIP)}),
    }


@dataclass(frozen=True)
class SecurityObject:
    card_number: str
    serial: int
    issuer_code: str
    iat: int
    exp: int
    digests: dict[int, bytes]

    # what verify.py's checks read, named as on a claim set
    @property
    def iss(self) -> str:
        return self.issuer_code

    def digest_matches(self, group: Group, file_bytes: bytes) -> bool:
        expected = self.digests.get(int(group))
        return expected is not None and hmac.compare_digest(expected, hashlib.sha256(file_bytes).digest())


def build_security_object(*, card_number: str, serial: int, issuer_code: str, iat: int, exp: int,
                          files: dict[Group, bytes], signer: Signer) -> bytes:
    """Sign the digests of the files' bytes (as written to the card, TLV included)."""
    missing = set(REQUIRED_GROUPS) - set(files)
    if missing:
        raise ClaimsError(Reason.CLAIMS_MISSING, f"the security object needs {sorted(g.name for g in missing)}")
    payload = cbor.dumps({S_VERSION: SO_VERSION, S_CARD_NUMBER: card_number, S_SERIAL: serial,
                          S_ISSUER: issuer_code, S_IAT: iat, S_EXP: exp, S_DIGEST_ALG: DIGEST_SHA256,
                          S_DIGESTS: {int(g): hashlib.sha256(b).digest() for g, b in files.items()}})
    return cose.sign1(payload, signer)


# Payload fields in key order (spec §10.2): key, name, CBOR type.
_SO_FIELDS = ((S_VERSION, "version", int), (S_CARD_NUMBER, "card number", str), (S_SERIAL, "serial", int),
              (S_ISSUER, "issuer", str), (S_IAT, "iat", int), (S_DIGEST_ALG, "digest algorithm", int),
              (S_DIGESTS, "digests", dict), (S_EXP, "exp", int))
REQUIRED_GROUPS = (Group.CARD_INFO, Group.HOLDER, Group.CHIP_KEY)
MAX_SO_TEXT = 128


def _so_error(reason: Reason, message: str) -> SecurityObjectError:
    return SecurityObjectError(reason, f"security object: {message}")


def decode_security_object_payload(payload: bytes, issuer_code: str | None = None) -> SecurityObject:
    """Decode a security object's payload in the order of spec §10.2 and report the first
    fault: CBOR, the map and its keys, each field's type, the values, the digests map.
    `issuer_code` is the signer certificate's issuing centre, which key 4 must name."""
    body = cbor.loads(payload, max_size=MAX_SO_BYTES, what="security object")
    if type(body) is not dict:
        raise _so_error(Reason.SO_TYPE, "the payload must be a map")
    unknown = [k for k in body if type(k) is not int or k not in _SO_KEYS]
    if unknown:
        raise _so_error(Reason.SO_UNKNOWN_KEY, f"key {unknown[0]!r} is not one of 1-8")
    for key, name, kind in _SO_FIELDS:
        if key not in body:
            raise _so_error(Reason.SO_MISSING, f"key {key} ({name}) is missing")
    for key, name, kind in _SO_FIELDS:
        if type(body[key]) is not kind:
            raise _so_error(Reason.SO_TYPE, f"key {key} ({name}) is not of the CBOR type {kind.__name__}")
    if body[S_VERSION] != SO_VERSION or body[S_DIGEST_ALG] != DIGEST_SHA256:
        raise _so_error(Reason.SO_VALUE, "version must be 1 and the digest algorithm -16 (SHA-256)")
    card_number, serial, issuer, iat, exp = (body[k] for k in (S_CARD_NUMBER, S_SERIAL, S_ISSUER, S_IAT, S_EXP))
    if not 0 <= serial < 2**32 or iat < 0 or exp < 0 or len(card_number) > MAX_SO_TEXT or len(issuer) > MAX_SO_TEXT:
        raise _so_error(Reason.SO_VALUE, f"serial 0 to 2^32-1, iat and exp not negative, card number and issuer "
                                         f"at most {MAX_SO_TEXT} characters")
    if issuer_code is not None and issuer != issuer_code:
        raise _so_error(Reason.SO_VALUE, f"it names issuing centre {issuer!r}, its signer is {issuer_code!r}")
    digests = body[S_DIGESTS]
    for key, value in digests.items():
        if type(key) is not int or key not in Group._value2member_map_:
            raise _so_error(Reason.SO_UNKNOWN_KEY, f"digests: key {key!r} is not a group number 0-5")
        if type(value) is not bytes:
            raise _so_error(Reason.SO_TYPE, f"digests: group {key}'s digest is not a byte string")
        if len(value) != 32:
            raise _so_error(Reason.SO_VALUE, f"digests: group {key}'s digest is {len(value)} bytes, not 32 (SHA-256)")
    missing = [g.name for g in REQUIRED_GROUPS if int(g) not in digests]
    if missing:
        raise _so_error(Reason.SO_MISSING, f"digests: no digest of {', '.join(missing)} (groups 0, 1 and 5 are required)")
    return SecurityObject(card_number, serial, issuer, iat, exp, dict(digests))


_SO_KEYS = frozenset(key for key, _, _ in _SO_FIELDS)


def decode_group(group: Group, payload: bytes) -> object:
    """The CBOR item of a data group, strictly decoded (types are checked by the reader)."""
    return cbor.loads(payload, max_size=64 * 1024, what=f"data group {group.name}")
