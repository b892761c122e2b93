"""BER-TLV data objects (ISO/IEC 7816-4:2005 §5.2.2, ITU-T X.690 §8.1.2-8.1.3).

Tag field, §5.2.2.1: one to three bytes. Bits 8-7 of the first byte are the class, bit 6
says constructed; bits 5-1 all set mean "more tag bytes follow", each with bit 8 set except
the last. A tag is an int of its bytes as written: 0x5F1F, 0x7F49.

Length field, §5.2.2.2: 00-7F is the length itself; 81, 82, 83, 84 are followed by one to
four length bytes. 80 (the indefinite form of X.690) is not allowed.

The decoder is strict, so that every accepted encoding is the one :meth:`Tlv.encode`
writes and digests over read bytes are stable: no 00/FF padding between objects, no
non-minimal tag or length, no byte left over. Each failure is a :class:`TlvError`
subclass. (Tags such as EMV's 9F02 use a long form for a number below 31; ISO/IEC 7816-4
does not allow that, and neither does this decoder.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

MAX_TAG_BYTES = 3
MAX_LENGTH_BYTES = 4
CLASSES = ("universal", "application", "context-specific", "private")


class TlvError(ValueError):
    """The bytes are not a strict BER-TLV encoding (ISO/IEC 7816-4:2005 §5.2.2)."""


class TlvTruncatedError(TlvError):
    """The data ends inside a tag, a length or a value."""


class TlvTagError(TlvError):
    """A tag field is not valid: first byte 00 or FF, not minimal, or over 3 bytes."""


class TlvLengthError(TlvError):
    """A length field is indefinite (80), over 4 length bytes, or not minimal."""


class TlvTrailingBytesError(TlvError):
    """Bytes follow the data object where none may."""


def encode_tag(tag: int) -> bytes:
    """The tag field of `tag`, checked against the §5.2.2.1 rules."""
    if not isinstance(tag, int) or tag <= 0:
        raise TlvTagError(f"a tag is a positive int, got {tag!r}")
    raw = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    try:
        end = _tag_end(raw, 0)
    except TlvTruncatedError:
        raise TlvTagError(f"{tag:X} ends inside a multi-byte tag") from None
    if end != len(raw):
        raise TlvTagError(f"{tag:X} is not one tag field ({end} of {len(raw)} bytes form a tag)")
    return raw


def _tag_end(data: bytes, offset: int) -> int:
    """The offset just after the tag field starting at `offset`."""
    if offset >= len(data):
        raise TlvTruncatedError("the data ends where a tag should start")
    first = data[offset]
    if first in (0x00, 0xFF):
        raise TlvTagError(f"{first:02X} is not a valid first tag byte")
    if first & 0x1F != 0x1F:
        return offset + 1
    pos = offset + 1
    number = 0
    while True:
        if pos >= len(data):
            raise TlvTruncatedError("the data ends inside a multi-byte tag")
        if pos - offset >= MAX_TAG_BYTES:
            raise TlvTagError(f"tag longer than {MAX_TAG_BYTES} bytes")
        byte = data[pos]
        if pos == offset + 1 and byte == 0x80:
            raise TlvTagError("a subsequent tag byte 80 first is not minimal (X.690 §8.1.2.4.2)")
        number = number << 7 | byte & 0x7F
        pos += 1
        if not byte & 0x80:
            break
    if number < 31:
        raise TlvTagError(f"tag number {number} must use the one-byte form")
    return pos


def encode_length(length: int) -> bytes:
    """The shortest length field for `length` (§5.2.2.2)."""
    if length < 0:
        raise TlvLengthError(f"a length cannot be negative ({length})")
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    if size > MAX_LENGTH_BYTES:
        raise TlvLengthError(f"{length} needs {size} length bytes; at most {MAX_LENGTH_BYTES}")
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


def decode_header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """(tag, length, offset of the value) of the data object starting at `offset`."""
    tag_end = _tag_end(data, offset)
    tag = int.from_bytes(data[offset:tag_end], "big")
    if tag_end >= len(data):
        raise TlvTruncatedError("the data ends where a length should start")
    first = data[tag_end]
    if first < 0x80:
        return tag, first, tag_end + 1
    size = first & 0x7F
    if size == 0:
        raise TlvLengthError("indefinite length (80) is not allowed")
    if size > MAX_LENGTH_BYTES:
        raise TlvLengthError(f"length field of {size} bytes; at most {MAX_LENGTH_BYTES}")
    start = tag_end + 1
    if start + size > len(data):
        raise TlvTruncatedError("the data ends inside a length field")
    length = int.from_bytes(data[start:start + size], "big")
    if encode_length(length) != data[tag_end:start + size]:
        raise TlvLengthError(f"length {length} is not in its shortest form")
    return tag, length, start + size


def total_length(head: bytes) -> int:
    """The full size of the object whose first bytes are `head` (the size to read).

    A reader reads a few bytes of a file, calls this, then reads the rest. Raises
    :class:`TlvTruncatedError` when `head` is too short to hold the whole header.
    """
    _, length, value_at = decode_header(bytes(head))
    return value_at + length


@dataclass(frozen=True)
class Tlv:
    """One BER-TLV data object; the value of a constructed one holds its children."""

    tag: int
    value: bytes = b""

    def __post_init__(self) -> None:
        encode_tag(self.tag)
        object.__setattr__(self, "value", bytes(self.value))

    @property
    def tag_bytes(self) -> bytes:
        return encode_tag(self.tag)

    @property
    def tag_class(self) -> str:
        return CLASSES[self.tag_bytes[0] >> 6]

    @property
    def constructed(self) -> bool:
        return bool(self.tag_bytes[0] & 0x20)

    @classmethod
    def of(cls, tag: int, children: Iterable["Tlv"]) -> "Tlv":
        """A constructed data object holding `children` in order."""
        made = cls(tag, b"".join(child.encode() for child in children))
        if not made.constructed:
            raise TlvTagError(f"{tag:X} is a primitive tag; it cannot hold data objects")
        return made

    def children(self) -> list["Tlv"]:
        """The data objects in the value of a constructed object."""
        if not self.constructed:
            raise TlvTagError(f"{self.tag:X} is a primitive tag; its value is not TLV")
        return decode_all(self.value)

    def child(self, tag: int) -> "Tlv | None":
        """The first child with `tag`, or None."""
        return next((c for c in self.children() if c.tag == tag), None)

    def encode(self) -> bytes:
        return self.tag_bytes + encode_length(len(self.value)) + self.value

    @classmethod
    def decode(cls, raw: bytes) -> "Tlv":
        """Exactly one data object, nothing after it."""
        found, end = decode_one(bytes(raw))
        if end != len(raw):
            raise TlvTrailingBytesError(f"{len(raw) - end} byte(s) after the data object")
        return found

    def __str__(self) -> str:
        return f"{self.tag:X} [{len(self.value)}] {self.value.hex().upper()}"


def decode_one(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """The data object at `offset` and the offset just after it."""
    tag, length, value_at = decode_header(data, offset)
    end = value_at + length
    if end > len(data):
        raise TlvTruncatedError(f"value of {length} bytes, only {len(data) - value_at} present")
    return Tlv(tag, data[value_at:end]), end


def decode_all(data: bytes) -> list[Tlv]:
    """Consecutive data objects filling `data` exactly."""
    data = bytes(data)
    found, offset = [], 0
    while offset < len(data):
        item, offset = decode_one(data, offset)
        found.append(item)
    return found


_test_vectors = [
    ("8a0105", Tlv(0x8A, b"\x05")),                                     # LCS byte
    ("5300", Tlv(0x53, b"")),                                           # empty value
    ("5f1f03414243", Tlv(0x5F1F, b"ABC")),                              # two-byte tag
    ("7f490586030102 03".replace(" ", ""), Tlv(0x7F49, bytes.fromhex("8603010203"))),
    ("df810001aa", Tlv(0xDF8100, b"\xaa")),                             # three-byte tag
    ("537f" + "11" * 127, Tlv(0x53, b"\x11" * 127)),                   # short form limit
    ("538180" + "22" * 128, Tlv(0x53, b"\x22" * 128)),                 # 81 xx
    ("53820100" + "33" * 256, Tlv(0x53, b"\x33" * 256)),               # 82 xxxx
    ("5383010000" + "00" * 65536, Tlv(0x53, bytes(65536))),            # 83 xxxxxx
    ("6106" + "5304a1010203", Tlv(0x61, bytes.fromhex("5304a1010203"))),  # nested
]

_test_invalid = [
    (Tlv, "", TlvTruncatedError),
    (Tlv, "5f", TlvTruncatedError),                 # tag cut short
    (Tlv, "53", TlvTruncatedError),                 # no length
    (Tlv, "5303aabb", TlvTruncatedError),           # value cut short
    (Tlv, "5382", TlvTruncatedError),               # length field cut short
    (Tlv, "000100", TlvTagError),                   # 00 first byte
    (Tlv, "ff0100", TlvTagError),                   # FF first byte
    (Tlv, "5f0100", TlvTagError),                   # tag number 1 in the two-byte form
    (Tlv, "5f801f00", TlvTagError),                 # leading 80 subsequent byte
    (Tlv, "5f8181810100", TlvTagError),             # four-byte tag
    (Tlv, "5380", TlvLengthError),                  # indefinite length
    (Tlv, "538105" + "00" * 5, TlvLengthError),     # 81 05: not minimal
    (Tlv, "53820005" + "00" * 5, TlvLengthError),   # 82 0005: not minimal
    (Tlv, "5385" + "00" * 5, TlvLengthError),       # five length bytes
    (Tlv, "530100aa", TlvTrailingBytesError),       # byte after the object
]
