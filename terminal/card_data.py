"""The data a card presented, in one shape whether it came from a QR code or a chip.

The groups are the dictionaries of :mod:`crypto.claims` (dates as ``datetime.date``,
enumerations as the schema's ``IntEnum`` members). A chip read carries only the groups
the site asked for; a QR code carries no photo. Only authenticated data gets here: the
QR claims after the signature check, chip groups after their digests matched.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from crypto.schema import InsuranceType

QR_PHOTO_NOTE = ("A QR code carries no photo: compare the person with the photo printed on the card, "
                 "or insert the card to read its chip.")
QR_PHOTO_NOTE_ZH = "二维码不含照片：请与卡面照片比对，或插卡读取芯片照片。"
ECARD_PHOTO_NOTE = ("An e-card QR carries no photo: compare the person with the photo in their passport "
                    "or on their card.")
ECARD_PHOTO_NOTE_ZH = "电子社保卡二维码不含照片：请与护照或社保卡上的照片比对。"


@dataclass(frozen=True)
class CardData:
    kind: str                          # "qr", "chip" or "ecard"
    holder: dict | None = None
    identifiers: dict | None = None
    permit: dict | None = None
    insurance: list | None = None      # five dicts: type, status, since, paid_through
    card: dict | None = None
    photo: bytes | None = None         # JPEG, chip DG2 only

    @classmethod
    def from_claims(cls, claims, kind: str = "qr") -> CardData:
        """From a decoded claim set (crypto.claims.Claims)."""
        d = claims.data
        return cls(kind, d["holder"], d["identifiers"], d["permit"], d["insurance"], d["card"])

    def medical(self) -> dict:
        for entry in self.insurance or ():
            if entry["type"] == InsuranceType.MEDICAL:
                return entry
        raise KeyError("medical insurance entry")

    def photo_field(self) -> dict:
        if self.photo is not None:
            return {"available": True, "media_type": "image/jpeg",
                    "base64": base64.b64encode(self.photo).decode("ascii")}
        if self.kind == "qr":
            return {"available": False, "note": QR_PHOTO_NOTE, "note_zh": QR_PHOTO_NOTE_ZH}
        if self.kind == "ecard":
            return {"available": False, "note": ECARD_PHOTO_NOTE, "note_zh": ECARD_PHOTO_NOTE_ZH}
        return {"available": False, "note": "the photo was not read from the chip",
                "note_zh": "未从芯片读取照片。"}
