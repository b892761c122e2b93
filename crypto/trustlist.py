"""The trust list (docs/spec.md §6): a signed, versioned bundle of issuer signing
certificates plus revocation data, ``issued_at`` and ``next_update``.

It is a COSE_Sign1 signed by the trust-list signer, whose certificate travels in the
unprotected ``x5chain`` header (RFC 9360) so that a terminal holding only the pinned root
can check it. Terminals refuse a version older than the one they hold (no rollback).

Revocation entries come in two formats (§6.2): 1, a plain serial list, and 2, a
Golomb–Rice coded set over the issuer's serial universe (§11, :mod:`crypto.revocation`),
which signed deltas (:mod:`crypto.revocation_delta`) bring up to date between full lists.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from crypto import cbor, cose
from crypto.certs import EKU_TRUST_LIST_SIGNING, IssuerCertificate, check_chained, check_root, load_der
from crypto.errors import CertificateError, CoseError, CborError, TrustListError
from crypto.keys import Signer, kid_for_certificate
from crypto.reasons import Reason
from crypto.revocation import RevocationSet

MAX_TRUST_LIST_BYTES = 16 * 1024 * 1024
# Payload keys (spec §6.1).
T_VERSION, T_ISSUED_AT, T_NEXT_UPDATE, T_ISSUERS, T_REVOCATION = 1, 2, 3, 4, 5
# Revocation entry keys and formats (spec §6.2).
R_ISSUER, R_FORMAT, R_DATA = 1, 2, 3
REVOCATION_SERIAL_LIST = 1
REVOCATION_GOLOMB_RICE = 2  # spec §11
REVOCATION_FORMATS = (REVOCATION_SERIAL_LIST, REVOCATION_GOLOMB_RICE)

# What an issuing centre's revocation entry holds once loaded: format 1 gives a frozenset,
# format 2 a RevocationSet. Both answer `serial in entry`, len() and iteration.
RevokedSerials = frozenset[int] | RevocationSet


@dataclass(frozen=True, slots=True)
class TrustList:
    version: int
    issued_at: int
    next_update: int
    issuers: tuple[IssuerCertificate, ...]
    revoked: dict[str, RevokedSerials] = field(default_factory=dict)
    encoded: bytes = b""       # the signed full list this state starts from
    deltas: tuple[bytes, ...] = ()  # the signed revocation deltas applied to it since, in order (§11.4)

    def issuer_by_kid(self) -> dict[bytes, list[IssuerCertificate]]:
        table: dict[bytes, list[IssuerCertificate]] = {}
        for issuer in self.issuers:
            table.setdefault(issuer.kid, []).append(issuer)
        return table

    def is_revoked(self, issuer_code: str, serial: int) -> bool:
        return serial in self.revoked.get(issuer_code, ())

    def age(self, now: int) -> int:
        return now - self.issued_at

    def issuers_digest(self) -> bytes:
        """SHA-256 over the issuers array as the payload encodes it (§11.4): a delta names
        the issuer certificates it was made for."""
        return issuers_digest(issuer.der for issuer in self.issuers)

    def revocation_state(self, issuer_code: str) -> RevokedSerials:
        """The revocation data of one centre; an absent entry is the empty set over the
        empty universe (§11.3)."""
        entry = self.revoked.get(issuer_code)
        return RevocationSet.empty() if entry is None else entry


def issuers_digest(ders: Iterable[bytes]) -> bytes:
    return hashlib.sha256(cbor.dumps(list(ders))).digest()


def build_trust_list(*, version: int, issued_at: int, next_update: int,
                     issuer_certificates: Iterable[x509.Certificate],
                     revoked: dict[str, Iterable[int] | RevocationSet] | None = None, signer: Signer,
                     revocation_format: int = REVOCATION_SERIAL_LIST,
                     universes: dict[str, tuple[int, int]] | None = None) -> bytes:
    """Sign a trust list. `revoked` maps an issuer code to its revoked card serials.

    The entries are format 1 (serial lists) unless `revocation_format` is 2 (§11); a
    :class:`RevocationSet` value is always format 2. For format 2 from plain serials,
    `universes` gives each centre's (base, size); by default [0, highest serial + 1).
    """
    if next_update <= issued_at:
        raise TrustListError(Reason.TL_MALFORMED, "next_update must be after issued_at")
    if revocation_format not in REVOCATION_FORMATS:
        raise TrustListError(Reason.TL_MALFORMED, f"unknown revocation format {revocation_format!r}")
    revocation = [_revocation_entry(code, serials, revocation_format, (universes or {}).get(code))
                  for code, serials in sorted((revoked or {}).items())]
    payload = cbor.dumps({
        T_VERSION: version, T_ISSUED_AT: issued_at, T_NEXT_UPDATE: next_update,
        T_ISSUERS: [c.public_bytes(serialization.Encoding.DER) for c in issuer_certificates],
        T_REVOCATION: revocation,
    })
    x5chain = signer.certificate.public_bytes(serialization.Encoding.DER)
    return cose.sign1(payload, signer, unprotected={cose.HDR_X5CHAIN: x5chain})


def _revocation_entry(code: str, serials: Iterable[int] | RevocationSet, fmt: int,
                      universe: tuple[int, int] | None) -> dict:
    if isinstance(serials, RevocationSet):
        return {R_ISSUER: code, R_FORMAT: REVOCATION_GOLOMB_RICE, R_DATA: serials.encode()}
    if fmt == REVOCATION_SERIAL_LIST:
        return {R_ISSUER: code, R_FORMAT: REVOCATION_SERIAL_LIST, R_DATA: sorted(set(serials))}
    base, size = universe if universe is not None else (0, None)
    coded = RevocationSet.from_serials(serials, base=base, size=size)
    return {R_ISSUER: code, R_FORMAT: REVOCATION_GOLOMB_RICE, R_DATA: coded.encode()}


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


def open_signed(data: bytes, root: x509.Certificate, what: str = "trust list") -> tuple[bytes, x509.Certificate]:
    """§6.5 steps 1-4 for anything the trust-list signer signs (trust lists, revocation
    deltas): the payload bytes and the signer certificate, once the signature verifies.
    Raises CborError/CoseError/CertificateError/TrustListError; callers map them."""
    check_root(root)
    envelope = cose.decode_sign1(data, max_size=MAX_TRUST_LIST_BYTES)
    chain = envelope.unprotected.get(cose.HDR_X5CHAIN)
    if type(chain) is not bytes:
        raise TrustListError(Reason.TL_SIGNER, f"the {what} does not carry its signer certificate (x5chain)")
    signer_cert = load_der(chain)
    try:
        check_chained(signer_cert, root, EKU_TRUST_LIST_SIGNING)
    except CertificateError as exc:
        raise TrustListError(Reason.TL_SIGNER, f"the {what} signer is not trusted: {exc.message}") from None
    if kid_for_certificate(signer_cert) != envelope.kid:
        raise TrustListError(Reason.TL_SIGNER, f"the kid does not match the {what} signer certificate")
    if not cose.verify_signature(envelope.algorithm, signer_cert.public_key(), envelope.to_be_signed(),
                                 envelope.signature):
        raise TrustListError(Reason.TL_SIGNATURE, f"the {what} signature does not verify")
    return envelope.payload, signer_cert


def check_signed_at(signer_cert: x509.Certificate, issued_at: int, what: str = "trust list") -> None:
    """§6.5 step 6: issued_at lies within the signer certificate's validity."""
    nb, na = signer_cert.not_valid_before_utc.timestamp(), signer_cert.not_valid_after_utc.timestamp()
    if not nb <= issued_at <= na:
        raise TrustListError(Reason.TL_SIGNER, f"the {what} signer certificate was not valid at issued_at")


