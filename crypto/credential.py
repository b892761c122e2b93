"""Signing credentials: the safe recipe on top of claims + COSE."""

from __future__ import annotations

from crypto import cose, qrtext
from crypto.claims import Profile, encode_claims
from crypto.errors import SignerError
from crypto.keys import Signer
from crypto.reasons import Reason
from crypto.schema import Credential


def sign_credential(credential: Credential, signer: Signer, *, iat: int, profile: Profile = Profile.QR,
                    exp: int | None = None, cti: bytes | None = None) -> bytes:
    """The COSE_Sign1 bytes of `credential` in `profile`, signed at `iat` (epoch seconds)."""
    issuer_code = _issuer_code(signer)
    if issuer_code is not None and issuer_code != credential.card.issuing_centre:
        raise SignerError(Reason.KEY_TYPE, f"this key signs for issuing centre {issuer_code}, "
                                           f"the card is from {credential.card.issuing_centre}")
    payload = encode_claims(credential, profile=profile, iat=iat, exp=exp, cti=cti)
    return cose.sign1(payload, signer)


def qr_text_for(credential: Credential, signer: Signer, *, iat: int) -> str:
    """The text to put in the card's QR code."""
    return qrtext.encode_qr_text(sign_credential(credential, signer, iat=iat, profile=Profile.QR))


def _issuer_code(signer: Signer) -> str | None:
    from cryptography.x509.oid import NameOID

    attrs = signer.certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(attrs[0].value) if attrs else None
