"""Offline verification of a credential against what the verifier trusts (DESIGN.md §6).

:func:`verify_credential` takes QR text (or the COSE bytes from a chip) and returns a
:class:`~crypto.verdict.Verdict` with one result per check. It never raises on bad input
and never returns VALID when a check did not run.
"""

from __future__ import annotations

from cryptography import x509

from crypto import cose, qrtext
from crypto.certs import IssuerCertificate, check_root
from crypto.claims import Claims, decode_claims
from crypto.errors import SscError
from crypto.reasons import Reason
from crypto.trustlist import TrustList, check_not_rollback, load_trust_list
from crypto.verdict import (CREDENTIAL_CHECKS, NOT_CHECKED, PASSED, Check, CheckResult, Status,
                            Verdict)

DEFAULT_LEEWAY = 300  # seconds of clock difference tolerated at both ends of a window

# Looked up once: a str-Enum member is a slow dict key on the hot path.
(_PASS_FORMAT, _PASS_ALGORITHM, _PASS_SIGNER_KNOWN, _PASS_SIGNATURE, _PASS_CLAIMS, _PASS_SIGNER_CERTIFICATE,
 _PASS_VALIDITY, _PASS_REVOCATION) = (PASSED[c] for c in CREDENTIAL_CHECKS)


class TrustStore:
    """What a verifier trusts: the pinned root, the current trust list, and the algorithms
    on its allow-list. Updating refuses rollback; a rejected update leaves it unchanged."""

    def __init__(self, root: x509.Certificate, trust_list: TrustList | None = None, *,
                 allowed_algorithms: frozenset[cose.Algorithm] = cose.DEFAULT_ALLOWED):
        check_root(root)
        self.root = root
        self.allowed_algorithms = frozenset(allowed_algorithms)
        self.trust_list: TrustList | None = None
        self._by_kid: dict[bytes, list[IssuerCertificate]] = {}
        if trust_list is not None:
            self._install(trust_list)

    def _install(self, trust_list: TrustList) -> None:
        self._by_kid = trust_list.issuer_by_kid()
        self.trust_list = trust_list

    def update(self, data: bytes) -> TrustList:
        new = load_trust_list(data, self.root)
        check_not_rollback(new, self.trust_list)
        self._install(new)
        return new

    def issuers_for(self, kid: bytes) -> list[IssuerCertificate]:
        return self._by_kid.get(kid, [])


def _fail(done: list[CheckResult], check: Check, reason: Reason, message: str,
          claims: Claims | None = None, signer: IssuerCertificate | None = None,
          status: Status = Status.FAILED) -> Verdict:
    done.append(CheckResult(check, status, reason, message))
    ran = {c.check for c in done}
    rest = [NOT_CHECKED[c] for c in CREDENTIAL_CHECKS if c not in ran]
    return Verdict.from_checks(tuple(done + rest), claims, signer)


def verify_credential(credential: str | bytes, store: TrustStore, *, now: int,
                      leeway: int = DEFAULT_LEEWAY, revocation_max_age: int | None = None) -> Verdict:
    """Verify QR text (str) or COSE_Sign1 bytes at time `now` (epoch seconds).

    `revocation_max_age`: how old (seconds since issued_at) the trust list's revocation data
    may be; by default it is stale once past its next_update.
    """
    try:
        return _verify(credential, store, now, leeway, revocation_max_age, decode_claims)
    except Exception as exc:  # fail closed: a bug is never a VALID
        return _fail([], Check.FORMAT, Reason.INTERNAL_ERROR, f"verification stopped: {type(exc).__name__}")


def verify_security_object(security_object: bytes, store: TrustStore, *, now: int,
                           leeway: int = DEFAULT_LEEWAY, revocation_max_age: int | None = None) -> Verdict:
    """Verify a chip's security object (crypto.chip) with the same checks as a credential;
    the verdict's `claims` is the :class:`crypto.chip.SecurityObject`. The reader adds the
    chip checks (digests of what it read, active authentication) with `Verdict.with_checks`."""
    from crypto.chip import decode_security_object_payload

    def decode(payload: bytes, issuer_code: str) -> object:
        return decode_security_object_payload(payload, issuer_code)

    if not isinstance(security_object, (bytes, bytearray)):
        return _fail([], Check.FORMAT, Reason.CBOR_MALFORMED, "the security object must be bytes")
    try:
        return _verify(bytes(security_object), store, now, leeway, revocation_max_age, decode)
    except Exception as exc:  # fail closed
        return _fail([], Check.FORMAT, Reason.INTERNAL_ERROR, f"verification stopped: {type(exc).__name__}")


