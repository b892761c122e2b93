"""The e-card's device key (docs/spec.md §12.2): the holder's phone P-256 public key as the
e-card credential carries it, a 33-byte SEC1 compressed point (``02``/``03`` and x)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from crypto.errors import ClaimsError
from crypto.reasons import Reason

DEVICE_KEY_LENGTH = 33


def load_device_key(data: Any) -> ec.EllipticCurvePublicKey:
    """The phone's public key from its compressed encoding; a ClaimsError says what is wrong."""
    if type(data) is not bytes:
        raise ClaimsError(Reason.CLAIMS_TYPE, "the device key must be a byte string")
    if len(data) != DEVICE_KEY_LENGTH or data[0] not in (2, 3):
        raise ClaimsError(Reason.CLAIMS_VALUE, "the device key must be a 33-byte compressed P-256 point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError:
        raise ClaimsError(Reason.CLAIMS_VALUE, "the device key is not a point on P-256") from None
