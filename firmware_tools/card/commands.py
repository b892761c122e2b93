"""Reference card: selection, data unit handling, GET DATA, GET RESPONSE and the lifecycle.

Each handler implements one row of :data:`firmware_tools.card.profile.COMMANDS`; the
dispatcher (:mod:`firmware_tools.card.emulator`) has already checked the class byte, the
lifecycle state and the selection of the application, so a handler checks P1-P2, the
body, the access rules, then does the work.
"""

from __future__ import annotations

from firmware_tools.card.profile import (AID, AID_PREFIX, BY_FID, BY_SFI, CARD_INFO, MF_FID, REQUIRED_FOR_ISSUE, ElementaryFile, Lifecycle,
                                         Read, Write)
from firmware_tools.card.session import (CardState, CommandError, Handler, Reply, expect_no_data,
                                         expect_p1p2)
from firmware_tools.iso7816.apdu import CommandApdu
from firmware_tools.iso7816.sw import SW, bytes_remaining
from firmware_tools.iso7816.tlv import Tlv

# SELECT P2 (ISO/IEC 7816-4:2005 §7.1.1, Table 40): first occurrence, and what to return.
P2_FCI, P2_FCP, P2_NONE = 0x00, 0x04, 0x0C
FCI_TEMPLATE, FCP_TEMPLATE = 0x6F, 0x62
# File descriptor bytes (§5.3.3, Table 14): 38 = DF, 01 = working EF, transparent.
DESCRIPTOR_DF, DESCRIPTOR_EF = 0x38, 0x01


def _lcs(card: CardState) -> Tlv:
    return Tlv(0x8A, bytes((card.image.lifecycle,)))


def _file_control(card: CardState, p2: int, items: list[Tlv]) -> Reply:
    status = SW.FILE_TERMINATED if card.image.lifecycle is Lifecycle.TERMINATED else SW.OK
    if p2 == P2_NONE:
        return Reply(b"", status)
    template = FCI_TEMPLATE if p2 == P2_FCI else FCP_TEMPLATE
    return Reply(Tlv.of(template, items).encode(), status)


def _select_mf(card: CardState, p2: int) -> Reply:
    card.session.application, card.session.current_ef, card.session.pin_verified = False, None, False
    return _file_control(card, p2, [Tlv(0x82, bytes((DESCRIPTOR_DF,))), Tlv(0x83, MF_FID.to_bytes(2, "big"))])


def select(card: CardState, command: CommandApdu) -> Reply:
    """ISO/IEC 7816-4:2005 §7.1.1: by DF name (P1 04), by file id (P1 00, 02)."""
    p1, p2, data = command.p1, command.p2, command.data
    if p2 not in (P2_FCI, P2_FCP, P2_NONE):
        raise CommandError(SW.WRONG_P1P2)
    if p1 == 0x04:
        if not data:
            raise CommandError(SW.WRONG_LENGTH)
        if len(data) < len(AID_PREFIX) or not AID.startswith(data):
            raise CommandError(SW.FILE_NOT_FOUND)
        card.session.application, card.session.current_ef, card.session.pin_verified = True, None, False
        return _file_control(card, p2, [Tlv(0x82, bytes((DESCRIPTOR_DF,))), Tlv(0x84, AID), _lcs(card)])
    if p1 not in (0x00, 0x02):
        raise CommandError(SW.WRONG_P1P2)
    if p1 == 0x00 and not data:
        return _select_mf(card, p2)
    if len(data) != 2:
        raise CommandError(SW.WRONG_LENGTH)
    fid = int.from_bytes(data, "big")
    if fid == MF_FID and p1 == 0x00:
        return _select_mf(card, p2)
    ef = BY_FID.get(fid)
    if ef is None or not card.session.application:
        raise CommandError(SW.FILE_NOT_FOUND)
    card.session.current_ef = ef
    size = len(card.image.files.get(ef.fid, b""))
    return _file_control(card, p2, [Tlv(0x80, size.to_bytes(2, "big")), Tlv(0x82, bytes((DESCRIPTOR_EF,))),
                                    Tlv(0x83, ef.fid_bytes), Tlv(0x88, bytes((ef.sfi,))), _lcs(card)])


def resolve_file(card: CardState, command: CommandApdu) -> tuple[ElementaryFile, int]:
    """The EF and offset of a data unit command (ISO/IEC 7816-4:2005 §7.2.2).

    INS even, P1 bit 8 set: bits 5-1 of P1 are a short EF identifier (bits 7-6 are 00), P2
    is the offset, and the EF becomes current. Otherwise P1-P2 is a 15-bit offset into the
    current EF.
    """
    if command.p1 & 0x80:
        if command.p1 & 0x60:
            raise CommandError(SW.WRONG_P1P2)
        ef = BY_SFI.get(command.p1 & 0x1F)
        if ef is None:
            raise CommandError(SW.FILE_NOT_FOUND)
        card.session.current_ef = ef
        return ef, command.p2
    if card.session.current_ef is None:
        raise CommandError(SW.NO_CURRENT_EF)
    return card.session.current_ef, command.p1p2


