"""The card application, declared once: AID, files, access rules, commands, lifecycle.

This module is the single source of truth for the chip. The reference card
(:mod:`firmware_tools.card.emulator`), the command builders a terminal and the issuance
encoder use (:mod:`firmware_tools.card.apdus`) and docs/card.md
(:mod:`firmware_tools.card.docs`) are all derived from the tables below; a test fails when
docs/card.md no longer matches them.

File layout (every EF): one BER-TLV data object (ISO/IEC 7816-4:2005 §5.2.2) whose tag is
the file's, holding one primitive data object 53 (discretionary data, §5.2.2 / ISO/IEC
7816-6) whose value is one deterministically encoded CBOR data item (RFC 8949 §4.2.1):

    <file tag> L  53 L  <CBOR item>

The file tags are the ICAO Doc 9303-10 data-group tags (60 COM, 61 DG1, 75 DG2, 63 DG3,
76 DG4, 65 DG5, 77 SOD), so generic eMRTD tools show familiar names; the contents are ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from crypto import cbor
from firmware_tools.iso7816.atr import build_atr, compact
from firmware_tools.iso7816.sw import SW
from firmware_tools.iso7816.tlv import Tlv, TlvError

# --- application identifier ---------------------------------------------------------------
# ISO/IEC 7816-4:2005 §8.2.1.2 / ISO/IEC 7816-5: an AID whose first nibble is F is a
# proprietary AID, not registered: F0, then "SSCARD" in ASCII, then the application
# version. Terminals select with the full 8 bytes; a right-truncated AID of at least the
# first 7 bytes is accepted too (SELECT by DF name, partial, §7.1.1).
AID_PREFIX = b"\xf0" + b"SSCARD"
APPLICATION_VERSION = 1
AID = AID_PREFIX + bytes((APPLICATION_VERSION,))
APPLICATION_LABEL = "sscard social security card application"


class Lifecycle(IntEnum):
    """Life cycle status byte values (ISO/IEC 7816-4:2005 §5.3.3.2, Table 13)."""

    BLANK = 0x01          # creation state: from the chip factory, nothing written
    PERSONALISING = 0x03  # initialisation state: the issuance encoder writes files and makes the key
    ISSUED = 0x05         # operational state (activated): files locked, read and authenticate only
    TERMINATED = 0x0C     # termination state: irreversible, the card answers no data


class Read(Enum):
    """Who may read a file."""

    ALWAYS = "always"
    PIN = "after VERIFY with the holder's PIN"


class Write(Enum):
    """Who may write a file."""

    ISSUER = "UPDATE BINARY, personalising state only"
    CARD = "the card itself (GENERATE ASYMMETRIC KEY PAIR); never by command"


@dataclass(frozen=True)
class ElementaryFile:
    """A transparent EF of the application, holding one TLV-wrapped CBOR item."""

    name: str
    fid: int        # file identifier (ISO/IEC 7816-4:2005 §5.3.1.1)
    sfi: int        # short EF identifier, 1..30 (§5.3.1.1)
    tag: int        # the outer data object's tag
    max_size: int   # bytes allocated to the file
    read: Read
    write: Write
    so_key: int | None  # key of its digest in the security object's digest map, None if not hashed
    content: str

    def wrap(self, payload: bytes) -> bytes:
        """The file bytes for a CBOR `payload`: <tag> L 53 L payload."""
        raw = Tlv.of(self.tag, [Tlv(PAYLOAD_TAG, payload)]).encode()
        if len(raw) > self.max_size:
            raise ValueError(f"{self.name}: {len(raw)} bytes, the file holds {self.max_size}")
        return raw

    def unwrap(self, raw: bytes) -> bytes:
        """The CBOR payload of the file bytes; :class:`TlvError` when the layout is wrong."""
        outer = Tlv.decode(raw)
        if outer.tag != self.tag:
            raise TlvError(f"{self.name} starts with tag {outer.tag:X}, expected {self.tag:X}")
        inner = outer.children()
        if len(inner) != 1 or inner[0].tag != PAYLOAD_TAG:
            raise TlvError(f"{self.name} must hold exactly one data object {PAYLOAD_TAG:X}")
        return inner[0].value

    @property
    def fid_bytes(self) -> bytes:
        return self.fid.to_bytes(2, "big")


PAYLOAD_TAG = 0x53  # discretionary data (ISO/IEC 7816-6 interindustry data element)
PHOTO_MAX_BYTES = 16 * 1024

ALWAYS, AFTER_PIN = Read.ALWAYS, Read.PIN
ISSUER, CHIP = Write.ISSUER, Write.CARD

# The card: one row per elementary file under the application DF.
#                                name           FID     SFI   tag   max bytes              read    write   SO key
CARD_INFO = ElementaryFile(      "EF.CardInfo", 0x011E, 0x1E, 0x60, 512,                   ALWAYS, ISSUER, 0,
    "card number, kind, sequence, issue and expiry dates, issuing centre (CBOR map)")
DG1 = ElementaryFile(            "EF.DG1",      0x0101, 0x01, 0x61, 1024,                  ALWAYS, ISSUER, 1,
    "holder: names, nationality, birth date, sex, photo digest, identifiers (CBOR map)")
DG2 = ElementaryFile(            "EF.DG2",      0x0102, 0x02, 0x75, PHOTO_MAX_BYTES + 64,  ALWAYS, ISSUER, 2,
    "photo: CBOR byte string holding a JPEG of at most 16 KiB")
DG3 = ElementaryFile(            "EF.DG3",      0x0103, 0x03, 0x63, 1024,                  ALWAYS, ISSUER, 3,
    "work permit: category, employer, position, location, validity, status (CBOR map)")
DG4 = ElementaryFile(            "EF.DG4",      0x0104, 0x04, 0x76, 1024,                  AFTER_PIN, ISSUER, 4,
    "insurance: the five insurances, enrolment and payment status (CBOR map)")
DG5 = ElementaryFile(            "EF.DG5",      0x0105, 0x05, 0x65, 256,                   ALWAYS, CHIP,   5,
    "chip public key: COSE_Key (RFC 9052 §7), EC2 P-256, made inside the card")
SECURITY_OBJECT = ElementaryFile("EF.SO",       0x011D, 0x1D, 0x77, 4096,                  ALWAYS, ISSUER, None,
    "security object: COSE_Sign1 (RFC 9052) by the issuer, opaque to the card")

FILES: tuple[ElementaryFile, ...] = (CARD_INFO, DG1, DG2, DG3, DG4, DG5, SECURITY_OBJECT)
BY_FID = {ef.fid: ef for ef in FILES}
BY_SFI = {ef.sfi: ef for ef in FILES}
BY_TAG = {ef.tag: ef for ef in FILES}
MF_FID = 0x3F00

# Files that must be written before ACTIVATE FILE may lock the card.
REQUIRED_FOR_ISSUE = (CARD_INFO, DG1, DG5, SECURITY_OBJECT)

# Why DG4 needs the PIN: insurance status is health-related, sensitive personal
# information (PIPL art. 28); the holder consents by entering the PIN, as for medical
# settlement with today's social security cards. The e-card QR is the no-PIN alternative.


# --- PIN and unblocking code ----------------------------------------------------------------
PIN_REFERENCE = 0x81          # P2 of VERIFY etc.: specific reference data number 1 (§7.5.6)
PIN_LENGTHS = range(6, 9)     # digits
PIN_TRIES = 3
PUK_LENGTH = 8                # digits; the resetting code of RESET RETRY COUNTER (§7.5.10)
PUK_TRIES = 10
PIN_BLOCK_SIZE = 8
PIN_PAD = 0xFF                # the PIN's ASCII digits, right-padded with FF (as PIV does)


def pin_block(pin: str) -> bytes:
    """The 8-byte PIN block of `pin` (or of the 8-digit unblocking code)."""
    if not pin.isdigit() or not pin.isascii() or len(pin) > PIN_BLOCK_SIZE:
        raise ValueError("a PIN is 6 to 8 decimal digits")
    return pin.encode("ascii").ljust(PIN_BLOCK_SIZE, bytes((PIN_PAD,)))


def parse_pin_block(block: bytes) -> str | None:
    """The digits of a well-formed PIN block, or None."""
    if len(block) != PIN_BLOCK_SIZE:
        return None
    digits = bytes(block).rstrip(bytes((PIN_PAD,)))
    if not digits or not all(0x30 <= b <= 0x39 for b in digits):
        return None
    return digits.decode("ascii")


def valid_pin(pin: str | None) -> bool:
    return pin is not None and len(pin) in PIN_LENGTHS


def valid_puk(puk: str | None) -> bool:
    return puk is not None and len(puk) == PUK_LENGTH


# --- active authentication (INTERNAL AUTHENTICATE) -------------------------------------------
# The chip signs AA_CONTEXT || challenge with ECDSA P-256 / SHA-256 (FIPS 186-5) and returns
# r || s, 32 bytes each, big-endian. The context string keeps the chip from being a
# signing oracle for any other format that uses the same key type.
AA_CONTEXT = b"SSCARD-AA-v1\x00"
CHALLENGE_LENGTHS = range(8, 65)
SIGNATURE_SIZE = 64


def aa_message(challenge: bytes) -> bytes:
    """The exact bytes the chip signs for INTERNAL AUTHENTICATE."""
    return AA_CONTEXT + bytes(challenge)


# --- chip public key (DG5 payload and the GENERATE ASYMMETRIC KEY PAIR response) ------------
COSE_KTY, COSE_CRV, COSE_X, COSE_Y = 1, -1, -2, -3
COSE_KTY_EC2, COSE_CRV_P256 = 2, 1
PUBLIC_KEY_TEMPLATE, PUBLIC_POINT_TAG = 0x7F49, 0x86  # ISO/IEC 7816-8:2004 §5.1, Table 3


def chip_key_payload(point: bytes) -> bytes:
    """DG5's CBOR: the COSE_Key of an uncompressed P-256 point 04 || X || Y."""
    if len(point) != 65 or point[0] != 0x04:
        raise ValueError("an uncompressed P-256 point is 65 bytes starting with 04")
    return cbor.dumps({COSE_KTY: COSE_KTY_EC2, COSE_CRV: COSE_CRV_P256,
                       COSE_X: point[1:33], COSE_Y: point[33:]})