def _verify(credential: str | bytes, store: TrustStore, now: int, leeway: int,
            revocation_max_age: int | None, decode) -> Verdict:
    done: list[CheckResult] = []
    try:
        raw = qrtext.decode_qr_text(credential) if isinstance(credential, str) else credential
        envelope = cose.decode_sign1(raw, max_size=qrtext.MAX_COSE_BYTES)
    except SscError as exc:
        return _fail(done, Check.FORMAT, exc.reason, exc.message)
    done.append(_PASS_FORMAT)

    if envelope.algorithm not in store.allowed_algorithms:
        return _fail(done, Check.ALGORITHM, Reason.ALG_NOT_ALLOWED,
                     f"{envelope.algorithm.name} is not on this verifier's allow-list")
    done.append(_PASS_ALGORITHM)

    if store.trust_list is None:
        return _fail(done, Check.SIGNER_KNOWN, Reason.REVOCATION_MISSING,
                     "this verifier holds no trust list: it knows no issuer and no revocation data",
                     status=Status.INDETERMINATE)
    algorithm = envelope.algorithm
    candidates = [c for c in store.issuers_for(envelope.kid) if c.algorithm is algorithm]
    if not candidates:
        return _fail(done, Check.SIGNER_KNOWN, Reason.KID_UNKNOWN,
                     f"no trusted {envelope.algorithm.name} issuer certificate has kid {envelope.kid.hex()}")
    done.append(_PASS_SIGNER_KNOWN)

    tbs = envelope.to_be_signed()
    signer = None
    for candidate in candidates:  # every trusted key sharing the kid (spec §3)
        if cose.verify_signature(algorithm, candidate.public_key, tbs, envelope.signature):
            signer = candidate
            break
    if signer is None:
        return _fail(done, Check.SIGNATURE, Reason.SIGNATURE_INVALID,
                     "the signature does not verify with any trusted key of that kid")
    done.append(_PASS_SIGNATURE)

    try:
        claims = decode(envelope.payload, issuer_code=signer.issuer_code)
    except SscError as exc:
        return _fail(done, Check.CLAIMS, exc.reason, exc.message, signer=signer)
    done.append(_PASS_CLAIMS)

    iat = claims.iat
    if not signer.not_before <= iat <= signer.not_after:
        return _fail(done, Check.SIGNER_CERTIFICATE, Reason.CERT_NOT_VALID_AT_IAT,
                     "the signer certificate was not valid when the credential was issued", claims, signer)
    if not signer.usage_not_before <= iat <= signer.usage_not_after:
        return _fail(done, Check.SIGNER_CERTIFICATE, Reason.IAT_OUTSIDE_KEY_USAGE,
                     "the credential was signed outside the signing key's private key usage period", claims, signer)
    done.append(_PASS_SIGNER_CERTIFICATE)

    if iat > now + leeway:
        return _fail(done, Check.VALIDITY, Reason.CREDENTIAL_NOT_YET_VALID,
                     "the credential is issued in the future (check this terminal's clock)", claims, signer)
    if now > claims.exp + leeway:
        return _fail(done, Check.VALIDITY, Reason.CREDENTIAL_EXPIRED, "the credential has expired", claims, signer)
    done.append(_PASS_VALIDITY)

    done.append(_revocation(store.trust_list, claims, now, revocation_max_age))
    return Verdict.from_checks(tuple(done), claims, signer)


def _revocation(trust_list: TrustList | None, claims, now: int, max_age: int | None) -> CheckResult:
    if trust_list is None:
        return CheckResult(Check.REVOCATION, Status.INDETERMINATE, Reason.REVOCATION_MISSING,
                           "this verifier holds no revocation data")
    if trust_list.is_revoked(claims.iss, claims.serial):
        return CheckResult(Check.REVOCATION, Status.FAILED, Reason.REVOKED,
                           f"card {claims.card_number} (serial {claims.serial}) is revoked")
    stale = now > trust_list.next_update if max_age is None else now - trust_list.issued_at > max_age
    if stale:
        return CheckResult(Check.REVOCATION, Status.INDETERMINATE, Reason.REVOCATION_STALE,
                           f"the revocation data is {trust_list.age(now) // 3600} h old, older than allowed")
    return _PASS_REVOCATION
