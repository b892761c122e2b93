"""The wallet's store (a folder; on a phone, the app's private storage) and the wallet itself.

    device-key.pem   the phone's P-256 private key, encrypted PKCS#8 (owner-only file)
    ecard.cose       the e-card credential the issuer signed for that key
    wallet.json      where it came from: issuer URL, issuing centre, card number, serial, expiry

The key is written only once the issuer has answered with a credential that binds it, so a
refused activation leaves the store as it was. On a real phone the key would live in the
secure element / keystore and never leave it; here the passphrase protects the file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from crypto import SscError, cose
from crypto.claims import Claims, Profile, decode_claims
from crypto.ecard import Purpose, compress_device_key, present
from crypto.keys import generate_private_key, load_private_key, save_private_key
from crypto.qrtext import MAX_COSE_BYTES

KEY_FILE, CREDENTIAL_FILE, META_FILE = "device-key.pem", "ecard.cose", "wallet.json"
MIN_PASSPHRASE = 8


class WalletError(Exception):
    """The wallet cannot do what was asked (no e-card yet, wrong passphrase, a bad credential)."""


def default_folder() -> Path:
    """``$SSC_WALLET_HOME``, else ``$SSC_VAR/wallet`` (``var/wallet``)."""
    if os.environ.get("SSC_WALLET_HOME"):
        return Path(os.environ["SSC_WALLET_HOME"])
    return Path(os.environ.get("SSC_VAR", "var")) / "wallet"


def new_device_key() -> ec.EllipticCurvePrivateKey:
    from crypto.cose import Algorithm

    return generate_private_key(Algorithm.ES256)  # type: ignore[return-value]


def decode_ecard(credential: bytes, issuer_code: str) -> Claims:
    """The e-card claim set (the issuer's signature is the terminal's to check)."""
    envelope = cose.decode_sign1(credential, max_size=MAX_COSE_BYTES)
    return decode_claims(envelope.payload, issuer_code=issuer_code, profiles=frozenset({Profile.ECARD}))


class WalletStore:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_folder()

    def has_ecard(self) -> bool:
        return all((self.folder / n).is_file() for n in (KEY_FILE, CREDENTIAL_FILE, META_FILE))

    def save(self, key: ec.EllipticCurvePrivateKey, credential: bytes, meta: dict, passphrase: bytes) -> None:
        """Check that `credential` binds `key`, then store all three (the key last written wins)."""
        claims = decode_ecard(credential, meta["issuer_code"])
        if compress_device_key(claims.device_key) != compress_device_key(key.public_key()):
            raise WalletError("the issuer's credential binds another key than this phone's: not stored")
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        save_private_key(self.folder / KEY_FILE, key, passphrase)
        _write(self.folder / CREDENTIAL_FILE, credential)
        _write(self.folder / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False).encode())

    def meta(self) -> dict:
        self._need()
        return json.loads((self.folder / META_FILE).read_text(encoding="utf-8"))

    def credential(self) -> bytes:
        self._need()
        return (self.folder / CREDENTIAL_FILE).read_bytes()

    def load_key(self, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
        self._need()
        try:
            key = load_private_key(self.folder / KEY_FILE, passphrase)
        except SscError as exc:
            raise WalletError(exc.message) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise WalletError("the wallet's device key is not a P-256 key")
        return key

    def _need(self) -> None:
        if not self.has_ecard():
            raise WalletError(f"no e-card in {self.folder}: activate it first (ssc-card wallet activate)")


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@dataclass
class Wallet:
    """An activated e-card with its key unlocked: makes presentations."""

    credential: bytes
    key: ec.EllipticCurvePrivateKey
    meta: dict

    @classmethod
    def open(cls, store: WalletStore, passphrase: bytes) -> Wallet:
        return cls(store.credential(), store.load_key(passphrase), store.meta())

    def claims(self) -> Claims:
        return decode_ecard(self.credential, self.meta["issuer_code"])

    def present(self, *, now: float | None = None, purpose: Purpose = Purpose.ANY,
                challenge: bytes | None = None) -> str:
        """A fresh presentation (QR text): signed now, for `purpose`, answering `challenge`."""
        return present(self.credential, self.key, now=int(time.time() if now is None else now), purpose=purpose,
                       challenge=challenge)
