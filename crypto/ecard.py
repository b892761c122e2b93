"""The electronic card (e-card) presentation (docs/spec.md §12): the issuer-signed e-card
credential, which binds the holder's phone key, plus the phone's signature over the time,
a nonce, the purpose and (in challenge mode) the terminal's challenge.

The idea is ISO/IEC 18013-5's device authentication, shrunk to a phone-screen QR code: the
issuer signs the phone's public key into the credential (as the mdoc MSO's deviceKey, or
RFC 8747's ``cnf``), and every presentation carries a fresh signature by the phone over
data the verifier checks, so a screenshot or a copied credential is refused. The phone's
signature is the signature of a COSE_Sign1 (RFC 9052 §4.4) with the fixed protected header
``{1: -7}``, the device claims as payload and the e-card credential as external_aad; the
QR carries only its payload and signature.

This module is the format and the holder's side (signing); verification is in
:mod:`crypto.ecard_verify`.
"""

from __future__ import annotations

import enum
import hashlib
import os
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import base45, cbor, cose, qrtext
from crypto.claims import Profile, encode_claims
from crypto.device_key import load_device_key
from crypto.credential import _issuer_code
from crypto.errors import SignerError, SscError
from crypto.keys import Signer, raw_signature
from crypto.reasons import Reason
from crypto.schema import CardKind, Credential

PREFIX = "SSC1E:"            # sscard e-card presentation, format 1, no compression
CHALLENGE_PREFIX = "SSC1C:"  # a terminal's challenge (spec §12.5)
MAX_PRESENTATION_BYTES = (qrtext.MAX_TEXT_LENGTH - len(PREFIX)) // 3 * 2
MAX_DEVICE_CLAIMS_BYTES = 96
NONCE_LENGTH, NONCE_RANGE = 4, (4, 16)
CHALLENGE_LENGTH, CHALLENGE_RANGE = 5, (5, 32)
# The phone signs ES256 only: the protected header of its COSE_Sign1, fixed, not transmitted.
DEVICE_PROTECTED = b"\xa1\x01\x26"  # {1: -7}
ACTIVATION_AAD = b"sscard e-card activation v1"
# Device claims keys (spec §12.3).
D_TIME, D_NONCE, D_PURPOSE, D_CHALLENGE = 1, 2, 3, 4
_DEVICE_KEYS = frozenset({D_TIME, D_NONCE, D_PURPOSE, D_CHALLENGE})
# Crockford's base32 (no I, L, O, U): challenges and activation codes that people type.
BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE32_READ = {c: i for i, c in enumerate(BASE32)} | {"I": 1, "L": 1, "O": 0}


class PresentationError(SscError):
    """The e-card presentation or a challenge is not in the format of spec §12."""


class Purpose(enum.IntEnum):
    """What the holder showed the e-card for (spec §12.3); a terminal accepts its own."""

    ANY = 0      # any counter
    MEDICAL = 1  # pharmacy, hospital: medical insurance
    PERMIT = 2   # bureau, labour inspection: the work permit


@dataclass(frozen=True, slots=True)
class DeviceClaims:
    time: int                    # epoch seconds, the phone's clock
    nonce: bytes
    purpose: Purpose = Purpose.ANY
    challenge: bytes | None = None

    def encode(self) -> bytes:
        m = {D_TIME: self.time, D_NONCE: self.nonce, D_PURPOSE: int(self.purpose)}
        if self.challenge is not None:
            m[D_CHALLENGE] = self.challenge
        return cbor.dumps(m)


@dataclass(frozen=True, slots=True)
class Presentation:
    credential: bytes  # the e-card credential: a tagged COSE_Sign1 by the issuer
    device: bytes      # the device claims, as the phone encoded and signed them
    signature: bytes   # ES256 r||s by the phone key
    claims: DeviceClaims

    def to_be_signed(self) -> bytes:
        return device_to_be_signed(self.credential, self.device)

    def replay_key(self) -> bytes:
        """What a verifier remembers to refuse this presentation a second time: a digest
        of what the phone signed (not of the signature, which anyone can re-randomise)."""
        digest = hashlib.sha256(b"sscard presentation v1\x00" + cbor.encode_bstr(self.credential)
                                + cbor.encode_bstr(self.device))
        return digest.digest()[:16]

    def to_cbor(self) -> bytes:
        return cbor.dumps([self.credential, self.device, self.signature])

    def to_text(self) -> str:
        return encode_presentation(self)