def chip_key_point(payload: bytes) -> bytes:
    """The uncompressed point 04 || X || Y of DG5's CBOR; ValueError if it is not one."""
    key = cbor.loads(payload, max_size=256, what="chip public key", deterministic=True)
    if (not isinstance(key, dict) or key.get(COSE_KTY) != COSE_KTY_EC2
            or key.get(COSE_CRV) != COSE_CRV_P256 or set(key) != {COSE_KTY, COSE_CRV, COSE_X, COSE_Y}):
        raise ValueError("DG5 is not an EC2 P-256 COSE_Key")
    x, y = key[COSE_X], key[COSE_Y]
    if not (isinstance(x, bytes) and isinstance(y, bytes) and len(x) == len(y) == 32):
        raise ValueError("DG5 coordinates must be 32-byte strings")
    return b"\x04" + x + y


# --- GET DATA objects (ISO/IEC 7816-4:2005 §7.4.2; P1-P2 is the tag) ------------------------
@dataclass(frozen=True)
class DataObject:
    tag: int
    name: str
    content: str


DATA_OBJECTS: tuple[DataObject, ...] = (
    DataObject(0x8A, "life cycle status", "8A 01 <LCS>: 01 blank, 03 personalising, 05 issued, 0C terminated"),
    DataObject(0x60, "card info", "the whole of EF.CardInfo (60 L 53 L <CBOR>); 6A88 while it is empty"),
)


