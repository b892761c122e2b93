"""The issuer's keys (DESIGN.md §4, docs/spec.md §6): root CA, the issuing centre's signing
key and certificates, the trust-list signer — in encrypted PKCS#8 files (development) or in
an HSM through PKCS#11 (crypto.pkcs11_signer; SoftHSM2 in tests).

Folder layout (the `DevelopmentPki` layout of crypto.pki, plus the history):

    root-ca.pem, root-ca.key.pem           the root (kept offline in production)
    issuer-<code>.pem [, .key.pem]         the current signing certificate [and software key]
    issuer-<code>-<kid>.pem                earlier signing certificates, kept for the trust list
    trust-list-signer.pem [, .key.pem]     the trust-list signer
    pkcs11.json                            with --pkcs11: token label and key labels (no PIN)

Rotation makes a new signing key and certificate; the old certificate stays in the trust
list for the life of the cards it signed, and its software private key is destroyed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from crypto import Algorithm
from crypto import certs as certificates
from crypto import keys
from crypto.certs import IssuerCertificate
from crypto.errors import KeyFileError
from crypto.keys import Signer
from crypto.pki import ROOT_CERT, ROOT_KEY, TL_CERT, TL_KEY, DevelopmentPki, issuer_files
from crypto.reasons import Reason

PKCS11_MANIFEST = "pkcs11.json"


@dataclass
class Keyring:
    folder: Path
    issuer_code: str
    root: x509.Certificate
    issuer: Signer
    trust_list_signer: Signer
    issuer_certificates: list[x509.Certificate]
    _token: object | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._token is not None:
            self._token.close()
            self._token = None

    def describe(self) -> list[IssuerCertificate]:
        return [IssuerCertificate.from_certificate(c, self.root) for c in self.issuer_certificates]


def _archived(folder: Path, issuer_code: str) -> list[x509.Certificate]:
    return [keys.load_certificate(p) for p in sorted(folder.glob(f"issuer-{issuer_code}-*.pem"))]


def _manifest(folder: Path) -> dict | None:
    path = folder / PKCS11_MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def exists(folder: Path, issuer_code: str) -> bool:
    folder = Path(folder)
    return all((folder / n).exists() for n in (ROOT_CERT, TL_CERT, issuer_files(issuer_code)[1]))


def load(folder: Path, issuer_code: str, passphrase: bytes, *, pin: str | None = None,
         module: str | None = None) -> Keyring:
    """The keys in `folder`. With a pkcs11.json there, the signers are in the HSM (needs the PIN)."""
    folder = Path(folder)
    if not exists(folder, issuer_code):
        raise KeyFileError(Reason.KEY_FILE, f"no keys for issuing centre {issuer_code} in {folder}: "
                                            "run `ssc-issuer keys init` first")
    manifest = _manifest(folder)
    current = keys.load_certificate(folder / issuer_files(issuer_code)[1])
    history = [current, *_archived(folder, issuer_code)]
    root = keys.load_certificate(folder / ROOT_CERT)
    if manifest is None:
        pki = DevelopmentPki.load(folder, passphrase, issuer_code=issuer_code)
        return Keyring(folder, issuer_code, root, pki.issuer, pki.trust_list_signer, history)
    from crypto.pkcs11_signer import Pkcs11Signer, Pkcs11Token

    if pin is None:
        raise KeyFileError(Reason.KEY_PASSPHRASE, "the keys are in an HSM: set SSC_ISSUER_PKCS11_PIN")
    token = Pkcs11Token(manifest["token"], pin, module=module or manifest["module"])
    try:
        issuer = Pkcs11Signer(token, manifest["issuer_key"], current)
        tl = Pkcs11Signer(token, manifest["trust_list_key"], keys.load_certificate(folder / TL_CERT))
    except Exception:
        token.close()
        raise
    return Keyring(folder, issuer_code, root, issuer, tl, history, token)


def init_software(folder: Path, issuer_code: str, passphrase: bytes, algorithm: Algorithm) -> Keyring:
    DevelopmentPki.create(folder, passphrase, issuer_code=issuer_code, algorithm=algorithm)
    return load(folder, issuer_code, passphrase)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def init_pkcs11(folder: Path, issuer_code: str, passphrase: bytes, *, token_label: str, pin: str,
                module: str, algorithm: Algorithm = Algorithm.ES256) -> Keyring:
    """Root in an encrypted file (offline in production); issuer and trust-list keys made in the HSM."""
    from crypto.pkcs11_signer import Pkcs11Token, generate_key_pair

    folder = Path(folder)
    now = _now()
    root_key = keys.generate_private_key(Algorithm.ES256)
    root = certificates.make_root_ca(root_key, now=now - dt.timedelta(days=1))
    stamp = int(time.time())
    issuer_label, tl_label = f"sscard-issuer-{issuer_code}-{stamp}", f"sscard-trust-list-{stamp}"
    with Pkcs11Token(token_label, pin, module=module, rw=True) as token:
        issuer_public = generate_key_pair(token, issuer_label, algorithm)
        tl_public = generate_key_pair(token, tl_label, Algorithm.ES256)
    issuer_cert = certificates.make_issuer_certificate(root_key, root, issuer_public, issuer_code=issuer_code,
                                                       now=now - dt.timedelta(hours=1))
    tl_cert = certificates.make_trust_list_signer_certificate(root_key, root, tl_public,
                                                              now=now - dt.timedelta(hours=1))
    keys.save_private_key(folder / ROOT_KEY, root_key, passphrase)
    for name, cert in ((ROOT_CERT, root), (issuer_files(issuer_code)[1], issuer_cert), (TL_CERT, tl_cert)):
        keys.save_certificate(folder / name, cert)
    for stale in (issuer_files(issuer_code)[0], TL_KEY):
        (folder / stale).unlink(missing_ok=True)
    _write_manifest(folder, {"token": token_label, "module": module, "issuer_key": issuer_label,
                             "trust_list_key": tl_label})
    return load(folder, issuer_code, passphrase, pin=pin, module=module)


def _write_manifest(folder: Path, manifest: dict) -> None:
    tmp = folder / (PKCS11_MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, folder / PKCS11_MANIFEST)


def rotate(folder: Path, issuer_code: str, passphrase: bytes, *, pin: str | None = None,
           module: str | None = None, algorithm: Algorithm | None = None) -> IssuerCertificate:
    """A new signing key and certificate; the old certificate is archived for the trust list."""
    folder = Path(folder)
    before = load(folder, issuer_code, passphrase, pin=pin, module=module)
    before.close()
    algorithm = algorithm or before.issuer.algorithm
    root = before.root
    root_key = keys.load_private_key(folder / ROOT_KEY, passphrase)
    key_name, cert_name = issuer_files(issuer_code)
    old = before.issuer_certificates[0]
    manifest = _manifest(folder)
    if manifest is None:
        private = keys.generate_private_key(algorithm)
        public, new_key = private.public_key(), private
    else:
        from crypto.pkcs11_signer import Pkcs11Token, generate_key_pair

        label = f"sscard-issuer-{issuer_code}-{int(time.time() * 1000)}"
        with Pkcs11Token(manifest["token"], pin, module=module or manifest["module"], rw=True) as token:
            public = generate_key_pair(token, label, algorithm)
        manifest["issuer_key"], new_key = label, None
    cert = certificates.make_issuer_certificate(root_key, root, public, issuer_code=issuer_code,
                                                now=_now() - dt.timedelta(minutes=5))
    # Archive first: a crash part-way leaves the old certificate in the history, never lost.
    keys.save_certificate(folder / f"issuer-{issuer_code}-{keys.kid_for_certificate(old).hex()}.pem", old)
    if new_key is not None:
        keys.save_private_key(folder / key_name, new_key, passphrase)
    else:
        _write_manifest(folder, manifest)
    keys.save_certificate(folder / cert_name, cert)
    return IssuerCertificate.from_certificate(cert, root)
