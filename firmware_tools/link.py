"""The transport between a terminal or an encoder and a card: one interface, several links.

:class:`CardLink` is what the chip reader, the issuance encoder and the ``ssc-card``
command talk to; behind it stands a real PC/SC reader (:mod:`firmware_tools.pcsc`), the
reference card in the same process (:class:`EmulatorLink`), or anything else that moves
APDU bytes. A link moves bytes and reports presence; it never interprets a status word.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from firmware_tools.card.faults import CardRemoved
from firmware_tools.iso7816.apdu import CommandApdu, ResponseApdu
from firmware_tools.iso7816.atr import Atr, AtrError

if TYPE_CHECKING:
    from firmware_tools.card.emulator import ReferenceCard


class LinkError(Exception):
    """The transport failed: no response came back for the command."""


class NoCardError(LinkError):
    """No card was found in the reader."""


class CardRemovedError(LinkError):
    """The card was removed (or lost power) while it was in use."""


class ReaderGoneError(LinkError):
    """The reader disappeared (unplugged, or its driver went away)."""


class PcscUnavailableError(LinkError):
    """The PC/SC service (pcscd) or the pyscard binding is not available."""


class CardLink(ABC):
    """One reader slot and the card in it.

    `transmit` takes a whole command APDU and returns the response data followed by
    SW1 SW2, exactly as the card sent them. `atr` is the ATR read by the last `connect`
    (b"" before). `extended_length` says whether the card's ATR offers extended Lc/Le
    (ISO/IEC 7816-4:2005 §8.1.1.2.7); readers that find it False send short APDUs only.
    """

    @abstractmethod
    def connect(self) -> None:
        """Power the card and read its ATR; :class:`NoCardError` if the slot is empty."""

    @abstractmethod
    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; return response data + SW1 SW2."""

    @abstractmethod
    def wait_for_card(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a card in the slot; True when one is there."""

    @abstractmethod
    def disconnect(self) -> None:
        """Power the card off and release the slot. Safe to call twice."""

    @property
    @abstractmethod
    def atr(self) -> bytes:
        """The ATR of the connected card."""

    @property
    @abstractmethod
    def extended_length(self) -> bool:
        """The connected card accepts extended-length APDUs."""

    def send(self, command: CommandApdu) -> ResponseApdu:
        """`transmit` for typed APDUs."""
        return ResponseApdu.decode(self.transmit(command.encode()))

    def __enter__(self) -> "CardLink":
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()


def extended_length_from_atr(atr: bytes) -> bool:
    """The ATR's card capabilities offer extended Lc/Le; False for an unreadable ATR."""
    try:
        return Atr.decode(atr).extended_length
    except AtrError:
        return False


class EmulatorLink(CardLink):
    """A slot in the same process, holding a :class:`ReferenceCard` (or empty).

    `insert` and `remove` play the person at the counter; a removal injected by the card's
    fault plan surfaces as :class:`CardRemovedError`, as a real reader reports it.
    """

    def __init__(self, card: "ReferenceCard | None" = None):
        self._card = card
        self._atr = b""
        self._connected = False
        self._inserted = threading.Condition()

    @property
    def card(self) -> "ReferenceCard | None":
        return self._card

    def insert(self, card: "ReferenceCard") -> None:
        with self._inserted:
            self._card = card
            self._inserted.notify_all()

    def remove(self) -> None:
        with self._inserted:
            if self._card is not None and self._connected:
                self._card.power_off()
            self._card, self._connected, self._atr = None, False, b""

    def _present(self) -> bool:
        return self._card is not None and not self._card.removed

    def connect(self) -> None:
        if not self._present():
            raise NoCardError("no card in the emulated reader")
        self._atr = self._card.power_on()
        self._connected = True

    def transmit(self, apdu: bytes) -> bytes:
        if not self._present():
            self._connected = False
            raise CardRemovedError("the card is no longer in the emulated reader")
        if not self._connected:
            raise LinkError("transmit before connect")
        try:
            return self._card.process_apdu(bytes(apdu))
        except CardRemoved:
            self._connected = False
            raise CardRemovedError("the card was removed during the command") from None

    def wait_for_card(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._inserted:
            while not self._present():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._inserted.wait(min(left, 0.05))
            return True

    def disconnect(self) -> None:
        if self._connected and self._card is not None:
            self._card.power_off()
        self._connected = False

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def extended_length(self) -> bool:
        return extended_length_from_atr(self._atr)
