"""PKCS#11 signer back-end: the private key stays in the HSM (DESIGN.md §4).

Tested against SoftHSM2 2.6 (Debian ``softhsm2``). SoftHSM has no CKM_ECDSA_SHA256, so ES256
hashes with SHA-256 here and asks the token for CKM_ECDSA over the digest. Ed25519 uses
CKK_EC_EDWARDS keys and CKM_EDDSA (PKCS#11 3.0), which SoftHSM 2.6 supports when built
against OpenSSL >= 1.1.1 (Debian's is); :meth:`Pkcs11Token.supports` tells.

Login state belongs to the application, not to a session (PKCS#11 v2.40 base §5.6,
C_Login/C_Logout): open ONE :class:`Pkcs11Token` per token per process and share it between
signers. A second open of the same token fails with a clear error, and closing a token logs
every session of this process out of it. The PIN is used once, at login, and never stored.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from crypto.cose import Algorithm, verify_signature
from crypto.errors import SignerError
from crypto.keys import PublicKey, Signer
from crypto.reasons import Reason

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

# CKA_EC_PARAMS (v2.40 Current Mechanisms §2.3.3): DER namedCurve OID prime256v1.
_P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")
# Edwards keys (3.0 Current Mechanisms, "Edwards Elliptic curve public key objects"): the
# curveName "edwards25519" (what we generate) or the RFC 8410 OID id-Ed25519 1.3.101.112.
_ED25519_NAME = b"\x13\x0cedwards25519"  # PrintableString
_ED25519_PARAMS = {_ED25519_NAME, bytes.fromhex("06032b6570")}
_POINT_LENGTH = {Algorithm.ES256: 65, Algorithm.EDDSA: 32}
_GENERATE = {Algorithm.ES256: (KeyType.EC, Mechanism.EC_KEY_PAIR_GEN, _P256_PARAMS),
             Algorithm.EDDSA: (KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN, _ED25519_NAME)}
_SIGN = {Algorithm.ES256: Mechanism.ECDSA, Algorithm.EDDSA: Mechanism.EDDSA}
# Errors that mean the token or session went away rather than this one operation failing.
_GONE = (p11.DeviceRemoved, p11.TokenNotPresent, p11.SessionClosed, p11.SessionHandleInvalid,
         p11.DeviceError, p11.UserNotLoggedIn)


def load_module(module: str | Path = DEFAULT_MODULE) -> pkcs11.lib:
    """The PKCS#11 library at `module` (python-pkcs11 loads and caches it once per process)."""
    module = str(module)
    if not os.path.isfile(module):
        raise SignerError(Reason.HSM_UNAVAILABLE, f"PKCS#11 module {module} does not exist: install the "
                          "HSM's client library (SoftHSM2: apt-get install softhsm2) or fix the module path")
    try:
        return pkcs11.lib(module)
    except p11.PKCS11Error as exc:
        raise SignerError(Reason.HSM_UNAVAILABLE, f"cannot load PKCS#11 module {module}: {exc}") from None


