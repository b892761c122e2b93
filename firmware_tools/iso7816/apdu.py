"""Command and response APDUs (ISO/IEC 7816-4:2005 §5.1).

A command APDU is a 4-byte header CLA INS P1 P2 and an optional body: Lc and the command
data, then Le. Short fields are one byte (Lc 1..255, Le 1..256 with 00 meaning 256);
extended fields start with a 00 byte and carry two bytes (Lc 1..65535, Le 1..65536 with
0000 meaning 65536). Decoding follows the cases of §5.1 Table 1 strictly: any byte count
that fits none of cases 1, 2S, 3S, 4S, 2E, 3E, 4E is an :class:`ApduLengthError`.

`ne` is Ne, the maximum number of response data bytes: 0 means "no Le field".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_tools.iso7816.sw import StatusWord

SHORT_MAX_NC, SHORT_MAX_NE = 255, 256
EXTENDED_MAX_NC, EXTENDED_MAX_NE = 65535, 65536


class ApduError(ValueError):
    """The bytes or fields are not a well-formed APDU (ISO/IEC 7816-4:2005 §5.1)."""


class ApduTooShortError(ApduError):
    """Fewer bytes than the four of the header CLA INS P1 P2 (or the two of SW1 SW2)."""


class ApduLengthError(ApduError):
    """The Lc and Le fields do not agree with the number of bytes (§5.1 Table 1)."""


class ApduFieldError(ApduError):
    """A header byte, Nc or Ne is out of range."""


@dataclass(frozen=True)
class CommandApdu:
    """A command APDU. `extended` becomes True by itself when Nc > 255 or Ne > 256
    (and stays False for case 1, which has no length field)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int = 0
    extended: bool = field(default=False)

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ApduFieldError(f"{name.upper()} must be one byte, got {getattr(self, name)!r}")
        object.__setattr__(self, "data", bytes(self.data))
        if len(self.data) > EXTENDED_MAX_NC:
            raise ApduFieldError(f"Nc is {len(self.data)}; at most {EXTENDED_MAX_NC}")
        if not 0 <= self.ne <= EXTENDED_MAX_NE:
            raise ApduFieldError(f"Ne is {self.ne}; it must be 0 (no Le) to {EXTENDED_MAX_NE}")
        if len(self.data) > SHORT_MAX_NC or self.ne > SHORT_MAX_NE:
            object.__setattr__(self, "extended", True)
        elif not self.data and not self.ne:
            object.__setattr__(self, "extended", False)  # case 1 has no length field

    @property
    def p1p2(self) -> int:
        return self.p1 << 8 | self.p2

    @property
    def case(self) -> str:
        """"1", "2S", "3S", "4S", "2E", "3E" or "4E" (§5.1 Table 1)."""
        number = 1 + (1 if self.ne else 0) + (2 if self.data else 0)
        return "1" if number == 1 else f"{number}{'E' if self.extended else 'S'}"

    def encode(self) -> bytes:
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        nc, ne = len(self.data), self.ne
        if not self.extended:
            lc = bytes((nc,)) if nc else b""
            le = bytes((ne & 0xFF,)) if ne else b""  # 256 is written 00
            return header + lc + self.data + le
        le2 = (ne & 0xFFFF).to_bytes(2, "big")  # 65536 is written 0000
        if nc:
            return header + b"\x00" + nc.to_bytes(2, "big") + self.data + (le2 if ne else b"")
        return header + (b"\x00" + le2 if ne else b"")

    @classmethod
    def decode(cls, raw: bytes) -> "CommandApdu":
        raw = bytes(raw)
        n = len(raw)
        if n < 4:
            raise ApduTooShortError(f"a command APDU has at least 4 header bytes, got {n}")
        cla, ins, p1, p2 = raw[:4]
        if n == 4:                                          # case 1
            return cls(cla, ins, p1, p2)
        if n == 5:                                          # case 2S
            return cls(cla, ins, p1, p2, ne=raw[4] or 256)
        if raw[4] != 0:                                     # cases 3S, 4S
            nc = raw[4]
            if n == 5 + nc:
                return cls(cla, ins, p1, p2, raw[5:])
            if n == 6 + nc:
                return cls(cla, ins, p1, p2, raw[5:-1], ne=raw[-1] or 256)
            raise ApduLengthError(f"short Lc is {nc}, but the body has {n - 5} bytes")
        return cls._decode_extended(raw)

    @classmethod
    def _decode_extended(cls, raw: bytes) -> "CommandApdu":
        cla, ins, p1, p2 = raw[:4]
        n = len(raw)
        if n == 7:                                          # case 2E
            return cls(cla, ins, p1, p2, ne=int.from_bytes(raw[5:7], "big") or 65536, extended=True)
        if n < 7:
            raise ApduLengthError(f"extended length field needs 3 bytes, got {n - 4}")
        nc = int.from_bytes(raw[5:7], "big")
        if nc == 0:
            raise ApduLengthError("extended Lc of 0000 with a body following it")
        if n == 7 + nc:                                     # case 3E
            return cls(cla, ins, p1, p2, raw[7:], extended=True)
        if n == 9 + nc:                                     # case 4E
            ne = int.from_bytes(raw[-2:], "big") or 65536
            return cls(cla, ins, p1, p2, raw[7:-2], ne=ne, extended=True)
        raise ApduLengthError(f"extended Lc is {nc}, but the body has {n - 7} bytes")

    def __str__(self) -> str:
        return self.encode().hex(" ").upper()


