"""Status words SW1-SW2 (ISO/IEC 7816-4:2005 §5.1.3, Tables 5 and 6).

:class:`SW` is the table of fixed values the card application uses or a reader meets;
:data:`SW_RANGES` covers the families whose SW2 carries a number (61xx, 6Cxx, 63Cx).
:class:`StatusWord` names any value; :func:`is_known` tells whether a value is in either
table (the fuzz test asserts every response ends in a known status word).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class SW(IntEnum):
    """Status words with a fixed value (ISO/IEC 7816-4:2005 Tables 5 and 6)."""

    meaning: str

    def __new__(cls, value: int, meaning: str):
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    #                             value   meaning
    OK                          = 0x9000, "normal processing"
    DATA_MAY_BE_CORRUPTED       = 0x6281, "part of the returned data may be corrupted"
    END_OF_FILE                 = 0x6282, "end of file reached before reading Ne bytes"
    FILE_DEACTIVATED            = 0x6283, "selected file deactivated"
    FILE_TERMINATED             = 0x6285, "selected file in termination state"
    VERIFICATION_FAILED         = 0x6300, "verification failed, no information given"
    MEMORY_FAILURE              = 0x6581, "memory failure"
    WRONG_LENGTH                = 0x6700, "wrong length (Lc or Le, or the data field)"
    CHANNEL_NOT_SUPPORTED       = 0x6881, "logical channel not supported"
    SM_NOT_SUPPORTED            = 0x6882, "secure messaging not supported"
    CHAINING_NOT_SUPPORTED      = 0x6884, "command chaining not supported"
    SECURITY_STATUS             = 0x6982, "security status not satisfied"
    AUTH_METHOD_BLOCKED         = 0x6983, "authentication method blocked"
    REFERENCE_DATA_NOT_USABLE   = 0x6984, "reference data not usable"
    CONDITIONS_NOT_SATISFIED    = 0x6985, "conditions of use not satisfied"
    NO_CURRENT_EF               = 0x6986, "command not allowed (no current EF)"
    WRONG_DATA                  = 0x6A80, "incorrect parameters in the command data field"
    FUNCTION_NOT_SUPPORTED      = 0x6A81, "function not supported"
    FILE_NOT_FOUND              = 0x6A82, "file or application not found"
    NOT_ENOUGH_MEMORY           = 0x6A84, "not enough memory space in the file"
    WRONG_P1P2                  = 0x6A86, "incorrect parameters P1-P2"
    DATA_NOT_FOUND              = 0x6A88, "referenced data or reference data not found"
    WRONG_P1P2_OFFSET           = 0x6B00, "wrong parameters P1-P2 (offset outside the EF)"
    INS_NOT_SUPPORTED           = 0x6D00, "instruction code not supported or invalid"
    CLA_NOT_SUPPORTED           = 0x6E00, "class not supported"
    NO_DIAGNOSIS                = 0x6F00, "no precise diagnosis"


@dataclass(frozen=True)
class SwRange:
    """A family of status words: `value & mask == base`, the low bits carry a number."""

    base: int
    mask: int
    name: str
    meaning: str  # "{n}" is replaced by the number in the low bits
    zero_is_256: bool = False  # SW2 = 00 stands for 256 (61xx, 6Cxx)


SW_RANGES: tuple[SwRange, ...] = (
    #       base    mask    name               meaning                                     SW2=00
    SwRange(0x6100, 0xFF00, "BYTES_REMAINING", "{n} more response bytes: send GET RESPONSE", True),
    SwRange(0x6C00, 0xFF00, "WRONG_LE",        "wrong Le: {n} bytes are available",          True),
    SwRange(0x63C0, 0xFFF0, "COUNTER",         "verification failed, {n} tries left",        False),
)


def bytes_remaining(n: int) -> int:
    """61xx: `n` more bytes wait for GET RESPONSE (xx = 00 means 256 or more)."""
    return 0x6100 | (min(n, 256) & 0xFF)


def wrong_le(n: int) -> int:
    """6Cxx: the exact Le to use (xx = 00 means 256)."""
    return 0x6C00 | (min(n, 256) & 0xFF)


def counter(tries_left: int) -> int:
    """63Cx: verification failed, x further tries allowed."""
    return 0x63C0 | min(max(tries_left, 0), 15)


def _range_of(value: int) -> SwRange | None:
    return next((r for r in SW_RANGES if value & r.mask == r.base), None)


def is_known(value: int) -> bool:
    """True when `value` is in :class:`SW` or in one of :data:`SW_RANGES`."""
    return value in SW._value2member_map_ or _range_of(value) is not None


@dataclass(frozen=True)
class StatusWord:
    """SW1-SW2 with its name and meaning from the tables above."""

    value: int

    @property
    def sw1(self) -> int:
        return self.value >> 8

    @property
    def sw2(self) -> int:
        return self.value & 0xFF

    @property
    def name(self) -> str:
        if self.value in SW._value2member_map_:
            return SW(self.value).name
        found = _range_of(self.value)
        return found.name if found else "UNKNOWN"

    @property
    def meaning(self) -> str:
        if self.value in SW._value2member_map_:
            return SW(self.value).meaning
        found = _range_of(self.value)
        if found is None:
            return "not a status word this profile knows"
        n = self.value & ~found.mask & 0xFFFF
        if found.zero_is_256 and n == 0:
            n = 256
        return found.meaning.format(n=n)

    @property
    def is_success(self) -> bool:
        """9000 and 61xx (ISO/IEC 7816-4:2005 Table 5, "normal processing")."""
        return self.value == SW.OK or self.sw1 == 0x61

    def __str__(self) -> str:
        return f"{self.value:04X} {self.name}: {self.meaning}"

    @classmethod
    def decode(cls, data: bytes) -> "StatusWord":
        """The status word of exactly two bytes."""
        if len(data) != 2:
            raise ValueError(f"a status word is 2 bytes, got {len(data)}")
        return cls(int.from_bytes(data, "big"))

    def encode(self) -> bytes:
        return self.value.to_bytes(2, "big")


_test_vectors = [
    ("9000", StatusWord(SW.OK)),
    ("6982", StatusWord(SW.SECURITY_STATUS)),
    ("63c2", StatusWord(0x63C2)),
    ("6110", StatusWord(0x6110)),
    ("6c40", StatusWord(0x6C40)),
]
