"""The reference card: an emulator of the card application declared in
:mod:`firmware_tools.card.profile`, on a persistent image.

It stands behind :class:`firmware_tools.link.EmulatorLink` in the same process, and behind
the real PC/SC stack through the vpcd bridge (:mod:`firmware_tools.vpcd`). It answers
every byte string it is given with response data and a status word from
:mod:`firmware_tools.iso7816.sw`; it never raises, except :class:`CardRemoved` when its
:class:`FaultPlan` removes it or tears a write.

Order of the checks for each command (the first that fails gives the status word):

1. the APDU is one of the cases of ISO/IEC 7816-4:2005 §5.1 ........... else 6700
2. the class byte: no logical channel, SM or chaining (§5.1.1) ......... 6881 / 6882 / 6884 / 6E00
3. the instruction is in the profile for that class ................... 6D00
4. extended length is offered (not with `short_apdus_only`) ........... 6700
5. the application is selected, where the command needs it ............ 6985
6. the lifecycle state allows the command ............................. 6985
7. the handler: P1-P2, lengths, access rules, data, then the work
8. the response is cut to Ne; the rest waits for GET RESPONSE (61xx)

An APDU to an unpowered card first powers it, as a reader would. A failure to write the
image file answers 6581 (memory failure); an unexpected error answers 6F00 (the fuzz
test asserts that this never happens).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from firmware_tools.card import commands, security
from firmware_tools.card.faults import CardRemoved, FaultPlan, corrupt
from firmware_tools.card.image import CardImage, ImageError
from firmware_tools.card.profile import BY_HEADER, COMMANDS, ElementaryFile, answer_to_reset
from firmware_tools.card.session import CommandError, Handler, Reply, Session
from firmware_tools.iso7816.apdu import ApduError, CommandApdu
from firmware_tools.iso7816.sw import SW, bytes_remaining

__all__ = ["ReferenceCard", "CardImage", "FaultPlan", "CardRemoved", "ImageError", "HANDLERS"]

HANDLERS: dict[str, Handler] = {**commands.HANDLERS, **security.HANDLERS}
assert set(HANDLERS) == {c.name for c in COMMANDS}, "every profile command needs a handler"

_DATA_ALLOWED_SW1 = (0x90, 0x62, 0x63)  # normal and warning processing may carry data


def class_refusal(cla: int) -> int | None:
    """The status word refusing class byte `cla`, or None when it is 00 or 80.

    ISO/IEC 7816-4:2005 §5.1.1: first interindustry classes 000x xxxx (and proprietary
    100x xxxx, coded alike) carry chaining in bit 5, secure messaging in bits 4-3 and the
    channel in bits 2-1; further interindustry classes 01xx xxxx carry chaining in bit 5,
    SM in bit 6, channel 4 + bits 4-1. This card has one channel, no SM, no chaining.
    """
    if cla & 0x60 == 0x00:
        channel, sm, chaining = cla & 0x03, cla & 0x0C, cla & 0x10
    elif cla & 0xC0 == 0x40:
        channel, sm, chaining = 4 + (cla & 0x0F), cla & 0x20, cla & 0x10
    else:
        return SW.CLA_NOT_SUPPORTED
    if channel:
        return SW.CHANNEL_NOT_SUPPORTED
    if sm:
        return SW.SM_NOT_SUPPORTED
    if chaining:
        return SW.CHAINING_NOT_SUPPORTED
    return None


class ReferenceCard:
    """The card application on a :class:`CardImage`, saved to `path` after every change."""

    def __init__(self, image: CardImage, faults: FaultPlan | None = None, *,
                 path: Path | str | None = None):
        self.image = image
        self.faults = faults or FaultPlan()
        self.path = Path(path) if path is not None else None
        self.session = Session()
        self._powered = False
        self._removed = False
        self._removal_fired = False
        self._apdus = self._updates = self._data_responses = 0
        self._lock = threading.RLock()

    @classmethod
    def load(cls, path: Path | str, faults: FaultPlan | None = None) -> "ReferenceCard":
        """The card whose image is in `path` (:class:`ImageError` if it is not one)."""
        return cls(CardImage.load(path), faults, path=path)

    @classmethod
    def blank(cls, path: Path | str | None = None, *, pin: str = "123456", puk: str = "12345678",
              faults: FaultPlan | None = None) -> "ReferenceCard":
        """A card fresh from the factory; its image is written to `path` (replacing any)."""
        card = cls(CardImage(pin=pin, puk=puk), faults, path=path)
        card.save()
        return card

    def __repr__(self) -> str:
        return f"<ReferenceCard {self.image.lifecycle.name} {self.path or 'in memory'}>"

    # --- the contacts ------------------------------------------------------------------------
    @property
    def atr(self) -> bytes:
        return answer_to_reset(extended_length=not self.faults.short_apdus_only)

    @property
    def removed(self) -> bool:
        """The card has left the reader (an injected removal or tear)."""
        return self._removed

    def insert(self) -> None:
        """Put a removed card back; it comes back unpowered."""
        with self._lock:
            self._removed = False

    def power_on(self) -> bytes:
        """Cold reset: returns the ATR. Raises :class:`CardRemoved` when removed."""
        with self._lock:
            if self._removed:
                raise CardRemoved("the card is not in the reader")
            self.session = Session()
            self._powered = True
            return self.atr

    def reset(self) -> bytes:
        """Warm reset: selection, security status and pending response are lost."""
        return self.power_on()

    def power_off(self) -> None:
        with self._lock:
            self.session = Session()
            self._powered = False

    # --- non-volatile memory -----------------------------------------------------------------
    def save(self) -> None:
        if self.path is not None:
            self.image.save(self.path)

    def write_file(self, ef: ElementaryFile, offset: int, data: bytes) -> None:
        """UPDATE BINARY's write; a tear keeps `tear_keep` bytes, saves, and removes the card."""
        self._updates += 1
        torn = self.faults.tear_update == self._updates
        if torn:
            data = data[:self.faults.tear_keep]
        content = self.image.files.get(ef.fid, b"")
        self.image.files[ef.fid] = content[:offset] + data + content[offset + len(data):]
        if not self.image.files[ef.fid]:
            del self.image.files[ef.fid]
        self.save()
        if torn:
            self._lose_contact()
            raise CardRemoved(f"power lost during UPDATE BINARY of {ef.name}")

    def _lose_contact(self) -> None:
        self._removed, self._powered, self.session = True, False, Session()

    # --- the I/O line ------------------------------------------------------------------------
    def process_apdu(self, command: bytes) -> bytes:
        """Response data + SW1 SW2 for `command`. Raises only :class:`CardRemoved` (faults)."""
        with self._lock:
            if self._removed:
                raise CardRemoved("the card is not in the reader")
            self._apdus += 1
            plan = self.faults
            if plan.remove_after is not None and not self._removal_fired and self._apdus > plan.remove_after:
                self._removal_fired = True
                self._lose_contact()
                raise CardRemoved(f"the card left the reader after {plan.remove_after} APDUs")
            if not self._powered:
                self.power_on()
            if plan.delay:
                time.sleep(plan.delay)
            try:
                reply = self._dispatch(bytes(command))
            except CardRemoved:
                raise
            except OSError:
                reply = Reply(b"", SW.MEMORY_FAILURE)
            except Exception:  # noqa: BLE001 - a card answers every command with a status word
                reply = Reply(b"", SW.NO_DIAGNOSIS)
            data = reply.data
            if data and plan.corrupt_every:
                self._data_responses += 1
                if self._data_responses % plan.corrupt_every == 0:
                    data = corrupt(data)
            return data + int(reply.sw).to_bytes(2, "big")

    def _dispatch(self, raw: bytes) -> Reply:
        try:
            command = CommandApdu.decode(raw)
        except ApduError:
            self.session.pending = b""
            return Reply(b"", SW.WRONG_LENGTH)
        spec = BY_HEADER.get((command.cla, command.ins))
        if spec is None or spec.name != "GET RESPONSE":
            self.session.pending = b""
        refusal = class_refusal(command.cla)
        if refusal is not None:
            return Reply(b"", refusal)
        if spec is None:
            return Reply(b"", SW.INS_NOT_SUPPORTED)
        if command.extended and self.faults.short_apdus_only:
            return Reply(b"", SW.WRONG_LENGTH)
        if spec.needs_application and not self.session.application:
            return Reply(b"", SW.CONDITIONS_NOT_SATISFIED)
        if self.image.lifecycle not in spec.states:
            return Reply(b"", SW.CONDITIONS_NOT_SATISFIED)
        try:
            reply = HANDLERS[spec.name](self, command)
        except CommandError as refused:
            return Reply(b"", refused.sw)
        return reply if spec.name in commands.SELF_SIZED else self._fit(reply, command.ne)

    def _fit(self, reply: Reply, ne: int) -> Reply:
        """At most Ne bytes now; the rest waits for GET RESPONSE (ISO/IEC 7816-4:2005 §5.1.3)."""
        if not reply.data:
            return reply
        if reply.sw >> 8 not in _DATA_ALLOWED_SW1 or ne == 0:
            return Reply(b"", reply.sw)
        if len(reply.data) <= ne:
            return reply
        self.session.pending = reply.data[ne:]
        return Reply(reply.data[:ne], bytes_remaining(len(self.session.pending)))
