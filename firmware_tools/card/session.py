"""What the reference card's command handlers share: the volatile session state, the reply
type, the refusal exception, and the checks every handler makes on P1-P2 and the body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol

from firmware_tools.card.image import CardImage
from firmware_tools.card.profile import ElementaryFile
from firmware_tools.iso7816.apdu import CommandApdu
from firmware_tools.iso7816.sw import SW


class CommandError(Exception):
    """The card refuses the command; `sw` is the status word that says why."""

    def __init__(self, sw: int):
        super().__init__(f"{sw:04X}")
        self.sw = sw


class Reply(NamedTuple):
    """Response data and status word of one command."""

    data: bytes = b""
    sw: int = SW.OK


@dataclass
class Session:
    """Volatile state, lost at reset and power-off (ISO/IEC 7816-4:2005 §5.3.2, §5.4.1)."""

    application: bool = False               # the application DF is the current DF
    current_ef: ElementaryFile | None = None
    pin_verified: bool = False              # security status of the application DF
    pending: bytes = b""                    # response bytes waiting for GET RESPONSE


class CardState(Protocol):
    """The parts of the card a handler may touch."""

    image: CardImage
    session: Session

    def save(self) -> None:
        """Persist the image (after every change of non-volatile state)."""

    def write_file(self, ef: ElementaryFile, offset: int, data: bytes) -> None:
        """Write into an EF and persist; where a tear is injected, only part of it lands."""


Handler = Callable[[CardState, CommandApdu], Reply]


def expect_p1p2(command: CommandApdu, p1p2: int = 0x0000) -> None:
    if command.p1p2 != p1p2:
        raise CommandError(SW.WRONG_P1P2)


def expect_no_data(command: CommandApdu) -> None:
    if command.data:
        raise CommandError(SW.WRONG_LENGTH)


def expect_data_length(command: CommandApdu, *lengths: int) -> None:
    if len(command.data) not in lengths:
        raise CommandError(SW.WRONG_LENGTH)