def _load(data: bytes, root: x509.Certificate) -> TrustList:
    payload, signer_cert = open_signed(data, root)
    body = cbor.loads(payload, max_size=MAX_TRUST_LIST_BYTES, what="trust list")
    if not cbor.int_keys(body) or set(body) != {T_VERSION, T_ISSUED_AT, T_NEXT_UPDATE, T_ISSUERS, T_REVOCATION}:
        raise TrustListError(Reason.TL_MALFORMED, "the trust list payload must be a map with keys 1-5")
    version, issued_at, next_update = body[T_VERSION], body[T_ISSUED_AT], body[T_NEXT_UPDATE]
    if not all(type(v) is int and v >= 0 for v in (version, issued_at, next_update)) or next_update <= issued_at:
        raise TrustListError(Reason.TL_MALFORMED, "version, issued_at and next_update must be integers, "
                                                  "next_update after issued_at")
    check_signed_at(signer_cert, issued_at)
    issuers = body[T_ISSUERS]
    if type(issuers) is not list or not all(type(d) is bytes for d in issuers):
        raise TrustListError(Reason.TL_MALFORMED, "issuers must be an array of DER certificates")
    certs = tuple(IssuerCertificate.from_der(der, root) for der in issuers)
    return TrustList(version, issued_at, next_update, certs, _revocation(body[T_REVOCATION]), bytes(data))


