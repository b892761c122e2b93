"""COSE_Sign1 (RFC 9052 §4.2) with ES256 and EdDSA (RFC 9053 §2.1, §2.2), hand-written
on cbor2 + cryptography.

Only what sscard needs, and strictly: tag 18 required, ``alg`` and ``kid`` in the protected
header, no ``crit``, no unknown header labels, a signature of the exact length the
algorithm gives. The signature layer (:func:`verify_signature`) is tested against the
Wycheproof vectors.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Protocol

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from crypto import cbor
from crypto.errors import CoseError
from crypto.reasons import Reason

COSE_SIGN1_TAG = 18
COSE_SIGN_TAG = 98

# RFC 9052 §3.1 header labels.
HDR_ALG = 1
HDR_CRIT = 2
HDR_CONTENT_TYPE = 3
HDR_KID = 4
HDR_X5CHAIN = 33  # RFC 9360

KID_LENGTH = 8
MAX_PROTECTED_BYTES = 64
_PROTECTED_LABELS = frozenset({HDR_ALG, HDR_KID, HDR_CONTENT_TYPE})
_UNPROTECTED_LABELS = frozenset({HDR_X5CHAIN})


class Algorithm(enum.IntEnum):
    """COSE algorithm identifiers (IANA COSE Algorithms registry) that sscard implements."""

    ES256 = -7
    EDDSA = -8

    @property
    def signature_length(self) -> int:
        return 64


# Algorithms a verifier accepts unless configured otherwise (DESIGN.md §3).
DEFAULT_ALLOWED = frozenset({Algorithm.ES256, Algorithm.EDDSA})

# Identifiers registered elsewhere that we recognise only to name them in an error.
_KNOWN_UNSUPPORTED = {-35: "ES384", -36: "ES512", -37: "PS256", -257: "RS256", -47: "ES256K",
                      5: "HMAC 256/256", -19: "Ed25519 (fully specified)", -9: "ESP256"}


class RawSigner(Protocol):
    """What :func:`sign1` needs of a signer: its algorithm, kid, and a raw signature."""

    @property
    def algorithm(self) -> Algorithm: ...

    @property
    def kid(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes:
        """COSE-form signature over `data` (r||s for ES256, 64 bytes for EdDSA)."""
        ...


@dataclass(frozen=True, slots=True)
class CoseSign1:
    """A decoded COSE_Sign1 whose structure has been checked (not its signature)."""

    protected_bytes: bytes
    algorithm: Algorithm
    kid: bytes
    unprotected: dict
    payload: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected_bytes, self.payload)


def sig_structure(protected_bytes: bytes, payload: bytes) -> bytes:
    """RFC 9052 §4.4 Sig_structure for COSE_Sign1 with empty external_aad, encoded
    directly: ["Signature1", protected, h'', payload]."""
    return (b"\x84\x6aSignature1" + cbor.encode_bstr(protected_bytes) + b"\x40"
            + cbor.encode_bstr(payload))


def protected_header(algorithm: Algorithm, kid: bytes) -> bytes:
    return cbor.dumps({HDR_ALG: int(algorithm), HDR_KID: kid})


def sign1(payload: bytes, signer: RawSigner, unprotected: dict | None = None) -> bytes:
    """A tagged COSE_Sign1 over `payload`, deterministically encoded."""
    protected = protected_header(signer.algorithm, signer.kid)
    signature = signer.sign(sig_structure(protected, payload))
    if len(signature) != signer.algorithm.signature_length:
        raise CoseError(Reason.COSE_SIGNATURE_LENGTH,
                        f"the signer returned {len(signature)} bytes, expected {signer.algorithm.signature_length}")
    return cbor.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, unprotected or {}, payload, signature]))


def decode_sign1(data: bytes, *, max_size: int) -> CoseSign1:
    """Parse and check the structure of a tagged COSE_Sign1."""
    obj = cbor.loads(data, max_size=max_size, what="COSE_Sign1")
    if not isinstance(obj, cbor2.CBORTag):
        raise CoseError(Reason.COSE_UNTAGGED,
                        "the COSE_Sign1 is untagged: CBOR tag 18 is required")
    if obj.tag != COSE_SIGN1_TAG:
        hint = " (COSE_Sign, several signers, is not supported)" if obj.tag == COSE_SIGN_TAG else ""
        raise CoseError(Reason.COSE_WRONG_TAG, f"CBOR tag {obj.tag} where COSE_Sign1 tag 18 is required{hint}")
    value = obj.value  # cbor2 gives a tag's content as immutable types (tuple, frozendict)
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise CoseError(Reason.COSE_STRUCTURE, "COSE_Sign1 must be an array of 4 items")
    protected_bytes, unprotected, payload, signature = value
    if not isinstance(protected_bytes, bytes):
        raise CoseError(Reason.COSE_STRUCTURE, "the protected header must be a byte string")
    if type(unprotected) is not dict and not isinstance(unprotected, Mapping):
        raise CoseError(Reason.COSE_STRUCTURE, "the unprotected header must be a map")
    unprotected = dict(unprotected)
    if payload is None:
        raise CoseError(Reason.COSE_DETACHED_PAYLOAD, "detached payloads are not supported")
    if not isinstance(payload, bytes):
        raise CoseError(Reason.COSE_STRUCTURE, "the payload must be a byte string")
    if not isinstance(signature, bytes):
        raise CoseError(Reason.COSE_STRUCTURE, "the signature must be a byte string")
    protected = _decode_protected(protected_bytes)
    for label in unprotected:
        if type(label) is not int:
            raise CoseError(Reason.COSE_HEADER, f"header label {label!r} is not an integer")
        if label in protected:
            raise CoseError(Reason.COSE_HEADER, f"header label {label!r} is in both header buckets")
        if label == HDR_ALG:
            raise CoseError(Reason.COSE_ALG_UNPROTECTED,
                            "alg is only in the unprotected header: it must be protected")
        if label == HDR_KID:
            raise CoseError(Reason.COSE_KID, "kid is in the unprotected header: it must be protected")
        if label not in _UNPROTECTED_LABELS:
            raise CoseError(Reason.COSE_HEADER, f"unknown unprotected header label {label!r}")
    if HDR_ALG not in protected:
        raise CoseError(Reason.COSE_ALG_MISSING, "the protected header has no alg")
    algorithm = algorithm_from_label(protected[HDR_ALG])
    kid = protected.get(HDR_KID)
    if not isinstance(kid, bytes) or len(kid) != KID_LENGTH:
        raise CoseError(Reason.COSE_KID, f"the protected header must carry a {KID_LENGTH}-byte kid")
    if len(signature) != algorithm.signature_length:
        raise CoseError(Reason.COSE_SIGNATURE_LENGTH,
                        f"{algorithm.name} signatures are {algorithm.signature_length} bytes, this one is {len(signature)}")
    return CoseSign1(protected_bytes, algorithm, kid, unprotected, payload, signature)


# Every credential of one signer has the same protected header bytes: remember the few
# that passed, so the hot path decodes each only once. Bounded; entries are never mutated.
_PROTECTED_CACHE: dict[bytes, dict] = {}
_PROTECTED_CACHE_SIZE = 256


def _decode_protected(protected_bytes: bytes) -> dict:
    cached = _PROTECTED_CACHE.get(protected_bytes)
    if cached is not None:
        return cached
    header = _parse_protected(protected_bytes)
    if len(_PROTECTED_CACHE) >= _PROTECTED_CACHE_SIZE:
        _PROTECTED_CACHE.clear()
    _PROTECTED_CACHE[protected_bytes] = header
    return header


def _parse_protected(protected_bytes: bytes) -> dict:
    if not protected_bytes:
        raise CoseError(Reason.COSE_ALG_MISSING, "the protected header is empty: alg and kid are required")
    header = cbor.loads(protected_bytes, max_size=MAX_PROTECTED_BYTES, what="protected header")
    if not isinstance(header, dict):
        raise CoseError(Reason.COSE_HEADER, "the protected header must be a map")
    for label in header:
        if type(label) is not int:  # True == 1 and 1.0 == 1 in Python: only integers are labels here
            raise CoseError(Reason.COSE_HEADER, f"header label {label!r} is not an integer")
        if label == HDR_CRIT:
            raise CoseError(Reason.COSE_HEADER, "crit header parameters are not supported")
        if label not in _PROTECTED_LABELS:
            raise CoseError(Reason.COSE_HEADER, f"unknown protected header label {label!r}")
    return header


def algorithm_from_label(label: Any) -> Algorithm:
    if isinstance(label, bool) or not isinstance(label, int):
        raise CoseError(Reason.COSE_ALG_UNKNOWN, f"alg must be an integer, got {type(label).__name__}")
    try:
        return Algorithm(label)
    except ValueError:
        name = _KNOWN_UNSUPPORTED.get(label)
        detail = f" ({name})" if name else ""
        raise CoseError(Reason.COSE_ALG_UNKNOWN, f"algorithm {label}{detail} is not supported") from None


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def verify_signature(algorithm: Algorithm, public_key: Any, message: bytes, signature: bytes) -> bool:
    """True when `signature` (COSE form) over `message` verifies with `public_key`.

    A key of the wrong type or curve for the algorithm never verifies.
    """
    if len(signature) != algorithm.signature_length:
        return False
    try:
        if algorithm is Algorithm.ES256:
            if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            public_key.verify(der, message, _ECDSA_SHA256)
            return True
        if algorithm is Algorithm.EDDSA:
            if not isinstance(public_key, ed25519.Ed25519PublicKey):
                return False
            public_key.verify(signature, message)
            return True
    except InvalidSignature:
        return False
    return False
