"""A development PKI in a folder (DESIGN.md §4): root CA, one issuer signing key and
certificate, and the trust-list signer, with private keys as encrypted PKCS#8 files.

Production keeps the root offline and the signing keys in an HSM (crypto.pkcs11_signer);
the layout of certificates is the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from crypto import certs, keys
from crypto.cose import Algorithm
from crypto.keys import SoftwareSigner

ROOT_KEY, ROOT_CERT = "root-ca.key.pem", "root-ca.pem"
TL_KEY, TL_CERT = "trust-list-signer.key.pem", "trust-list-signer.pem"


def issuer_files(issuer_code: str) -> tuple[str, str]:
    return f"issuer-{issuer_code}.key.pem", f"issuer-{issuer_code}.pem"


@dataclass
class DevelopmentPki:
    folder: Path
    root: x509.Certificate
    issuer: SoftwareSigner
    trust_list_signer: SoftwareSigner

    @classmethod
    def create(cls, folder: Path, passphrase: bytes, *, issuer_code: str = "SH01",
               algorithm: Algorithm = Algorithm.ES256, now: dt.datetime | None = None) -> DevelopmentPki:
        folder = Path(folder)
        now = now or dt.datetime.now(dt.timezone.utc)
        root_key = keys.generate_private_key(Algorithm.ES256)
        root = certs.make_root_ca(root_key, now=now - dt.timedelta(days=1))
        issuer_key = keys.generate_private_key(algorithm)
        issuer_cert = certs.make_issuer_certificate(root_key, root, issuer_key.public_key(),
                                                    issuer_code=issuer_code, now=now - dt.timedelta(hours=1))
        tl_key = keys.generate_private_key(Algorithm.ES256)
        tl_cert = certs.make_trust_list_signer_certificate(root_key, root, tl_key.public_key(),
                                                           now=now - dt.timedelta(hours=1))
        key_name, cert_name = issuer_files(issuer_code)
        for name, key in ((ROOT_KEY, root_key), (key_name, issuer_key), (TL_KEY, tl_key)):
            keys.save_private_key(folder / name, key, passphrase)
        for name, cert in ((ROOT_CERT, root), (cert_name, issuer_cert), (TL_CERT, tl_cert)):
            keys.save_certificate(folder / name, cert)
        return cls(folder, root, SoftwareSigner(issuer_key, issuer_cert), SoftwareSigner(tl_key, tl_cert))

    @classmethod
    def load(cls, folder: Path, passphrase: bytes, *, issuer_code: str = "SH01") -> DevelopmentPki:
        folder = Path(folder)
        key_name, cert_name = issuer_files(issuer_code)
        return cls(folder, keys.load_certificate(folder / ROOT_CERT),
                   SoftwareSigner.from_files(folder / key_name, folder / cert_name, passphrase),
                   SoftwareSigner.from_files(folder / TL_KEY, folder / TL_CERT, passphrase))

    @classmethod
    def exists(cls, folder: Path, issuer_code: str = "SH01") -> bool:
        folder = Path(folder)
        return all((folder / n).exists() for n in (ROOT_CERT, TL_CERT, *issuer_files(issuer_code)))
