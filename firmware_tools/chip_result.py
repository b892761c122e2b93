"""The results of a chip read (:func:`firmware_tools.reader.read_card`): how far it got,
the verdict, and the reason codes of the chip checks."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from crypto.chip import Group, SecurityObject
from crypto.reasons import Reason
from crypto.verdict import Verdict
from firmware_tools.card_io import Traffic


# The chip checks' reason codes live with the others in crypto.reasons (spec §8, §10.3).
ChipReason = Reason
CHIP_REASONS = (Reason.CHIP_FILE_MALFORMED, Reason.CHIP_DIGEST_MISMATCH, Reason.CHIP_NOT_GENUINE,
                Reason.CHIP_NOT_ISSUED, Reason.CHIP_TERMINATED)


class ReadStatus(str, enum.Enum):
    """How far a chip read got. Only COMPLETE carries a verdict."""

    COMPLETE = "complete"              # a verdict was reached (VALID or not)
    CARD_REMOVED = "card_removed"      # the card left during the read: insert it again
    NO_CARD = "no_card"                # nothing in the reader
    READ_FAILED = "read_failed"        # the transport failed, the card may still be there: try again
    NOT_SSCARD = "not_sscard"          # the card has no sscard application
    PIN_REQUIRED = "pin_required"      # a requested group needs the holder's PIN
    PIN_WRONG = "pin_wrong"            # `tries_left` says how many tries remain
    PIN_BLOCKED = "pin_blocked"        # the holder must unblock it at an issuance centre


MESSAGES = {
    ReadStatus.CARD_REMOVED: "card removed, insert it again",
    ReadStatus.NO_CARD: "no card in the reader",
    ReadStatus.READ_FAILED: "the card could not be read, insert it again",
    ReadStatus.NOT_SSCARD: "this is not a social security card (no sscard application)",
    ReadStatus.PIN_REQUIRED: "the holder's PIN is needed to read the insurance data",
    ReadStatus.PIN_WRONG: "wrong PIN",
    ReadStatus.PIN_BLOCKED: "the PIN is blocked: the holder must have it unblocked",
}


@dataclass(frozen=True)
class ChipReadResult:
    """What a chip read gave: a verdict (status COMPLETE), or why there is none.

    `groups` holds the decoded CBOR item of each requested group that passed passive
    authentication; `absent` the requested groups the card does not have (an empty file
    the security object has no digest for). Only trust them when `valid`.
    """

    status: ReadStatus
    verdict: Verdict | None = None
    groups: Mapping[Group, object] = field(default_factory=dict)
    absent: tuple[Group, ...] = ()
    security_object: SecurityObject | None = None
    chip_id: str | None = None
    message: str = ""
    tries_left: int | None = None
    traffic: Traffic = field(default_factory=Traffic)
    seconds: float = 0.0

    @property
    def valid(self) -> bool:
        return self.status is ReadStatus.COMPLETE and self.verdict is not None and self.verdict.valid

    def to_dict(self) -> dict:
        return {"status": self.status.value, "message": self.message,
                "verdict": self.verdict.to_dict() if self.verdict else None,
                "groups": sorted(g.name for g in self.groups), "absent": [g.name for g in self.absent],
                "chip_id": self.chip_id, "tries_left": self.tries_left, **self.traffic.to_dict(),
                "seconds": round(self.seconds, 4)}