class Pkcs11Token:
    """A logged-in session on the token labelled `label`. Use as a context manager or close()."""

    def __init__(self, label: str, pin: str, *, module: str | Path = DEFAULT_MODULE, rw: bool = False):
        self.label, self.module, self.rw = label, str(module), rw
        # A session runs one operation at a time (v2.40 base §5.11, CKR_OPERATION_ACTIVE).
        # python-pkcs11 0.10 already serialises C_SignInit/C_Sign per session; this lock also
        # covers object look-ups, key generation and close() racing a signature.
        self.lock = threading.RLock()
        lib = load_module(module)
        where = f"token {label!r} in {self.module}"
        try:
            self._token = lib.get_token(token_label=label)
            self._session = self._token.open(user_pin=pin, rw=rw)
        except p11.NoSuchToken:
            raise SignerError(Reason.HSM_UNAVAILABLE, f"no {where}: check the label "
                              "(softhsm2-util --show-slots) and, for SoftHSM, SOFTHSM2_CONF") from None
        except p11.MultipleTokensReturned:
            raise SignerError(Reason.HSM_UNAVAILABLE, f"several tokens are labelled {label!r}: relabel them") from None
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
            raise SignerError(Reason.HSM_UNAVAILABLE, f"wrong user PIN for {where}") from None
        except (p11.PinLocked, p11.PinExpired) as exc:
            raise SignerError(Reason.HSM_UNAVAILABLE, f"the user PIN of {where} is "
                              f"{'locked' if isinstance(exc, p11.PinLocked) else 'expired'}: "
                              "the security officer must reset it") from None
        except p11.UserPinNotInitialized:
            raise SignerError(Reason.HSM_UNAVAILABLE, f"{where} has no user PIN yet: initialise it") from None
        except p11.UserAlreadyLoggedIn:
            raise SignerError(Reason.HSM_UNAVAILABLE, f"{where} is already open in this process: "
                              "share that Pkcs11Token instead of opening a second one") from None
        except p11.PKCS11Error as exc:
            raise SignerError(Reason.HSM_UNAVAILABLE, f"cannot log in to {where}: "
                              f"{type(exc).__name__} {exc}".rstrip()) from None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def session(self) -> pkcs11.Session:
        if self._closed:
            raise SignerError(Reason.HSM_UNAVAILABLE, f"token {self.label!r} was closed")
        return self._session

    def supports(self, algorithm: Algorithm) -> bool:
        """True when the token can generate keys for and sign with `algorithm`."""
        mechanisms = set(self._token.slot.get_mechanisms())
        return {_GENERATE[algorithm][1], _SIGN[algorithm]} <= mechanisms

    def close(self) -> None:
        with self.lock:
            if not self._closed:
                self._closed = True
                try:
                    self._session.close()  # C_Logout + C_CloseSession
                except p11.PKCS11Error:
                    pass  # already gone (token removed, library finalised): nothing left to release

    def __enter__(self) -> Pkcs11Token:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Pkcs11Token {self.label!r} module={self.module}{' closed' if self._closed else ''}>"


def _find_one(session: pkcs11.Session, object_class: ObjectClass, label: str, token_label: str):
    found = list(session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))
    kind = "private" if object_class == ObjectClass.PRIVATE_KEY else "public"
    if not found:
        raise SignerError(Reason.HSM_UNAVAILABLE, f"token {token_label!r} has no {kind} key labelled {label!r}")
    if len(found) > 1:
        raise SignerError(Reason.KEY_TYPE, f"token {token_label!r} has {len(found)} {kind} keys labelled {label!r}")
    return found[0]


def public_key_from_object(obj) -> PublicKey:
    """A `cryptography` public key from a PKCS#11 EC or Edwards public key object."""
    params, point = bytes(obj[Attribute.EC_PARAMS]), bytes(obj[Attribute.EC_POINT])
    algorithm = Algorithm.ES256 if params == _P256_PARAMS else Algorithm.EDDSA if params in _ED25519_PARAMS else None
    if algorithm is None:
        raise SignerError(Reason.KEY_TYPE, f"unsupported curve (CKA_EC_PARAMS {params.hex()}): use P-256 or Ed25519")
    # CKA_EC_POINT is a DER OCTET STRING (v2.40 Current Mechanisms §2.3.3); some tokens give it
    # bare. The expected length tells the two apart without guessing at the first bytes.
    size = _POINT_LENGTH[algorithm]
    if len(point) == size + 2 and point[:2] == bytes([0x04, size]):
        point = point[2:]
    try:
        if algorithm is Algorithm.ES256:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        return ed25519.Ed25519PublicKey.from_public_bytes(point)
    except ValueError as exc:
        raise SignerError(Reason.KEY_TYPE, f"the token's public key is not a valid {algorithm.name} key: {exc}") from None