def device_to_be_signed(credential: bytes, device: bytes) -> bytes:
    """RFC 9052 §4.4 Sig_structure ["Signature1", h'a10126', external_aad, payload] with the
    e-card credential as external_aad and the device claims as payload."""
    return (b"\x84\x6aSignature1" + cbor.encode_bstr(DEVICE_PROTECTED) + cbor.encode_bstr(credential)
            + cbor.encode_bstr(device))


def activation_to_be_signed(code: str, device_key: bytes) -> bytes:
    """What the phone signs to prove it holds the key it registers (spec §12.6): a
    Sig_structure like the presentation's, with a fixed external_aad and the SHA-256 of the
    normalised activation code followed by the compressed key as payload."""
    payload = hashlib.sha256(normalise_code(code).encode()).digest() + device_key
    return (b"\x84\x6aSignature1" + cbor.encode_bstr(DEVICE_PROTECTED) + cbor.encode_bstr(ACTIVATION_AAD)
            + cbor.encode_bstr(payload))


# ---------------------------------------------------------------- keys and credential

def compress_device_key(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The 33-byte SEC1 compressed point the e-card credential carries."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        raise SignerError(Reason.KEY_TYPE, "an e-card device key is a P-256 key")
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)


def sign_ecard_credential(credential: Credential, signer: Signer, *, device_key: bytes, iat: int,
                          exp: int | None = None) -> bytes:
    """The issuer's COSE_Sign1 over the e-card claim set (spec §12.2). `credential` is the
    card's record with kind electronic and the e-card's own serial; `device_key` the phone's
    compressed public key; `exp` defaults to the end of the card's expiry day."""
    issuer_code = _issuer_code(signer)
    if issuer_code is not None and issuer_code != credential.card.issuing_centre:
        raise SignerError(Reason.KEY_TYPE, f"this key signs for issuing centre {issuer_code}, "
                                           f"the card is from {credential.card.issuing_centre}")
    if credential.card.kind is not CardKind.ELECTRONIC:
        credential = credential.model_copy(update={"card": credential.card.model_copy(
            update={"kind": CardKind.ELECTRONIC})})
    payload = encode_claims(credential, profile=Profile.ECARD, iat=iat, exp=exp, device_key=device_key)
    return cose.sign1(payload, signer)


# ---------------------------------------------------------------- presenting (the phone)

def present(credential: bytes, device_key: ec.EllipticCurvePrivateKey, *, now: int,
            purpose: Purpose = Purpose.ANY, challenge: bytes | None = None, nonce: bytes | None = None) -> str:
    """A fresh presentation of `credential` as QR text, signed by the phone's key."""
    claims = DeviceClaims(int(now), nonce if nonce is not None else os.urandom(NONCE_LENGTH), Purpose(purpose),
                          challenge)
    device = claims.encode()
    signature = raw_signature(device_key, device_to_be_signed(credential, device))
    return encode_presentation(Presentation(credential, device, signature, claims))


def encode_presentation(p: Presentation) -> str:
    return PREFIX + base45.encode(p.to_cbor())


def is_presentation(text: object) -> bool:
    """Whether a scanned text claims to be an e-card presentation (in any letter case)."""
    return isinstance(text, str) and text[:len(PREFIX)].upper() == PREFIX


def decode_presentation(text: str) -> Presentation:
    """Parse the QR text of a presentation (spec §12.4); signatures are not checked here."""
    raw = qrtext.decode_qr_text(text, PREFIX)
    obj = cbor.loads(raw, max_size=MAX_PRESENTATION_BYTES, what="e-card presentation")
    if type(obj) is not list or len(obj) != 3:
        raise PresentationError(Reason.ECARD_FORMAT, "an e-card presentation is an array of 3 items: "
                                                     "credential, device claims, signature")
    credential, device, signature = obj
    if not all(type(item) is bytes for item in obj):
        raise PresentationError(Reason.ECARD_FORMAT, "the items of an e-card presentation are byte strings")
    if len(signature) != 64:
        raise PresentationError(Reason.ECARD_FORMAT, f"the phone's signature is {len(signature)} bytes, not 64")
    return Presentation(credential, device, signature, decode_device_claims(device))


