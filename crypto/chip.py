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
from crypto.errors import ClaimsError
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
    missing = {Group.CARD_INFO, Group.HOLDER, Group.CHIP_KEY} - set(files)
    if missing:
        raise ClaimsError(Reason.CLAIMS_MISSING, f"the security object needs {sorted(g.name for g in missing)}")
    payload = cbor.dumps({S_VERSION: SO_VERSION, S_CARD_NUMBER: card_number, S_SERIAL: serial,
                          S_ISSUER: issuer_code, S_IAT: iat, S_EXP: exp, S_DIGEST_ALG: DIGEST_SHA256,
                          S_DIGESTS: {int(g): hashlib.sha256(b).digest() for g, b in files.items()}})
    return cose.sign1(payload, signer)


def decode_security_object_payload(payload: bytes) -> SecurityObject:
    body = cbor.loads(payload, max_size=MAX_SO_BYTES, what="security object")
    keys = {S_VERSION, S_CARD_NUMBER, S_SERIAL, S_ISSUER, S_IAT, S_DIGEST_ALG, S_DIGESTS, S_EXP}
    if not isinstance(body, dict) or set(body) != keys:
        raise ClaimsError(Reason.CLAIMS_STRUCTURE, "the security object must be a map with keys 1-8")
    if body[S_VERSION] != SO_VERSION or body[S_DIGEST_ALG] != DIGEST_SHA256:
        raise ClaimsError(Reason.CLAIMS_VALUE, "unknown security object version or digest algorithm")
    card_number, serial, issuer = body[S_CARD_NUMBER], body[S_SERIAL], body[S_ISSUER]
    iat, exp = body[S_IAT], body[S_EXP]
    if type(card_number) is not str or type(issuer) is not str or \
            not all(type(v) is int for v in (serial, iat, exp)):
        raise ClaimsError(Reason.CLAIMS_TYPE, "card number, serial, issuer, iat and exp have the wrong CBOR types")
    digests = body[S_DIGESTS]
    if not isinstance(digests, dict) or not all(
            type(k) is int and k in Group._value2member_map_ and type(v) is bytes and len(v) == 32
            for k, v in digests.items()):
        raise ClaimsError(Reason.CLAIMS_TYPE, "digests must map group numbers 0-5 to 32-byte SHA-256 values")
    return SecurityObject(card_number, serial, issuer, iat, exp, dict(digests))


def decode_group(group: Group, payload: bytes) -> object:
    """The CBOR item of a data group, strictly decoded (types are checked by the reader)."""
    return cbor.loads(payload, max_size=64 * 1024, what=f"data group {group.name}")
