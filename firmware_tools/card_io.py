"""What the chip reader (:mod:`firmware_tools.reader`) and the personaliser
(:mod:`firmware_tools.personalise`) share: a link that counts what crosses it, the errors a
card's answers turn into, the map from the security object's groups to the profile's
files, and the chip identifier.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from crypto.chip import Group
from firmware_tools.card.profile import FILES, ElementaryFile
from firmware_tools.iso7816.apdu import CommandApdu, ResponseApdu
from firmware_tools.iso7816.sw import StatusWord
from firmware_tools.link import CardLink

# docs/spec.md §10.1: a file's SO key is the value of its crypto.chip.Group.
EF_FOR_GROUP: dict[Group, ElementaryFile] = {Group(ef.so_key): ef for ef in FILES if ef.so_key is not None}
GROUP_FOR_EF: dict[ElementaryFile, Group] = {ef: group for group, ef in EF_FOR_GROUP.items()}
assert set(EF_FOR_GROUP) == set(Group), "every security object group needs a file in the profile"


class CardStatusError(Exception):
    """The card answered a status word the step did not expect."""

    def __init__(self, what: str, sw: int):
        super().__init__(f"{what}: {StatusWord(sw)}")
        self.what = what
        self.sw = sw


class FileFormatError(ValueError):
    """A file's bytes are not the one BER-TLV object its profile entry declares."""

    def __init__(self, ef: ElementaryFile, message: str):
        super().__init__(f"{ef.name}: {message}")
        self.ef = ef


def chip_id(public_point: bytes) -> str:
    """An identifier of the chip from its public key (the profile has no chip serial):
    the first 8 bytes of SHA-256 over the uncompressed point, in upper-case hex."""
    return hashlib.sha256(public_point).digest()[:8].hex().upper()


@dataclass
class Traffic:
    """What crossed the interface: command APDUs, and bytes each way (status words included).

    Counted at the :class:`CardLink`: a GET RESPONSE that PcscLink sends by itself after
    61xx is part of the command it follows.
    """

    apdus: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"apdus": self.apdus, "bytes_sent": self.bytes_sent, "bytes_received": self.bytes_received}


class CountingLink(CardLink):
    """A :class:`CardLink` that passes everything through to `inner` and counts the traffic."""

    def __init__(self, inner: CardLink, traffic: Traffic | None = None):
        self.inner = inner
        self.traffic = traffic if traffic is not None else Traffic()

    def connect(self) -> None:
        self.inner.connect()

    def transmit(self, apdu: bytes) -> bytes:
        self.traffic.apdus += 1
        self.traffic.bytes_sent += len(apdu)
        response = self.inner.transmit(apdu)
        self.traffic.bytes_received += len(response)
        return response

    def wait_for_card(self, timeout: float) -> bool:
        return self.inner.wait_for_card(timeout)

    def disconnect(self) -> None:
        self.inner.disconnect()

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    @property
    def extended_length(self) -> bool:
        return self.inner.extended_length


def expect_ok(link: CardLink, command: CommandApdu, what: str) -> bytes:
    """Send `command`; its response data when the card answers 9000, else CardStatusError."""
    response: ResponseApdu = link.send(command)
    if response.sw != 0x9000:
        raise CardStatusError(what, response.sw)
    return response.data