def decode_device_claims(device: bytes) -> DeviceClaims:
    m = cbor.loads(device, max_size=MAX_DEVICE_CLAIMS_BYTES, what="device claims")
    if type(m) is not dict or not all(type(k) is int for k in m) or not m.keys() <= _DEVICE_KEYS:
        raise PresentationError(Reason.ECARD_FORMAT, "the device claims are a map with the keys 1-4 only")
    t, nonce, purpose, challenge = (m.get(k) for k in (D_TIME, D_NONCE, D_PURPOSE, D_CHALLENGE))
    if type(t) is not int or t < 0:
        raise PresentationError(Reason.ECARD_FORMAT, "the device claims need the time (1) as epoch seconds")
    if type(nonce) is not bytes or not NONCE_RANGE[0] <= len(nonce) <= NONCE_RANGE[1]:
        raise PresentationError(Reason.ECARD_FORMAT, f"the nonce (2) is {NONCE_RANGE[0]}-{NONCE_RANGE[1]} bytes")
    if type(purpose) is not int or purpose not in Purpose._value2member_map_:
        raise PresentationError(Reason.ECARD_FORMAT, "the purpose (3) is 0 any, 1 medical or 2 permit")
    if D_CHALLENGE in m and (type(challenge) is not bytes
                             or not CHALLENGE_RANGE[0] <= len(challenge) <= CHALLENGE_RANGE[1]):
        raise PresentationError(Reason.ECARD_FORMAT,
                                f"the challenge (4) is {CHALLENGE_RANGE[0]}-{CHALLENGE_RANGE[1]} bytes")
    return DeviceClaims(t, nonce, Purpose(purpose), challenge)


# ---------------------------------------------------------------- challenges and codes

def base32_encode(data: bytes) -> str:
    bits = len(data) * 8
    value = int.from_bytes(data, "big") << (-bits % 5)
    chars = (bits + 4) // 5
    return "".join(BASE32[(value >> (5 * (chars - 1 - i))) & 31] for i in range(chars))


def base32_decode(text: str, length: int) -> bytes:
    chars = [c for c in text.upper() if c not in "- "]
    if len(chars) != (length * 8 + 4) // 5 or not all(c in _BASE32_READ for c in chars):
        raise PresentationError(Reason.ECARD_FORMAT, f"expected {(length * 8 + 4) // 5} characters of "
                                                     f"0-9 and A-Z (without I, L, O, U)")
    value = 0
    for c in chars:
        value = value << 5 | _BASE32_READ[c]
    value >>= -(length * 8) % 5
    return value.to_bytes(length, "big")


def new_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_LENGTH)


def challenge_code(challenge: bytes) -> str:
    """The short code a person can type: 8 characters in two groups, e.g. ``7K2M-Q9XD``."""
    code = base32_encode(challenge)
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def challenge_text(challenge: bytes) -> str:
    """What the terminal's challenge QR code holds: ``SSC1C:`` and the short code."""
    return CHALLENGE_PREFIX + challenge_code(challenge)


def parse_challenge(text: str) -> bytes:
    """A challenge from the scanned QR text or the typed short code (any case, dashes optional)."""
    text = text.strip()
    if text[:len(CHALLENGE_PREFIX)].upper() == CHALLENGE_PREFIX:
        text = text[len(CHALLENGE_PREFIX):]
    return base32_decode(text, CHALLENGE_LENGTH)


def normalise_code(code: str) -> str:
    """An activation code as typed (any case, dashes and spaces) in its canonical form."""
    return "".join(c for c in code.upper() if c not in "- ").translate(str.maketrans("ILO", "110"))


__all__ = ["CHALLENGE_PREFIX", "DeviceClaims", "PREFIX", "Presentation", "PresentationError", "Purpose",
           "activation_to_be_signed", "challenge_code", "challenge_text", "compress_device_key", "decode_presentation",
           "device_to_be_signed", "is_presentation", "load_device_key", "new_challenge", "parse_challenge", "present",
           "sign_ecard_credential"]
