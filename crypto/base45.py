"""Base45 (RFC 9285).

Decoding is on the hot path of every QR verification, so it avoids a Python loop: the
characters are mapped to their values with one ``bytes.translate``, laid into one big
integer with a 24-bit lane per 3-character group, and every group's value
``c + 45*d + 45*45*e`` is computed for all lanes at once (each value is < 2**17, so lanes
never carry into each other).
"""

from __future__ import annotations

import array
import sys

from crypto.errors import Base45Error
from crypto.reasons import Reason

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 0xFF
_DECODE_TABLE = bytearray([_INVALID] * 256)
for _value, _char in enumerate(ALPHABET):
    _DECODE_TABLE[ord(_char)] = _value
_DECODE_TABLE = bytes(_DECODE_TABLE)


_PAIRS: list[str] | None = None


def _pair_table() -> list[str]:
    """The three characters of every 16-bit value, built on first use (65,536 entries)."""
    global _PAIRS
    if _PAIRS is None:
        a = ALPHABET
        _PAIRS = [a[n % 45] + a[n // 45 % 45] + a[n // 2025] for n in range(65536)]
    return _PAIRS


def encode(data: bytes) -> str:
    """RFC 9285 §4: two bytes become three characters, a last odd byte two."""
    data = bytes(data)
    even = len(data) & ~1
    pairs = array.array("H", data[:even])
    if sys.byteorder == "little":
        pairs.byteswap()  # each pair is a big-endian 16-bit value
    text = "".join(map(_pair_table().__getitem__, pairs))
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        text += ALPHABET[c] + ALPHABET[d]
    return text


def _lane_mask(groups: int) -> int:
    return int.from_bytes(b"\xff\x00\x00" * groups, "little")


_MASKS: dict[int, int] = {}


def decode(text: str) -> bytes:
    """RFC 9285 §4.2, rejecting characters outside the alphabet and out-of-range groups."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise Base45Error(Reason.QR_CHARACTER, "the text has non-ASCII characters") from None
    values = raw.translate(_DECODE_TABLE)
    if _INVALID in values:
        pos = values.index(_INVALID)
        raise Base45Error(Reason.QR_CHARACTER,
                          f"character {text[pos]!r} at position {pos} is not in the base45 alphabet")
    size = len(values)
    groups, rest = divmod(size, 3)
    if rest == 1:
        raise Base45Error(Reason.BASE45_LENGTH,
                          f"base45 text of {size} characters cannot be decoded (length mod 3 is 1)")
    out = bytearray(groups * 2)
    if groups:
        mask = _MASKS.get(groups)
        if mask is None:
            mask = _MASKS.setdefault(groups, _lane_mask(groups))
        lanes = int.from_bytes(values[: groups * 3], "little")
        total = (lanes & mask) + 45 * ((lanes >> 8) & mask) + 2025 * ((lanes >> 16) & mask)
        spread = total.to_bytes(groups * 3, "little")
        if spread[2::3].count(0) != groups:
            raise Base45Error(Reason.BASE45_VALUE, "a 3-character base45 group encodes a value above 65535")
        out[0::2] = spread[1::3]
        out[1::2] = spread[0::3]
    if rest == 2:
        n = values[-2] + 45 * values[-1]
        if n > 0xFF:
            raise Base45Error(Reason.BASE45_VALUE, "the last 2-character base45 group encodes a value above 255")
        out.append(n)
    return bytes(out)
