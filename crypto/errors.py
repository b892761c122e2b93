"""Typed errors of the trust core.

Every error carries a stable reason code (:class:`crypto.reasons.Reason`) and a sentence a
person can act on. Parsers raise these and nothing else: a caller that catches
:class:`SscError` has caught every way the input can be wrong.
"""

from __future__ import annotations

from crypto.reasons import Reason


class SscError(Exception):
    """Base of every error the trust core raises on bad input or bad keys."""

    def __init__(self, reason: Reason, message: str):
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


class QrTextError(SscError):
    """The QR text is not an SSC1 text (prefix, alphabet, length)."""


class Base45Error(QrTextError):
    """The base45 part of the QR text is not valid RFC 9285 base45."""


class CborError(SscError):
    """The bytes are not well-formed, deterministically encoded CBOR."""


class CoseError(SscError):
    """The COSE_Sign1 structure or its headers are not acceptable."""


class ClaimsError(SscError):
    """The CBOR claim set does not have the shape the spec requires."""


class SecurityObjectError(ClaimsError):
    """The payload of a chip's security object does not have the shape spec §10.2 gives."""


class SchemaError(SscError):
    """A credential field has a value the schema does not allow."""

    def __init__(self, reason: Reason, message: str, errors: list[dict] | None = None):
        super().__init__(reason, message)
        self.errors = errors or []


class CertificateError(SscError):
    """A certificate is malformed, not chained to the root, or not fit for its use."""


class TrustListError(SscError):
    """A trust list is malformed, wrongly signed, or older than the one held."""


class RevocationError(TrustListError):
    """Revocation data (spec §11) is malformed, or a delta does not follow the data held."""


class SignerError(SscError):
    """A signing key could not be loaded or used."""


class KeyFileError(SignerError):
    """A key file is missing, unreadable, or its passphrase is wrong."""