# --- commands --------------------------------------------------------------------------------
ISO, PROPRIETARY = 0x00, 0x80
EVERY_STATE = frozenset(Lifecycle)
LIVE = frozenset({Lifecycle.BLANK, Lifecycle.PERSONALISING, Lifecycle.ISSUED})
WORKING = frozenset({Lifecycle.PERSONALISING, Lifecycle.ISSUED})
PERSO = frozenset({Lifecycle.PERSONALISING})


@dataclass(frozen=True)
class Command:
    """One command of the application: its header, where it works, what it can answer."""

    name: str
    cla: int
    ins: tuple[int, ...]
    reference: str
    p1p2: str
    data: str
    response: str
    states: frozenset[Lifecycle]   # elsewhere: 6985
    needs_application: bool        # without the application selected: 6985
    status_words: tuple[int, ...]  # besides 9000 and the checks every command shares


S = SW
TRIES_LEFT = 0x63C0  # 63Cx: verification failed, x tries left
COMMANDS: tuple[Command, ...] = (
    Command("SELECT", ISO, (0xA4,), "ISO/IEC 7816-4:2005 §7.1.1",
            "04 0C/00/04: by AID; 00 or 02 0C/00/04: by file id (3F00 = MF)",
            "AID (7-8 bytes) or file id (2 bytes)", "P2 00: FCI 6F, 04: FCP 62, 0C: none",
            EVERY_STATE, False, (S.FILE_TERMINATED, S.FILE_NOT_FOUND, S.WRONG_P1P2, S.WRONG_LENGTH)),
    Command("READ BINARY", ISO, (0xB0,), "ISO/IEC 7816-4:2005 §7.2.3",
            "offset (15 bits), or 1xxxxxxx SFI in P1 and offset in P2", "none; Le = bytes wanted",
            "file bytes; 6282 when the file ends first", WORKING, True,
            (S.END_OF_FILE, S.SECURITY_STATUS, S.NO_CURRENT_EF, S.FILE_NOT_FOUND, S.WRONG_P1P2,
             S.WRONG_P1P2_OFFSET, S.WRONG_LENGTH)),
    Command("UPDATE BINARY", ISO, (0xD6,), "ISO/IEC 7816-4:2005 §7.2.5",
            "as READ BINARY", "bytes to write at the offset (no gap after the file's end)", "none",
            PERSO, True, (S.SECURITY_STATUS, S.NO_CURRENT_EF, S.FILE_NOT_FOUND, S.WRONG_P1P2,
                          S.WRONG_P1P2_OFFSET, S.NOT_ENOUGH_MEMORY, S.WRONG_LENGTH)),
    Command("ERASE BINARY", ISO, (0x0E,), "ISO/IEC 7816-4:2005 §7.2.7",
            "as READ BINARY", "none", "none: the file ends at the offset",
            PERSO, True, (S.SECURITY_STATUS, S.NO_CURRENT_EF, S.FILE_NOT_FOUND, S.WRONG_P1P2,
                          S.WRONG_P1P2_OFFSET, S.WRONG_LENGTH)),
    Command("GET DATA", ISO, (0xCA,), "ISO/IEC 7816-4:2005 §7.4.2",
            "tag of the data object: 008A or 0060", "none", "the data object, tag and length included",
            EVERY_STATE, False, (S.DATA_NOT_FOUND, S.WRONG_LENGTH)),
    Command("VERIFY", ISO, (0x20,), "ISO/IEC 7816-4:2005 §7.5.6",
            "00 81 (FF 81: forget the verification)", "PIN block (8 bytes); none: ask the status",
            "none", LIVE, True, (TRIES_LEFT, S.AUTH_METHOD_BLOCKED, S.WRONG_DATA,
                                 S.DATA_NOT_FOUND, S.WRONG_P1P2, S.WRONG_LENGTH)),
    Command("CHANGE REFERENCE DATA", ISO, (0x24,), "ISO/IEC 7816-4:2005 §7.5.7",
            "00 81", "current PIN block || new PIN block (16 bytes)", "none", LIVE, True,
            (TRIES_LEFT, S.AUTH_METHOD_BLOCKED, S.WRONG_DATA, S.DATA_NOT_FOUND,
             S.WRONG_P1P2, S.WRONG_LENGTH)),
    Command("RESET RETRY COUNTER", ISO, (0x2C,), "ISO/IEC 7816-4:2005 §7.5.10",
            "00 81: unblock and set a new PIN; 01 81: unblock only",
            "unblocking code (8 digits) || new PIN block, or the unblocking code alone", "none", LIVE, True,
            (TRIES_LEFT, S.AUTH_METHOD_BLOCKED, S.WRONG_DATA, S.DATA_NOT_FOUND,
             S.WRONG_P1P2, S.WRONG_LENGTH)),
    Command("GENERATE ASYMMETRIC KEY PAIR", ISO, (0x46, 0x47), "ISO/IEC 7816-8:2004 §5.1",
            "80 00: make a new P-256 key (personalising only); 81 00: read the public key", "none",
            "7F49 L 86 41 04||X||Y", WORKING, True,
            (S.CONDITIONS_NOT_SATISFIED, S.DATA_NOT_FOUND, S.WRONG_P1P2, S.WRONG_LENGTH)),
    Command("INTERNAL AUTHENTICATE", ISO, (0x88,), "ISO/IEC 7816-4:2005 §7.5.2",
            "00 00", "challenge, 8 to 64 bytes", "ECDSA signature r||s (64 bytes)", WORKING, True,
            (S.DATA_NOT_FOUND, S.WRONG_P1P2, S.WRONG_LENGTH)),
    Command("GET RESPONSE", ISO, (0xC0,), "ISO/IEC 7816-4:2005 §7.6.1",
            "00 00", "none; Le = bytes wanted", "the next response bytes; 61xx while more wait",
            EVERY_STATE, False, (S.CONDITIONS_NOT_SATISFIED, S.WRONG_P1P2, S.WRONG_LENGTH)),
    Command("START PERSONALISATION", PROPRIETARY, (0xF0,), "proprietary (this profile)",
            "00 00", "none", "none: blank becomes personalising", frozenset({Lifecycle.BLANK}), True,
            (S.CONDITIONS_NOT_SATISFIED, S.WRONG_P1P2, S.WRONG_LENGTH)),
    Command("ACTIVATE FILE", ISO, (0x44,), "ISO/IEC 7816-9:2017 (ACTIVATE FILE)",
            "00 00 (the application)", "none", "none: personalising becomes issued", PERSO, True,
            (S.CONDITIONS_NOT_SATISFIED, S.WRONG_P1P2, S.WRONG_LENGTH)),
    Command("TERMINATE CARD USAGE", ISO, (0xFE,), "ISO/IEC 7816-9:2017 (TERMINATE CARD USAGE)",
            "00 00", "none", "none: the card is terminated, irreversibly",
            frozenset({Lifecycle.PERSONALISING, Lifecycle.ISSUED}), True,
            (S.SECURITY_STATUS, S.CONDITIONS_NOT_SATISFIED, S.WRONG_P1P2, S.WRONG_LENGTH)),
)
BY_NAME = {command.name: command for command in COMMANDS}
BY_HEADER = {(command.cla, ins): command for command in COMMANDS for ins in command.ins}