@dataclass(frozen=True)
class ResponseApdu:
    """Response data followed by the status word SW1-SW2 (§5.1, Figure 2)."""

    data: bytes
    sw: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", bytes(self.data))
        if not 0 <= self.sw <= 0xFFFF:
            raise ApduFieldError(f"SW must be two bytes, got {self.sw!r}")

    @property
    def status(self) -> StatusWord:
        return StatusWord(self.sw)

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def decode(cls, raw: bytes) -> "ResponseApdu":
        raw = bytes(raw)
        if len(raw) < 2:
            raise ApduTooShortError(f"a response APDU ends in SW1 SW2, got {len(raw)} byte(s)")
        return cls(raw[:-2], int.from_bytes(raw[-2:], "big"))

    def __str__(self) -> str:
        return (self.data.hex(" ").upper() + " " if self.data else "") + f"{self.sw:04X}"


_test_vectors = [
    # case 1: header only
    ("00a40000", CommandApdu(0x00, 0xA4, 0x00, 0x00)),
    # case 2S: Le = 00 means Ne = 256
    ("00b0000000", CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=256)),
    ("00b0810010", CommandApdu(0x00, 0xB0, 0x81, 0x00, ne=16)),
    # case 3S: SELECT by AID, no response data (P2 = 0C)
    ("00a4040c08f053534341524401",
     CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("f053534341524401"))),
    # case 4S
    ("0088000008000102030405060700",
     CommandApdu(0x00, 0x88, 0x00, 0x00, bytes(range(8)), ne=256)),
    # case 2E: 00 then Le = 0000 means Ne = 65536
    ("00b00000000000", CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=65536)),
    ("00b00000000200", CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=512)),
    # case 3E
    ("00d60000000003aabbcc", CommandApdu(0x00, 0xD6, 0x00, 0x00, b"\xaa\xbb\xcc", extended=True)),
    # case 4E
    ("0088000000000401020304" + "0040",
     CommandApdu(0x00, 0x88, 0x00, 0x00, b"\x01\x02\x03\x04", ne=64, extended=True)),
    ("00d60000000100" + "00" * 256,
     CommandApdu(0x00, 0xD6, 0x00, 0x00, bytes(256))),
    # responses
    ("9000", ResponseApdu(b"", 0x9000)),
    ("0102036282", ResponseApdu(b"\x01\x02\x03", 0x6282)),
]

_test_invalid = [
    (CommandApdu, "00a400", ApduTooShortError),
    (CommandApdu, "00a4040c05f0535343", ApduLengthError),      # Lc 5, 3 data bytes
    (CommandApdu, "00a4040c02f0535353", ApduLengthError),      # Lc 2, 4 bytes after it
    (CommandApdu, "00b000000000", ApduLengthError),            # 00 then one byte: neither 2S nor 2E
    (CommandApdu, "00d6000000000001", ApduLengthError),        # extended Lc of 0000 with a body
    (CommandApdu, "00d60000000003aabb", ApduLengthError),      # extended Lc 3, 2 data bytes
    (CommandApdu, "00d60000000003aabbcc00", ApduLengthError),  # 3E plus one byte: not 4E
    (ResponseApdu, "90", ApduTooShortError),
]