def read_binary(card: CardState, command: CommandApdu) -> Reply:
    """ISO/IEC 7816-4:2005 §7.2.3. Fewer bytes than Ne left in the file: those and 6282."""
    ef, offset = resolve_file(card, command)
    expect_no_data(command)
    if command.ne == 0:
        raise CommandError(SW.WRONG_LENGTH)
    if ef.read is Read.PIN and not card.session.pin_verified:
        raise CommandError(SW.SECURITY_STATUS)
    content = card.image.files.get(ef.fid, b"")
    if offset > len(content):
        raise CommandError(SW.WRONG_P1P2_OFFSET)
    chunk = content[offset:offset + command.ne]
    return Reply(chunk, SW.OK if len(chunk) == command.ne else SW.END_OF_FILE)


def _writable(card: CardState, command: CommandApdu) -> tuple[ElementaryFile, int, bytes]:
    ef, offset = resolve_file(card, command)
    if ef.write is not Write.ISSUER:
        raise CommandError(SW.SECURITY_STATUS)
    content = card.image.files.get(ef.fid, b"")
    if offset > len(content):
        raise CommandError(SW.WRONG_P1P2_OFFSET)
    return ef, offset, content


def update_binary(card: CardState, command: CommandApdu) -> Reply:
    """ISO/IEC 7816-4:2005 §7.2.5. Writing may extend the file, never leave a gap."""
    if not command.data:
        raise CommandError(SW.WRONG_LENGTH)
    ef, offset, _ = _writable(card, command)
    if offset + len(command.data) > ef.max_size:
        raise CommandError(SW.NOT_ENOUGH_MEMORY)
    card.write_file(ef, offset, command.data)
    return Reply()


def erase_binary(card: CardState, command: CommandApdu) -> Reply:
    """ISO/IEC 7816-4:2005 §7.2.7, without a data field: the file ends at the offset."""
    expect_no_data(command)
    ef, offset, content = _writable(card, command)
    if offset < len(content):
        card.image.files[ef.fid] = content[:offset]
        if not card.image.files[ef.fid]:
            del card.image.files[ef.fid]
        card.save()
    return Reply()


def get_data(card: CardState, command: CommandApdu) -> Reply:
    """ISO/IEC 7816-4:2005 §7.4.2: P1-P2 is the tag; the whole data object is returned."""
    expect_no_data(command)
    if command.p1p2 == 0x008A:
        return Reply(_lcs(card).encode())
    if command.p1p2 == CARD_INFO.tag:
        content = card.image.files.get(CARD_INFO.fid)
        if content:
            return Reply(content)
    raise CommandError(SW.DATA_NOT_FOUND)


def get_response(card: CardState, command: CommandApdu) -> Reply:
    """ISO/IEC 7816-4:2005 §7.6.1: the next bytes of a response cut short by its Le."""
    expect_p1p2(command)
    expect_no_data(command)
    if not card.session.pending:
        raise CommandError(SW.CONDITIONS_NOT_SATISFIED)
    if command.ne == 0:
        raise CommandError(SW.WRONG_LENGTH)
    chunk, rest = card.session.pending[:command.ne], card.session.pending[command.ne:]
    card.session.pending = rest
    return Reply(chunk, bytes_remaining(len(rest)) if rest else SW.OK)


def _move_to(card: CardState, state: Lifecycle) -> Reply:
    card.image.lifecycle = state
    card.save()
    return Reply()


def start_personalisation(card: CardState, command: CommandApdu) -> Reply:
    """Proprietary: blank -> personalising (the dispatcher checked the state)."""
    expect_p1p2(command)
    expect_no_data(command)
    return _move_to(card, Lifecycle.PERSONALISING)


def activate_file(card: CardState, command: CommandApdu) -> Reply:
    """ISO/IEC 7816-9 ACTIVATE FILE on the application: personalising -> issued."""
    expect_p1p2(command)
    expect_no_data(command)
    missing = [ef for ef in REQUIRED_FOR_ISSUE if not card.image.files.get(ef.fid)]
    if missing or card.image.private_key is None:
        raise CommandError(SW.CONDITIONS_NOT_SATISFIED)
    return _move_to(card, Lifecycle.ISSUED)


def terminate_card_usage(card: CardState, command: CommandApdu) -> Reply:
    """ISO/IEC 7816-9 TERMINATE CARD USAGE: irreversible. Issued cards need the PIN first."""
    expect_p1p2(command)
    expect_no_data(command)
    if card.image.lifecycle is Lifecycle.ISSUED and not card.session.pin_verified:
        raise CommandError(SW.SECURITY_STATUS)
    return _move_to(card, Lifecycle.TERMINATED)


HANDLERS: dict[str, Handler] = {
    "SELECT": select,
    "READ BINARY": read_binary,
    "UPDATE BINARY": update_binary,
    "ERASE BINARY": erase_binary,
    "GET DATA": get_data,
    "GET RESPONSE": get_response,
    "START PERSONALISATION": start_personalisation,
    "ACTIVATE FILE": activate_file,
    "TERMINATE CARD USAGE": terminate_card_usage,
}

# Handlers that size their response themselves; the dispatcher cuts the others to Ne.
SELF_SIZED = frozenset({"READ BINARY", "GET RESPONSE"})