@dataclass(frozen=True)
class Transition:
    before: Lifecycle
    command: str
    after: Lifecycle
    condition: str


LIFECYCLE: tuple[Transition, ...] = (
    Transition(Lifecycle.BLANK, "START PERSONALISATION", Lifecycle.PERSONALISING, "none"),
    Transition(Lifecycle.PERSONALISING, "ACTIVATE FILE", Lifecycle.ISSUED,
               "the chip key exists and " + ", ".join(ef.name for ef in REQUIRED_FOR_ISSUE if ef is not DG5)
               + " are written"),
    Transition(Lifecycle.PERSONALISING, "TERMINATE CARD USAGE", Lifecycle.TERMINATED, "none (spoiled card)"),
    Transition(Lifecycle.ISSUED, "TERMINATE CARD USAGE", Lifecycle.TERMINATED,
               "the holder's PIN verified in this session"),
)


# --- answer to reset ------------------------------------------------------------------------
# Card capabilities (ISO/IEC 7816-4:2005 §8.1.1.2.7, Tables 86-88): selection by full and
# partial DF name, by file id and by SFI; data unit of one byte; extended Lc/Le.
SELECTION_METHODS = 0xD4
DATA_CODING = 0x01


def historical_bytes(extended_length: bool = True) -> bytes:
    """Category 80, then compact-TLV: application identifier (F) and card capabilities (7)."""
    third = 0x40 if extended_length else 0x00
    return b"\x80" + compact(0xF, AID) + compact(0x7, bytes((SELECTION_METHODS, DATA_CODING, third)))


