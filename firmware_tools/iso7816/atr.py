"""Answer-to-reset (ISO/IEC 7816-3:2006 §8.2) and its historical bytes (ISO/IEC 7816-4:2005 §8.1.1).

Enough of the ATR to build the reference card's and to read the facts a terminal needs
from any card: the protocols offered, the historical bytes, and from the "card
capabilities" compact-TLV object (tag 7, §8.1.1.2.7) whether extended Lc/Le are supported.
"""

from __future__ import annotations

from dataclasses import dataclass


class AtrError(ValueError):
    """The bytes are not a well-formed ATR (ISO/IEC 7816-3:2006 §8.2)."""


# Third software function byte of the card capabilities (ISO/IEC 7816-4:2005 Table 88).
CAPABILITY_EXTENDED_LENGTH = 0x40


@dataclass(frozen=True)
class Atr:
    """A parsed ATR."""

    raw: bytes
    protocols: tuple[int, ...]
    historical_bytes: bytes

    @classmethod
    def decode(cls, raw: bytes) -> "Atr":
        raw = bytes(raw)
        if len(raw) < 2 or raw[0] not in (0x3B, 0x3F):
            raise AtrError("an ATR starts with TS = 3B or 3F and T0")
        y, k = raw[1] >> 4, raw[1] & 0x0F
        pos, protocols = 2, []
        while y:
            present = [bit for bit in (0x1, 0x2, 0x4, 0x8) if y & bit]
            td_at = pos + len(present) - 1
            pos += len(present)
            if pos > len(raw):
                raise AtrError("the ATR ends inside its interface bytes")
            if y & 0x8:
                protocols.append(raw[td_at] & 0x0F)
                y = raw[td_at] >> 4
            else:
                y = 0
        historical = raw[pos:pos + k]
        if len(historical) != k:
            raise AtrError(f"T0 announces {k} historical bytes, {len(historical)} present")
        pos += k
        needs_tck = any(p != 0 for p in protocols)
        if needs_tck:
            if pos + 1 != len(raw):
                raise AtrError("TCK missing or bytes after it")
            check = 0
            for byte in raw[1:]:
                check ^= byte
            if check:
                raise AtrError("TCK does not make the XOR of T0..TCK zero")
        elif pos != len(raw):
            raise AtrError(f"{len(raw) - pos} byte(s) after the historical bytes")
        return cls(raw, tuple(protocols) or (0,), historical)

    def compact_tlv(self) -> dict[int, bytes]:
        """Compact-TLV objects of historical bytes with category indicator 80 (§8.1.1.2)."""
        hist = self.historical_bytes
        if not hist or hist[0] != 0x80:
            return {}
        found, pos = {}, 1
        while pos < len(hist):
            tag, length = hist[pos] >> 4, hist[pos] & 0x0F
            found[tag] = hist[pos + 1:pos + 1 + length]
            pos += 1 + length
        return found

    @property
    def extended_length(self) -> bool:
        """The card capabilities say extended Lc and Le fields are supported."""
        caps = self.compact_tlv().get(0x7, b"")
        return len(caps) >= 3 and bool(caps[2] & CAPABILITY_EXTENDED_LENGTH)


def build_atr(historical: bytes, protocol: int = 1) -> bytes:
    """3B, T0, TD1 (`protocol`, the only one offered), historical bytes, TCK.

    Direct convention, default interface characters; TCK is present because T=1 is offered.
    """
    if len(historical) > 15:
        raise AtrError("at most 15 historical bytes")
    body = bytes((0x80 | len(historical), protocol & 0x0F)) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes((tck,))


def compact(tag: int, value: bytes) -> bytes:
    """One compact-TLV object: tag in the high nibble, length in the low one."""
    if not 0 <= tag <= 0xF or len(value) > 15:
        raise AtrError("compact-TLV tag is one nibble and the value at most 15 bytes")
    return bytes((tag << 4 | len(value),)) + value
