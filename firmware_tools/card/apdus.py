"""The command APDUs of the card application, built from the profile.

What a terminal, the issuance encoder and ``ssc-card`` send; the reference card answers
them, and docs/card.md shows them. Readers ask for `ne` bytes; keep `ne` at most 256 for
cards whose ATR does not offer extended length (:attr:`CardLink.extended_length`).
"""

from __future__ import annotations

from firmware_tools.card.profile import (AID, CARD_INFO, PIN_REFERENCE, PROPRIETARY, ElementaryFile,
                                         pin_block)
from firmware_tools.iso7816.apdu import CommandApdu

ISO = 0x00
SHORT_READ = 256
UPDATE_CHUNK = 255  # data bytes per UPDATE BINARY in short form


def select_application(*, fci: bool = False) -> CommandApdu:
    """SELECT by DF name; with `fci` ask for the FCI (6F), else no response data."""
    return CommandApdu(ISO, 0xA4, 0x04, 0x00 if fci else 0x0C, AID, ne=256 if fci else 0)


def select_file(ef: ElementaryFile, *, fcp: bool = False) -> CommandApdu:
    """SELECT an EF of the application by its file id."""
    return CommandApdu(ISO, 0xA4, 0x02, 0x04 if fcp else 0x0C, ef.fid_bytes, ne=256 if fcp else 0)


def select_mf() -> CommandApdu:
    return CommandApdu(ISO, 0xA4, 0x00, 0x0C, b"\x3f\x00")


def read_binary(offset: int, ne: int = SHORT_READ, *, ef: ElementaryFile | None = None) -> CommandApdu:
    """READ BINARY of the current EF at `offset`, or of `ef` by its SFI (offset < 256)."""
    if ef is not None:
        if not 0 <= offset <= 0xFF:
            raise ValueError("the short EF form takes offsets 0 to 255; select the file first")
        return CommandApdu(ISO, 0xB0, 0x80 | ef.sfi, offset, ne=ne)
    if not 0 <= offset <= 0x7FFF:
        raise ValueError("READ BINARY offsets are 15 bits")
    return CommandApdu(ISO, 0xB0, offset >> 8, offset & 0xFF, ne=ne)


def update_binary(offset: int, data: bytes) -> CommandApdu:
    """UPDATE BINARY of the current EF."""
    if not 0 <= offset <= 0x7FFF:
        raise ValueError("UPDATE BINARY offsets are 15 bits")
    return CommandApdu(ISO, 0xD6, offset >> 8, offset & 0xFF, data)


def erase_binary(offset: int = 0) -> CommandApdu:
    """ERASE BINARY of the current EF from `offset` to its end."""
    return CommandApdu(ISO, 0x0E, offset >> 8, offset & 0xFF)


def write_file(ef: ElementaryFile, content: bytes, *, chunk: int = UPDATE_CHUNK) -> list[CommandApdu]:
    """SELECT, ERASE BINARY, then UPDATE BINARY in chunks: what the encoder sends for one EF."""
    if len(content) > ef.max_size:
        raise ValueError(f"{ef.name} holds {ef.max_size} bytes, got {len(content)}")
    script = [select_file(ef), erase_binary(0)]
    script += [update_binary(at, content[at:at + chunk]) for at in range(0, len(content), chunk)]
    return script


def get_data(tag: int, ne: int = 256) -> CommandApdu:
    return CommandApdu(ISO, 0xCA, tag >> 8, tag & 0xFF, ne=ne)


def get_lifecycle() -> CommandApdu:
    return get_data(0x8A)


def get_card_info() -> CommandApdu:
    return get_data(CARD_INFO.tag, ne=CARD_INFO.max_size)


def verify(pin: str) -> CommandApdu:
    return CommandApdu(ISO, 0x20, 0x00, PIN_REFERENCE, pin_block(pin))


def verify_status() -> CommandApdu:
    """VERIFY without data: 9000 when verified, 63Cx tries left, 6983 blocked."""
    return CommandApdu(ISO, 0x20, 0x00, PIN_REFERENCE)


def forget_pin() -> CommandApdu:
    return CommandApdu(ISO, 0x20, 0xFF, PIN_REFERENCE)


def change_pin(old: str, new: str) -> CommandApdu:
    return CommandApdu(ISO, 0x24, 0x00, PIN_REFERENCE, pin_block(old) + pin_block(new))


def unblock_pin(puk: str, new_pin: str | None = None) -> CommandApdu:
    """RESET RETRY COUNTER with the unblocking code, optionally setting a new PIN."""
    if new_pin is None:
        return CommandApdu(ISO, 0x2C, 0x01, PIN_REFERENCE, pin_block(puk))
    return CommandApdu(ISO, 0x2C, 0x00, PIN_REFERENCE, pin_block(puk) + pin_block(new_pin))


def generate_key_pair() -> CommandApdu:
    return CommandApdu(ISO, 0x46, 0x80, 0x00, ne=256)


def read_public_key() -> CommandApdu:
    return CommandApdu(ISO, 0x46, 0x81, 0x00, ne=256)


def internal_authenticate(challenge: bytes) -> CommandApdu:
    return CommandApdu(ISO, 0x88, 0x00, 0x00, challenge, ne=256)


def get_response(ne: int = 256) -> CommandApdu:
    return CommandApdu(ISO, 0xC0, 0x00, 0x00, ne=ne)


def start_personalisation() -> CommandApdu:
    return CommandApdu(PROPRIETARY, 0xF0, 0x00, 0x00)


def activate() -> CommandApdu:
    return CommandApdu(ISO, 0x44, 0x00, 0x00)


def terminate() -> CommandApdu:
    return CommandApdu(ISO, 0xFE, 0x00, 0x00)
