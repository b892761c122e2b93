"""The trust list (docs/spec.md §6): a signed, versioned bundle of issuer signing
certificates plus revocation data, ``issued_at`` and ``next_update``.

It is a COSE_Sign1 signed by the trust-list signer, whose certificate travels in the
unprotected ``x5chain`` header (RFC 9360) so that a terminal holding only the pinned root
can check it. Terminals refuse a version older than the one they hold (no rollback).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from crypto import cbor, cose
from crypto.certs import EKU_TRUST_LIST_SIGNING, IssuerCertificate, check_chained, check_root, load_der
from crypto.errors import CertificateError, CoseError, CborError, TrustListError
from crypto.keys import Signer, kid_for_certificate
from crypto.reasons import Reason

MAX_TRUST_LIST_BYTES = 16 * 1024 * 1024
# Payload keys (spec §6.1).
T_VERSION, T_ISSUED_AT, T_NEXT_UPDATE, T_ISSUERS, T_REVOCATION = 1, 2, 3, 4, 5
# Revocation entry keys and formats (spec §6.2).
R_ISSUER, R_FORMAT, R_DATA = 1, 2, 3
REVOCATION_SERIAL_LIST = 1


@dataclass(frozen=True, slots=True)
class TrustList:
    version: int
    issued_at: int
    next_update: int
    issuers: tuple[IssuerCertificate, ...]
    revoked: dict[str, frozenset[int]] = field(default_factory=dict)
    encoded: bytes = b""

    def issuer_by_kid(self) -> dict[bytes, list[IssuerCertificate]]:
        table: dict[bytes, list[IssuerCertificate]] = {}
        for issuer in self.issuers:
            table.setdefault(issuer.kid, []).append(issuer)
        return table

    def is_revoked(self, issuer_code: str, serial: int) -> bool:
        return serial in self.revoked.get(issuer_code, ())

    def age(self, now: int) -> int:
        return now - self.issued_at


def build_trust_list(*, version: int, issued_at: int, next_update: int,
                     issuer_certificates: Iterable[x509.Certificate],
                     revoked: dict[str, Iterable[int]] | None = None, signer: Signer) -> bytes:
    """Sign a trust list. `revoked` maps an issuer code to its revoked card serials."""
    if next_update <= issued_at:
        raise TrustListError(Reason.TL_MALFORMED, "next_update must be after issued_at")
    revocation = [{R_ISSUER: code, R_FORMAT: REVOCATION_SERIAL_LIST, R_DATA: sorted(set(serials))}
                  for code, serials in sorted((revoked or {}).items())]
    payload = cbor.dumps({
        T_VERSION: version, T_ISSUED_AT: issued_at, T_NEXT_UPDATE: next_update,
        T_ISSUERS: [c.public_bytes(serialization.Encoding.DER) for c in issuer_certificates],
        T_REVOCATION: revocation,
    })
    x5chain = signer.certificate.public_bytes(serialization.Encoding.DER)
    return cose.sign1(payload, signer, unprotected={cose.HDR_X5CHAIN: x5chain})


def load_trust_list(data: bytes, root: x509.Certificate) -> TrustList:
    """Check a trust list against the pinned root and decode it.

    Every issuer certificate in it must chain to the root; one bad entry rejects the list
    (the terminal keeps the last good one).
    """
    try:
        return _load(data, root)
    except (CborError, CoseError, CertificateError) as exc:
        raise TrustListError(exc.reason if exc.reason.value.startswith("TL_") else Reason.TL_MALFORMED,
                             f"trust list rejected: {exc.message}") from None


def _load(data: bytes, root: x509.Certificate) -> TrustList:
    check_root(root)
    envelope = cose.decode_sign1(data, max_size=MAX_TRUST_LIST_BYTES)
    chain = envelope.unprotected.get(cose.HDR_X5CHAIN)
    if not isinstance(chain, bytes):
        raise TrustListError(Reason.TL_SIGNER, "the trust list does not carry its signer certificate (x5chain)")
    signer_cert = load_der(chain)
    try:
        check_chained(signer_cert, root, EKU_TRUST_LIST_SIGNING)
    except CertificateError as exc:
        raise TrustListError(Reason.TL_SIGNER, f"the trust list signer is not trusted: {exc.message}") from None
    if kid_for_certificate(signer_cert) != envelope.kid:
        raise TrustListError(Reason.TL_SIGNER, "the kid does not match the trust list signer certificate")
    if not cose.verify_signature(envelope.algorithm, signer_cert.public_key(), envelope.to_be_signed(),
                                 envelope.signature):
        raise TrustListError(Reason.TL_SIGNATURE, "the trust list signature does not verify")
    body = cbor.loads(envelope.payload, max_size=MAX_TRUST_LIST_BYTES, what="trust list")
    if not isinstance(body, dict) or set(body) != {T_VERSION, T_ISSUED_AT, T_NEXT_UPDATE, T_ISSUERS, T_REVOCATION}:
        raise TrustListError(Reason.TL_MALFORMED, "the trust list payload must be a map with keys 1-5")
    version, issued_at, next_update = body[T_VERSION], body[T_ISSUED_AT], body[T_NEXT_UPDATE]
    if not all(type(v) is int and v >= 0 for v in (version, issued_at, next_update)) or next_update <= issued_at:
        raise TrustListError(Reason.TL_MALFORMED, "version, issued_at and next_update must be integers, "
                                                  "next_update after issued_at")
    nb, na = signer_cert.not_valid_before_utc.timestamp(), signer_cert.not_valid_after_utc.timestamp()
    if not nb <= issued_at <= na:
        raise TrustListError(Reason.TL_SIGNER, "the trust list signer certificate was not valid at issued_at")
    issuers = body[T_ISSUERS]
    if not isinstance(issuers, list) or not all(isinstance(d, bytes) for d in issuers):
        raise TrustListError(Reason.TL_MALFORMED, "issuers must be an array of DER certificates")
    certs = tuple(IssuerCertificate.from_der(der, root) for der in issuers)
    return TrustList(version, issued_at, next_update, certs, _revocation(body[T_REVOCATION]), bytes(data))


def _revocation(entries: object) -> dict[str, frozenset[int]]:
    if not isinstance(entries, list):
        raise TrustListError(Reason.TL_MALFORMED, "revocation must be an array")
    revoked: dict[str, frozenset[int]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {R_ISSUER, R_FORMAT, R_DATA} \
                or not isinstance(entry[R_ISSUER], str):
            raise TrustListError(Reason.TL_MALFORMED, "a revocation entry must be {1: issuer, 2: format, 3: data}")
        if entry[R_FORMAT] != REVOCATION_SERIAL_LIST:
            raise TrustListError(Reason.TL_MALFORMED, f"unknown revocation format {entry[R_FORMAT]!r}")
        serials = entry[R_DATA]
        if not isinstance(serials, list) or not all(type(s) is int and s >= 0 for s in serials):
            raise TrustListError(Reason.TL_MALFORMED, "revoked serials must be non-negative integers")
        if entry[R_ISSUER] in revoked:
            raise TrustListError(Reason.TL_MALFORMED, f"issuer {entry[R_ISSUER]} has two revocation entries")
        revoked[entry[R_ISSUER]] = frozenset(serials)
    return revoked


def check_not_rollback(new: TrustList, held: TrustList | None) -> None:
    """Refuse a trust list older than the one held, or a different one with the same version."""
    if held is None:
        return
    if new.version < held.version:
        raise TrustListError(Reason.TL_ROLLBACK,
                             f"trust list version {new.version} is older than the version {held.version} held")
    if new.version == held.version and new.encoded != held.encoded:
        raise TrustListError(Reason.TL_ROLLBACK,
                             f"a different trust list with the same version {new.version} was refused")
