"""Helpers of the terminal tests: a development PKI made for this run, records dated
around today (so that site policies pass: medical insurance paid through this month, the
work permit valid), QR texts, trust lists, and a terminal home folder."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from crypto import build_trust_list, parse_credential, qr_text_for
from crypto.pki import DevelopmentPki
from clock_support import CLOCK

PASSPHRASE = b"terminal-tests"
CHINA = dt.timezone(dt.timedelta(hours=8))


def today() -> dt.date:
    return CLOCK.china_today()


def record(*, serial: int = 42, paid_through: dt.date | None = None, medical_status: int = 1,
           permit_status: int = 1, valid_until: dt.date | None = None, family: str = "MUELLER",
           given: str = "ANNA") -> dict:
    """A typical record (crypto.samples) dated around today."""
    from crypto import samples

    t = today()
    rec = samples.typical_record()
    rec["holder"]["family_name"], rec["holder"]["given_names"] = family, given
    paid = (paid_through or t).replace(day=1)
    since = dt.date(t.year - 2, 1, 1)  # before any paid_through a test asks for (12 months back)
    rec["insurance"] = [{"type": k, "status": 1, "since": since.isoformat(), "paid_through": paid.isoformat()}
                        for k in range(1, 6)]
    rec["insurance"][1]["status"] = medical_status
    if medical_status == 0:
        rec["insurance"][1] = {"type": 2, "status": 0}
    rec["permit"]["valid_from"] = dt.date(t.year - 1, 1, 1).isoformat()
    rec["permit"]["valid_until"] = (valid_until or dt.date(t.year + 2, 12, 31)).isoformat()
    rec["permit"]["status"] = permit_status
    rec["card"]["serial"] = serial
    rec["card"]["card_number"] = f"M31A{serial:05d}"
    rec["card"]["issue_date"] = dt.date(t.year - 1, 1, 5).isoformat()
    rec["card"]["expiry_date"] = dt.date(t.year + 4, 1, 4).isoformat()
    return rec


@dataclass
class Pki:
    dev: DevelopmentPki
    folder: Path

    @property
    def root_path(self) -> Path:
        return self.folder / "root-ca.pem"

    def qr(self, rec: dict | None = None, iat: int | None = None) -> str:
        return qr_text_for(parse_credential(rec or record()), self.dev.issuer, iat=iat or CLOCK.now() - 60)

    def trust_list(self, version: int, *, revoked=(), issued_at: int | None = None, hours: int = 24) -> bytes:
        issued_at = issued_at if issued_at is not None else CLOCK.now() - 60
        return build_trust_list(version=version, issued_at=issued_at, next_update=issued_at + hours * 3600,
                                issuer_certificates=[self.dev.issuer.certificate],
                                revoked={"SH01": list(revoked)} if revoked else {},
                                signer=self.dev.trust_list_signer)


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    made = CLOCK.utc() - dt.timedelta(days=3)  # room for lists issued in the past
    return Pki(DevelopmentPki.create(folder, PASSPHRASE, now=made), folder)


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory) -> Pki:
    """Another root: its lists and credentials must be refused."""
    folder = tmp_path_factory.mktemp("other-pki")
    return Pki(DevelopmentPki.create(folder, PASSPHRASE), folder)


@pytest.fixture
def home(tmp_path, pki, monkeypatch) -> Path:
    """A terminal home with the pinned root and a synced trust list (version 1)."""
    var = tmp_path / "var"
    home = var / "terminal"
    (home / "trust").mkdir(parents=True)
    shutil.copy(pki.root_path, home / "root-ca.pem")
    (home / "trust" / "trustlist.cose").write_bytes(pki.trust_list(1))
    monkeypatch.setenv("SSC_VAR", str(var))
    monkeypatch.setenv("SSC_TERMINAL_HOME", str(home))
    monkeypatch.delenv("SSC_TERMINAL_SITE", raising=False)
    return home


def env_for(home: Path) -> dict:
    import os

    return dict(os.environ, SSC_VAR=str(home.parent), SSC_TERMINAL_HOME=str(home))


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


# -- chip cards ------------------------------------------------------------------------

CARD_PIN = "123456"


def issued_card(pki: Pki, rec: dict | None = None, *, faults=None, chip_key_of=None):
    """A reference card personalised with `rec` (photo in DG2) by this PKI's issuer.
    `chip_key_of`: another card whose chip key the copy gets (a copied card)."""
    import hashlib

    from crypto.chip import build_security_object
    from crypto.claims import end_of_day
    from firmware_tools.card.emulator import ReferenceCard
    from firmware_tools.card.image import CardImage
    from firmware_tools.link import EmulatorLink
    from firmware_tools.personalise import CardContent, personalise
    from tests.firmware_tools.chip_fixtures import sample_photo

    rec = dict(rec or record())
    photo = sample_photo()
    rec["holder"] = dict(rec["holder"], photo_digest=hashlib.sha256(photo).hexdigest())
    credential = parse_credential(rec)

    def sign(files):
        return build_security_object(card_number=credential.card.card_number, serial=credential.card.serial,
                                     issuer_code=credential.card.issuing_centre, iat=CLOCK.now() - 120,
                                     exp=end_of_day(credential.card.expiry_date), files=files,
                                     signer=pki.dev.issuer)
    card = ReferenceCard.blank(pin=CARD_PIN)
    link = EmulatorLink(card)
    link.connect()
    try:
        personalise(link, CardContent.from_credential(credential, photo), sign, pin=CARD_PIN)
    finally:
        link.disconnect()
    image = card.image
    if chip_key_of is not None:
        image = CardImage(lifecycle=image.lifecycle, files=dict(image.files), pin=CARD_PIN,
                          private_key=chip_key_of.image.private_key)
    return ReferenceCard(image, faults)