def answer_to_reset(extended_length: bool = True) -> bytes:
    """The reference card's ATR: T=1 offered, direct convention (ISO/IEC 7816-3:2006 §8.2)."""
    return build_atr(historical_bytes(extended_length), protocol=1)


# --- file contents as values, for the generic vector walk -----------------------------------
@dataclass(frozen=True)
class FileContent:
    """What an EF holds: the file and its CBOR payload. `decode` finds the file by its tag."""

    file: ElementaryFile
    payload: bytes

    def encode(self) -> bytes:
        return self.file.wrap(self.payload)

    @classmethod
    def decode(cls, raw: bytes) -> "FileContent":
        outer = Tlv.decode(raw)
        ef = BY_TAG.get(outer.tag)
        if ef is None:
            raise TlvError(f"no file of this profile has tag {outer.tag:X}")
        return cls(ef, ef.unwrap(raw))


_test_vectors = [
    ("6006" "5304" "a1016131", FileContent(CARD_INFO, bytes.fromhex("a1016131"))),       # {1: "1"}
    ("6103" "5301" "a0", FileContent(DG1, b"\xa0")),                                       # {}
    ("7582" "0107" "5382" "0103" "590100" + "ff" * 256, FileContent(DG2, b"\x59\x01\x00" + b"\xff" * 256)),
    ("6303" "5301" "f6", FileContent(DG3, b"\xf6")),                                       # null
    ("7603" "5301" "80", FileContent(DG4, b"\x80")),                                       # []
    ("654d" "534b" "a4" "0102" "2001" "215820" + "11" * 32 + "225820" + "22" * 32,
     FileContent(DG5, chip_key_payload(b"\x04" + b"\x11" * 32 + b"\x22" * 32))),
    ("7704" "5302" "d212", FileContent(SECURITY_OBJECT, b"\xd2\x12")),                    # tag 18(...)
]

_test_invalid = [
    (FileContent, "6203" "5301" "a0", TlvError),        # no file has tag 62
    (FileContent, "6103" "5401" "a0", TlvError),        # inner tag must be 53
    (FileContent, "6106" "5301" "a0" "5300", TlvError),  # one inner object only
    (FileContent, "6103" "5302" "a0", TlvError),        # truncated
]