def _revocation(entries: object) -> dict[str, RevokedSerials]:
    if type(entries) is not list:
        raise TrustListError(Reason.TL_MALFORMED, "revocation must be an array")
    revoked: dict[str, RevokedSerials] = {}
    for entry in entries:
        if not cbor.int_keys(entry) or set(entry) != {R_ISSUER, R_FORMAT, R_DATA} \
                or not isinstance(entry[R_ISSUER], str):
            raise TrustListError(Reason.TL_MALFORMED, "a revocation entry must be {1: issuer, 2: format, 3: data}")
        fmt = entry[R_FORMAT]
        if type(fmt) is not int or fmt not in REVOCATION_FORMATS:
            raise TrustListError(Reason.TL_MALFORMED, f"unknown revocation format {fmt!r}")
        if entry[R_ISSUER] in revoked:
            raise TrustListError(Reason.TL_MALFORMED, f"issuer {entry[R_ISSUER]} has two revocation entries")
        if fmt == REVOCATION_GOLOMB_RICE:
            revoked[entry[R_ISSUER]] = RevocationSet.decode(entry[R_DATA])  # §11.1: TL_REVOCATION_MALFORMED
            continue
        serials = entry[R_DATA]
        if type(serials) is not list or not all(type(s) is int and s >= 0 for s in serials):
            raise TrustListError(Reason.TL_MALFORMED, "revoked serials must be non-negative integers")
        revoked[entry[R_ISSUER]] = frozenset(serials)
    return revoked


def check_not_rollback(new: TrustList, held: TrustList | None) -> None:
    """Refuse a trust list older than the one held, or a different one with the same version.

    Two full lists of one version must be the same bytes; a list brought to that version by
    deltas (§11.4) must have the same content as the full list of that version."""
    if held is None:
        return
    if new.version < held.version:
        raise TrustListError(Reason.TL_ROLLBACK,
                             f"trust list version {new.version} is older than the version {held.version} held")
    if new.version == held.version and (new.encoded, new.deltas) != (held.encoded, held.deltas) \
            and not ((new.deltas or held.deltas) and same_content(new, held)):
        raise TrustListError(Reason.TL_ROLLBACK,
                             f"a different trust list with the same version {new.version} was refused")


def same_content(a: TrustList, b: TrustList) -> bool:
    """Whether two trust lists say the same (§11.4): a full list and the list a terminal
    brought to the same version with deltas have different bytes but the same content."""
    if (a.version, a.issued_at, a.next_update, a.issuers_digest()) != \
            (b.version, b.issued_at, b.next_update, b.issuers_digest()):
        return False
    for code in set(a.revoked) | set(b.revoked):
        x, y = a.revocation_state(code), b.revocation_state(code)
        if type(x) is not type(y) or x != y:
            return False
    return True
