"""Signing keys: the signer interface and the software back-end (encrypted PKCS#8 files).

The PKCS#11 back-end lives in :mod:`crypto.pkcs11_signer`. Both give the same thing to the
COSE layer: an algorithm, a kid, and a raw COSE-form signature. No signer ever exposes its
private key, and ``repr()`` of a signer names the key, never prints it.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from crypto.cose import KID_LENGTH, Algorithm
from crypto.errors import KeyFileError, SignerError
from crypto.reasons import Reason

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


def kid_for_certificate(certificate: x509.Certificate) -> bytes:
    """DESIGN.md §3: kid = the first 8 bytes of SHA-256 over the certificate's DER."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).digest()[:KID_LENGTH]


def algorithm_for_public_key(public_key: object) -> Algorithm:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name != "secp256r1":
            raise SignerError(Reason.KEY_TYPE, f"EC keys must be on P-256, this one is on {public_key.curve.name}")
        return Algorithm.ES256
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return Algorithm.EDDSA
    raise SignerError(Reason.KEY_TYPE, f"unsupported key type {type(public_key).__name__}: use P-256 or Ed25519")


def generate_private_key(algorithm: Algorithm = Algorithm.ES256) -> PrivateKey:
    if algorithm is Algorithm.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def raw_signature(private_key: PrivateKey, data: bytes) -> bytes:
    """COSE-form signature: r||s (32 bytes each) for ES256, the 64 bytes of Ed25519."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return private_key.sign(data)


class Signer(ABC):
    """A key that signs for one certificate (an issuer signing certificate or the
    trust-list signer certificate)."""

    def __init__(self, certificate: x509.Certificate):
        self.certificate = certificate
        self._kid = kid_for_certificate(certificate)
        self._algorithm = algorithm_for_public_key(certificate.public_key())

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    @property
    def kid(self) -> bytes:
        return self._kid

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """COSE-form signature over `data`."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._algorithm.name} kid={self._kid.hex()}>"


class SoftwareSigner(Signer):
    """A private key held in process memory, loaded from an encrypted PKCS#8 file.

    For development and tests. Production issuers use :class:`crypto.pkcs11_signer.Pkcs11Signer`.
    """

    def __init__(self, private_key: PrivateKey, certificate: x509.Certificate):
        super().__init__(certificate)
        mine = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
        theirs = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        if mine != theirs:
            raise SignerError(Reason.KEY_TYPE, "the private key does not belong to the certificate")
        self.__key = private_key

    def sign(self, data: bytes) -> bytes:
        return raw_signature(self.__key, data)

    @classmethod
    def from_files(cls, key_path: Path, certificate_path: Path, passphrase: bytes) -> SoftwareSigner:
        return cls(load_private_key(key_path, passphrase), load_certificate(certificate_path))


def save_private_key(path: Path, private_key: PrivateKey, passphrase: bytes) -> None:
    """Write `private_key` as encrypted PKCS#8 PEM, readable by the owner only."""
    if len(passphrase) < 8:
        raise KeyFileError(Reason.KEY_PASSPHRASE, "a key file passphrase must have at least 8 characters")
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(passphrase))
    _write_private(Path(path), pem)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_private_key(path: Path, passphrase: bytes) -> PrivateKey:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(Reason.KEY_FILE, f"cannot read key file {path}: {exc.strerror}") from None
    if b"ENCRYPTED PRIVATE KEY" not in data:
        raise KeyFileError(Reason.KEY_FILE, f"{path} is not an encrypted PKCS#8 key file")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except ValueError:
        raise KeyFileError(Reason.KEY_PASSPHRASE,
                           f"cannot decrypt {path}: wrong passphrase or damaged file") from None
    except TypeError:
        raise KeyFileError(Reason.KEY_PASSPHRASE, f"{path} needs a passphrase") from None
    algorithm_for_public_key(key.public_key())
    return key  # type: ignore[return-value]


def save_certificate(path: Path, certificate: x509.Certificate) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def load_certificate(path: Path) -> x509.Certificate:
    from crypto.errors import CertificateError

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateError(Reason.CERT_MALFORMED, f"cannot read certificate {path}: {exc.strerror}") from None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CertificateError(Reason.CERT_MALFORMED, f"{path} is not an X.509 certificate ({exc})") from None
