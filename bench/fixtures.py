"""What the benchmarks share: development PKIs (ES256 issuer SH01, Ed25519 issuer SH02)
made in a temporary folder, trust stores that hold them, and signed sample credentials.

Everything is dated around ``crypto.samples.SAMPLE_IAT`` so that the verdicts are VALID
whatever the date of the run; each benchmark checks that before it times anything.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from crypto import (Algorithm, Credential, TrustStore, build_trust_list, parse_credential, qr_text_for,
                    samples, sign_credential)
from crypto.keys import PrivateKey, load_private_key
from crypto.pki import ROOT_KEY, DevelopmentPki, issuer_files

PASSPHRASE = b"bench-passphrase"
IAT = samples.SAMPLE_IAT
NOW = IAT + 60                      # the terminal's clock when it verifies
PKI_TIME = dt.datetime.fromtimestamp(IAT - 86_400, dt.timezone.utc)
TL_ISSUED_AT = IAT - 3600
TL_NEXT_UPDATE = IAT + 7 * 86_400


@dataclass
class Issuer:
    """One development PKI with its issuer key in memory, a trust store and samples."""

    pki: DevelopmentPki
    private_key: PrivateKey
    store: TrustStore
    credentials: dict[str, Credential]
    qr_texts: dict[str, str] = field(default_factory=dict)


def _issuer(folder: Path, code: str, algorithm: Algorithm) -> Issuer:
    pki = DevelopmentPki.create(folder, PASSPHRASE, issuer_code=code, algorithm=algorithm, now=PKI_TIME)
    private_key = load_private_key(folder / issuer_files(code)[0], PASSPHRASE)
    trust_list = build_trust_list(version=1, issued_at=TL_ISSUED_AT, next_update=TL_NEXT_UPDATE,
                                  issuer_certificates=[pki.issuer.certificate], signer=pki.trust_list_signer)
    store = TrustStore(pki.root)
    store.update(trust_list)
    credentials = {"typical": samples.typical(), "long": samples.long()}
    if code != credentials["typical"].card.issuing_centre:  # the samples are from SH01
        for name, record in (("typical", samples.typical_record()), ("long", samples.long_record())):
            record["card"]["issuing_centre"] = code
            credentials[name] = parse_credential(record)
    issuer = Issuer(pki, private_key, store, credentials)
    issuer.qr_texts = {name: qr_text_for(cred, pki.issuer, iat=IAT) for name, cred in credentials.items()}
    return issuer


class Fixtures:
    """Created once per run, on first use; the temporary folder goes with :meth:`close`."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="sscard-bench-")
        self.folder = Path(self._tmp.name)

    @cached_property
    def es256(self) -> Issuer:
        return _issuer(self.folder / "es256", "SH01", Algorithm.ES256)

    @cached_property
    def eddsa(self) -> Issuer:
        return _issuer(self.folder / "eddsa", "SH02", Algorithm.EDDSA)

    @cached_property
    def root_key(self) -> PrivateKey:
        """The ES256 PKI's root key, to certify more issuers under the same root."""
        return load_private_key(self.es256.pki.folder / ROOT_KEY, PASSPHRASE)

    def cose(self, issuer: Issuer, name: str) -> bytes:
        return sign_credential(issuer.credentials[name], issuer.pki.issuer, iat=IAT)

    def close(self) -> None:
        self._tmp.cleanup()