def generate_key_pair(token: Pkcs11Token, label: str, algorithm: Algorithm = Algorithm.ES256) -> PublicKey:
    """Generate a key pair inside the token; return the public key.

    The private key is a token object, private, sensitive and never extractable (v2.40 base
    §4.9, private key objects): it can sign and do nothing else, and no call can read it out.
    """
    algorithm = Algorithm(algorithm)
    if not token.rw:
        raise SignerError(Reason.HSM_UNAVAILABLE, "key generation needs a read-write session: open the token with rw=True")
    if not token.supports(algorithm):
        raise SignerError(Reason.KEY_TYPE, f"token {token.label!r} cannot generate and sign with {algorithm.name} "
                          f"(needs {_GENERATE[algorithm][1].name} and {_SIGN[algorithm].name}): use ES256")
    key_type, mechanism, params = _GENERATE[algorithm]
    key_id = os.urandom(8)
    with token.lock:
        session = token.session
        if list(session.get_objects({Attribute.LABEL: label})):
            raise SignerError(Reason.SIGNER_FAILED, f"token {token.label!r} already holds a key labelled {label!r}")
        try:
            public, private = session.generate_keypair(
                key_type, mechanism=mechanism, store=True, label=label, id=key_id,
                public_template={Attribute.EC_PARAMS: params, Attribute.TOKEN: True, Attribute.VERIFY: True,
                                 Attribute.ENCRYPT: False, Attribute.WRAP: False, Attribute.DERIVE: False},
                private_template={Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
                                  Attribute.EXTRACTABLE: False, Attribute.SIGN: True, Attribute.DECRYPT: False,
                                  Attribute.UNWRAP: False, Attribute.DERIVE: False})
            if not (private[Attribute.ALWAYS_SENSITIVE] and private[Attribute.NEVER_EXTRACTABLE]):
                raise SignerError(Reason.SIGNER_FAILED, f"token {token.label!r} did not keep key {label!r} sensitive")
        except p11.PKCS11Error as exc:
            raise SignerError(Reason.SIGNER_FAILED, f"key generation failed in token {token.label!r}: "
                              f"{type(exc).__name__} {exc}".rstrip()) from None
        return public_key_from_object(public)


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


class Pkcs11Signer(Signer):
    """Signs with the token's private key labelled `key_label`, for `certificate`.

    Construction checks that the token's public key is the certificate's and that the
    private key signs for it (one test signature). Thread-safe: signing holds the token lock.
    """

    def __init__(self, token: Pkcs11Token, key_label: str, certificate: x509.Certificate):
        super().__init__(certificate)
        self._token, self.key_label = token, key_label
        with token.lock:
            try:
                private = _find_one(token.session, ObjectClass.PRIVATE_KEY, key_label, token.label)
                token_public = public_key_from_object(
                    _find_one(token.session, ObjectClass.PUBLIC_KEY, key_label, token.label))
            except p11.PKCS11Error as exc:
                raise SignerError(Reason.HSM_UNAVAILABLE, f"cannot read key {key_label!r} from token "
                                  f"{token.label!r}: {type(exc).__name__}") from None
        expected = certificate.public_key()
        if _spki(token_public) != _spki(expected):
            raise SignerError(Reason.KEY_TYPE, f"key {key_label!r} in token {token.label!r} does not belong to "
                              f"the certificate {certificate.subject.rfc4514_string()}")
        self._private = private
        probe = b"sscard pkcs11 key check"
        if not verify_signature(self.algorithm, expected, probe, self.sign(probe)):
            raise SignerError(Reason.KEY_TYPE, f"the private key {key_label!r} in token {token.label!r} "
                              "does not match its public key")

    def sign(self, data: bytes) -> bytes:
        if self.algorithm is Algorithm.ES256:
            # CKM_ECDSA signs a digest the caller made (v2.40 Current Mechanisms §2.3.6) and returns
            # r||s, each nLen = 32 bytes for P-256 (§2.3.1): already the COSE form.
            data = hashlib.sha256(data).digest()
        with self._token.lock:
            if self._token.closed:
                raise SignerError(Reason.HSM_UNAVAILABLE, f"token {self._token.label!r} was closed")
            try:
                signature = self._private.sign(data, mechanism=_SIGN[self.algorithm])
            except _GONE as exc:
                raise SignerError(Reason.HSM_UNAVAILABLE, f"token {self._token.label!r} is unavailable: "
                                  f"{type(exc).__name__}") from None
            except p11.PKCS11Error as exc:
                raise SignerError(Reason.SIGNER_FAILED, f"the token refused to sign with {self.key_label!r}: "
                                  f"{type(exc).__name__} {exc}".rstrip()) from None
        if len(signature) != self.algorithm.signature_length:
            raise SignerError(Reason.SIGNER_FAILED, f"the token returned a {len(signature)}-byte "
                              f"{self.algorithm.name} signature, expected {self.algorithm.signature_length}")
        return bytes(signature)

    def __repr__(self) -> str:
        return (f"<Pkcs11Signer {self.algorithm.name} kid={self.kid.hex()} "
                f"key={self.key_label!r} token={self._token.label!r}>")
