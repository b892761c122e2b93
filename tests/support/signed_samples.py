"""One signed sample of every structure the trust core produces, made on a fixed clock
(importable: tests/ is on pythonpath). No wall clock: the PKI, every signature and the
verifier's `now` come from the fixed times below, so the samples verify the same way on
any machine, at any speed, under any shifted process clock.

Used by the fuzz tests (tests/crypto/test_fuzz_parsers.py), the CDDL check
(tests/crypto/test_cddl.py) and the malformed-input tests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import Profile, TrustStore, build_trust_list, load_trust_list, parse_credential, samples
from crypto.chip import Group, build_security_object, group_payloads
from crypto.claims import end_of_day
from crypto.credential import sign_credential
from crypto.ecard import compress_device_key, present, sign_ecard_credential
from crypto.pki import DevelopmentPki
from crypto.qrtext import encode_qr_text
from crypto.revocation import RevocationSet
from crypto.revocation_delta import delta_between
from firmware_tools.card import profile as card_profile
from firmware_tools.card.profile import chip_key_payload

PASSPHRASE = b"test-passphrase"
PKI_AT = dt.datetime(2026, 1, 5, 0, 0, tzinfo=dt.timezone.utc)  # the PKI's certificates start here
IAT = samples.SAMPLE_IAT                                         # 2026-01-05T09:30:00Z
NOW = IAT + 600                                                  # the verifier's clock
TL_ISSUED_AT = IAT + 60
PHOTO = b"\xff\xd8\xff\xe0 a sample photo"
CHIP_KEY = ec.derive_private_key(0xC41B, ec.SECP256R1())
FILES = {Group.CARD_INFO: card_profile.CARD_INFO, Group.HOLDER: card_profile.DG1, Group.PHOTO: card_profile.DG2,
         Group.PERMIT: card_profile.DG3, Group.INSURANCE: card_profile.DG4, Group.CHIP_KEY: card_profile.DG5}
# A device key made once from a fixed scalar: samples must not depend on randomness either.
DEVICE_KEY = ec.derive_private_key(0x5EC1A1, ec.SECP256R1())


def chip_credential():
    record = samples.typical_record()
    record["holder"]["photo_digest"] = hashlib.sha256(PHOTO).digest()
    return parse_credential(record)


def ecard_credential():
    record = samples.typical_record()
    record["card"].update(kind=2, serial=2001)
    return parse_credential(record)


@dataclass
class SignedSamples:
    pki: DevelopmentPki

    @property
    def now(self) -> int:
        return NOW

    @cached_property
    def qr_cose(self) -> bytes:
        return sign_credential(samples.typical(), self.pki.issuer, iat=IAT, profile=Profile.QR)

    @cached_property
    def qr_text(self) -> str:
        return encode_qr_text(self.qr_cose)

    @cached_property
    def chip_cose(self) -> bytes:
        return sign_credential(chip_credential(), self.pki.issuer, iat=IAT, profile=Profile.CHIP,
                               cti=b"\x01\x02\x03\x04")

    @cached_property
    def files(self) -> dict[Group, bytes]:
        """The chip's files as the card holds them: `<tag> L 53 L <CBOR>` (card.md)."""
        payloads = dict(group_payloads(chip_credential(), PHOTO))
        payloads[Group.CHIP_KEY] = chip_key_payload(CHIP_KEY.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        return {g: FILES[g].wrap(p) for g, p in payloads.items()}

    @cached_property
    def security_object(self) -> bytes:
        cred = chip_credential()
        return build_security_object(card_number=cred.card.card_number, serial=cred.card.serial,
                                     issuer_code="SH01", iat=IAT, exp=end_of_day(cred.card.expiry_date),
                                     files=self.files, signer=self.pki.issuer)

    @cached_property
    def ecard_cose(self) -> bytes:
        return sign_ecard_credential(ecard_credential(), self.pki.issuer,
                                     device_key=compress_device_key(DEVICE_KEY.public_key()), iat=IAT)

    def presentation(self, **kwargs) -> str:
        return present(self.ecard_cose, DEVICE_KEY, now=NOW - 5, nonce=b"\x5e\xca\x4d\x01", **kwargs)

    def trust_list(self, version: int = 1, *, revocation_format: int = 1, revoked=None) -> bytes:
        return build_trust_list(version=version, issued_at=TL_ISSUED_AT + version,
                                next_update=TL_ISSUED_AT + version + 7 * 86400,
                                issuer_certificates=[self.pki.issuer.certificate],
                                revoked=revoked if revoked is not None else {"SH01": [7, 9]},
                                signer=self.pki.trust_list_signer, revocation_format=revocation_format,
                                universes={"SH01": (0, 1000)})

    @cached_property
    def coded_lists(self) -> tuple[bytes, bytes]:
        """Two format-2 lists, versions 1 and 2 (serial 11 revoked, 9 lifted)."""
        first = self.trust_list(1, revoked={"SH01": RevocationSet.from_serials([7, 9], base=0, size=1000)})
        second = self.trust_list(2, revoked={"SH01": RevocationSet.from_serials([7, 11], base=0, size=1000)})
        return first, second

    @cached_property
    def delta(self) -> bytes:
        first, second = (load_trust_list(d, self.pki.root) for d in self.coded_lists)
        return delta_between(first, second, self.pki.trust_list_signer)

    def store(self, trust_list: bytes | None = None) -> TrustStore:
        store = TrustStore(self.pki.root)
        store.update(trust_list if trust_list is not None else self.trust_list())
        return store

    @cached_property
    def trust_list_signer_der(self) -> bytes:
        return self.pki.trust_list_signer.certificate.public_bytes(serialization.Encoding.DER)


def make_samples(folder: Path) -> SignedSamples:
    return SignedSamples(DevelopmentPki.create(folder, PASSPHRASE, now=PKI_AT))
