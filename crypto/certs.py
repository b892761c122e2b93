"""The key and certificate hierarchy (DESIGN.md §4, docs/spec.md §6).

    Root CA (offline) ──> issuer signing certificate (one per issuance centre)
                     └──> trust-list signer certificate

Issuer signing certificates carry the issuing centre's code in the subject
(``serialNumber``), the sscard credential-signing extended key usage, and a private key
usage period (RFC 5280 §4.2.1.4 / X.509 PrivateKeyUsagePeriod) shorter than the
certificate's validity: the key signs for a short time, the certificate stays valid for the
life of the cards it signed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from crypto.cose import Algorithm
from crypto.errors import CertificateError, SignerError
from crypto.keys import PrivateKey, PublicKey, algorithm_for_public_key, kid_for_certificate
from crypto.reasons import Reason

# The project's own OID arc, a UUID-derived OID (ITU-T X.667, arc 2.25).
SSCARD_ARC = "2.25.149083073953012611593109084369723275348"
EKU_CREDENTIAL_SIGNING = x509.ObjectIdentifier(SSCARD_ARC + ".1.1")
EKU_TRUST_LIST_SIGNING = x509.ObjectIdentifier(SSCARD_ARC + ".1.2")

ISSUER_CODE_MAX = 16
UTC = dt.timezone.utc


def _utc(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return when.astimezone(UTC).replace(microsecond=0)


def _hash_for(key: PrivateKey) -> hashes.HashAlgorithm | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _name(common_name: str, serial_number: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sscard"),
             x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if serial_number:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number))
    return x509.Name(attrs)


def make_root_ca(key: PrivateKey, *, now: dt.datetime, years: int = 25,
                 common_name: str = "sscard Root CA") -> x509.Certificate:
    now = _utc(now)
    name = _name(common_name)
    public = key.public_key()
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, _hash_for(key)))


def _leaf_builder(root_key: PrivateKey, root: x509.Certificate, public_key: PublicKey,
                  subject: x509.Name, not_before: dt.datetime, not_after: dt.datetime,
                  eku: x509.ObjectIdentifier) -> x509.CertificateBuilder:
    if not_after > root.not_valid_after_utc:
        raise CertificateError(Reason.CERT_NOT_VALID_AT_IAT, "a certificate cannot outlive the root CA")
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(root.subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.public_key()), critical=False))


def make_issuer_certificate(root_key: PrivateKey, root: x509.Certificate, public_key: PublicKey, *,
                            issuer_code: str, now: dt.datetime, signing_days: int = 365,
                            certificate_years: int = 12) -> x509.Certificate:
    """An issuer signing certificate: the key may sign for `signing_days`, the certificate
    stays valid for `certificate_years` (longer than any card it signs)."""
    if not issuer_code or len(issuer_code) > ISSUER_CODE_MAX or not issuer_code.replace("-", "").isalnum() \
            or issuer_code != issuer_code.upper():
        raise CertificateError(Reason.CERT_MALFORMED,
                               f"issuer code {issuer_code!r} must be 1-{ISSUER_CODE_MAX} upper-case letters, digits or '-'")
    now = _utc(now)
    usage_end = now + dt.timedelta(days=signing_days)
    not_after = now + dt.timedelta(days=365 * certificate_years)
    if usage_end >= not_after:
        raise CertificateError(Reason.CERT_MALFORMED, "the signing period must be shorter than the certificate validity")
    builder = _leaf_builder(root_key, root, public_key,
                            _name(f"sscard issuer {issuer_code}", issuer_code), now, not_after,
                            EKU_CREDENTIAL_SIGNING)
    builder = builder.add_extension(x509.PrivateKeyUsagePeriod(now, usage_end), critical=False)
    return builder.sign(root_key, _hash_for(root_key))


def make_trust_list_signer_certificate(root_key: PrivateKey, root: x509.Certificate, public_key: PublicKey, *,
                                       now: dt.datetime, years: int = 5) -> x509.Certificate:
    now = _utc(now)
    builder = _leaf_builder(root_key, root, public_key, _name("sscard trust list signer"),
                            now, now + dt.timedelta(days=365 * years), EKU_TRUST_LIST_SIGNING)
    return builder.sign(root_key, _hash_for(root_key))


def _extension(cert: x509.Certificate, cls: type) -> Any:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:  # a malformed extension
        raise CertificateError(Reason.CERT_MALFORMED, f"certificate has a malformed extension ({exc})") from None


def check_root(root: x509.Certificate) -> None:
    """The pinned root must be a self-signed CA certificate."""
    bc = _extension(root, x509.BasicConstraints)
    if bc is None or not bc.ca:
        raise CertificateError(Reason.CERT_WRONG_USAGE, "the pinned root is not a CA certificate")
    try:
        root.verify_directly_issued_by(root)
    except (ValueError, TypeError, Exception) as exc:  # InvalidSignature has no message
        raise CertificateError(Reason.CERT_NOT_CHAINED, f"the pinned root is not self-signed ({type(exc).__name__})") from None


def check_chained(cert: x509.Certificate, root: x509.Certificate, eku: x509.ObjectIdentifier) -> None:
    """`cert` is an end-entity certificate issued by `root` for `eku`."""
    try:
        cert.verify_directly_issued_by(root)
    except Exception as exc:  # ValueError (names), TypeError (key type), InvalidSignature
        raise CertificateError(Reason.CERT_NOT_CHAINED,
                               f"certificate {cert.subject.rfc4514_string()} is not issued by the pinned root "
                               f"({type(exc).__name__})") from None
    bc = _extension(cert, x509.BasicConstraints)
    if bc is not None and bc.ca:
        raise CertificateError(Reason.CERT_WRONG_USAGE, "a CA certificate cannot sign credentials or trust lists")
    ku = _extension(cert, x509.KeyUsage)
    if ku is None or not ku.digital_signature:
        raise CertificateError(Reason.CERT_WRONG_USAGE, "the certificate's key usage does not allow digitalSignature")
    ekus = _extension(cert, x509.ExtendedKeyUsage)
    if ekus is None or eku not in ekus or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in ekus:
        raise CertificateError(Reason.CERT_WRONG_USAGE, f"the certificate is not issued for {eku.dotted_string}")


@dataclass(frozen=True, slots=True)
class IssuerCertificate:
    """An issuer signing certificate already checked against the pinned root."""

    certificate: x509.Certificate
    der: bytes
    kid: bytes
    issuer_code: str
    algorithm: Algorithm
    public_key: Any
    not_before: int  # epoch seconds
    not_after: int
    usage_not_before: int
    usage_not_after: int

    @classmethod
    def from_certificate(cls, cert: x509.Certificate, root: x509.Certificate) -> IssuerCertificate:
        check_chained(cert, root, EKU_CREDENTIAL_SIGNING)
        pkup = _extension(cert, x509.PrivateKeyUsagePeriod)
        if pkup is None or pkup.not_before is None or pkup.not_after is None:
            raise CertificateError(Reason.CERT_WRONG_USAGE,
                                   "an issuer certificate must carry a private key usage period with both bounds")
        codes = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        if len(codes) != 1:
            raise CertificateError(Reason.CERT_MALFORMED, "an issuer certificate must name one issuer code (serialNumber)")
        try:
            algorithm = algorithm_for_public_key(cert.public_key())
        except SignerError as exc:
            raise CertificateError(Reason.CERT_MALFORMED, exc.message) from None
        usage_nb = int(pkup.not_before.replace(tzinfo=UTC).timestamp())
        usage_na = int(pkup.not_after.replace(tzinfo=UTC).timestamp())
        nb = int(cert.not_valid_before_utc.timestamp())
        na = int(cert.not_valid_after_utc.timestamp())
        if usage_nb < nb or usage_na > na:
            raise CertificateError(Reason.CERT_MALFORMED, "the private key usage period lies outside the certificate validity")
        return cls(cert, cert.public_bytes(serialization.Encoding.DER), kid_for_certificate(cert),
                   str(codes[0].value), algorithm, cert.public_key(), nb, na, usage_nb, usage_na)

    @classmethod
    def from_der(cls, der: bytes, root: x509.Certificate) -> IssuerCertificate:
        return cls.from_certificate(load_der(der), root)


def load_der(der: bytes) -> x509.Certificate:
    """Parse a DER certificate from untrusted bytes, with every field a check reads.

    cryptography parses the subject, the extensions and the key only when asked, and a
    malformed one then raises ValueError, TypeError, InvalidVersion or
    UnsupportedAlgorithm wherever it is first read (in an error message, even). They are
    read here, once, so that a malformed certificate is CERT_MALFORMED (spec §6.5 step 3,
    §6.4) and nothing later meets a half-parsed one."""
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        cert.not_valid_before_utc, cert.not_valid_after_utc
        cert.public_key()
        for extension in cert.extensions:
            extension.value
    except Exception as exc:  # noqa: BLE001 - any parse failure of untrusted bytes is a malformed certificate
        raise CertificateError(Reason.CERT_MALFORMED,
                               f"not a well-formed DER X.509 certificate ({type(exc).__name__}: {exc})") from None
    return cert


def public_key_fits(public_key: Any, algorithm: Algorithm) -> bool:
    if algorithm is Algorithm.ES256:
        return isinstance(public_key, ec.EllipticCurvePublicKey)
    return isinstance(public_key, ed25519.Ed25519PublicKey)
