"""What the chip read and personalisation tests share: a development PKI, the realistic
sample credential with a real JPEG, a security object signer, and personalised cards."""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass

import pytest
from PIL import Image, ImageDraw, ImageFilter

from crypto import Credential, TrustStore, parse_credential, samples
from crypto.chip import Group, build_security_object
from crypto.claims import end_of_day
from crypto.pki import DevelopmentPki
from crypto_support import make_store
from firmware_tools.card.emulator import FaultPlan, ReferenceCard
from firmware_tools.link import EmulatorLink
from firmware_tools.personalise import CardContent, PersonalisationResult, personalise
from clock_support import CLOCK

PASSPHRASE = b"sscard-development-only"
PIN = "123456"


@functools.cache
def sample_photo() -> bytes:
    """A real JPEG of a passport-style picture (300 x 400, ~12 KB), as DG2 carries."""
    w, h = 300, 400
    img = Image.new("RGB", (w, h), (226, 232, 240))
    draw = ImageDraw.Draw(img)
    draw.ellipse((w * 0.28, h * 0.12, w * 0.72, h * 0.58), fill=(222, 184, 150))
    draw.rectangle((w * 0.15, h * 0.62, w * 0.85, h), fill=(40, 60, 90))
    noise = Image.effect_noise((w, h), 40).convert("RGB")
    img = Image.blend(img, noise, 0.15).filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()


def sample_record(photo: bytes | None = None) -> dict:
    """crypto.samples.long_record() with the photo's SHA-256 as holder.photo_digest."""
    record = samples.long_record()
    record["holder"]["photo_digest"] = hashlib.sha256(photo or sample_photo()).hexdigest()
    return record


def sample_credential() -> Credential:
    return parse_credential(sample_record())


@dataclass
class ChipIssuer:
    """The issuer side of a test: PKI, the terminal's trust store, the SO signer."""

    pki: DevelopmentPki
    now: int

    def store(self, **options: object) -> TrustStore:
        return make_store(self.pki, self.now, **options)

    def signer(self, credential: Credential | None = None):
        credential = credential or sample_credential()

        def sign(files: dict[Group, bytes]) -> bytes:
            return build_security_object(card_number=credential.card.card_number, serial=credential.card.serial,
                                         issuer_code=credential.card.issuing_centre, iat=self.now - 60,
                                         exp=end_of_day(credential.card.expiry_date), files=files,
                                         signer=self.pki.issuer)
        return sign

    def content(self) -> CardContent:
        return CardContent.from_credential(sample_credential(), sample_photo())

    def personalise(self, card: ReferenceCard, **options: object) -> PersonalisationResult:
        link = EmulatorLink(card)
        link.connect()
        try:
            return personalise(link, self.content(), self.signer(), pin=PIN, **options)
        finally:
            link.disconnect()

    def issued_card(self, faults: FaultPlan | None = None) -> ReferenceCard:
        """A card personalised through the emulator, taken out and put back with `faults`
        (a new card object over the same image: the fault counts start with the next APDU)."""
        card = ReferenceCard.blank(pin=PIN)
        self.personalise(card)
        return ReferenceCard(card.image, faults)


@pytest.fixture(scope="session")
def chip_issuer(tmp_path_factory) -> ChipIssuer:
    now = CLOCK.now()
    return ChipIssuer(DevelopmentPki.create(tmp_path_factory.mktemp("chip-pki"), PASSPHRASE), now)
