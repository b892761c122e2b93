"""A second, exact reading of a CBOR item (RFC 8949 §3), for the one case cbor2 cannot
answer: a map whose keys Python holds equal although CBOR does not (``true`` and ``1``,
``1.0`` and ``1``, ``simple(7)`` and ``7``, ``false`` and ``0``).

cbor2 builds maps as Python dicts and so reports such a map as a duplicate key. spec §2.2
says it is not: two keys are duplicates only when they are the same CBOR value (same major
type and value; a float by its value whatever its width). :func:`loads` reads the item as
cbor2 would — the same faults, met in the same order (depth first, in encoding order; a
map's duplicate once the value after the repeated key is read; a tag's content before the
tag is judged; at most :data:`MAX_DEPTH` nested arrays, maps and tags, the outermost
being level 1) — and wraps every map key that is not an integer, a text or a byte string
in :class:`NonIntegerKey`, which equals nothing else. Every structure then refuses that key
as a key it does not know. It runs only after cbor2 has reported a duplicate key.
"""

from __future__ import annotations

import struct
from typing import Any

import cbor2

from crypto.errors import CborError
from crypto.reasons import Reason

MAX_DEPTH = 8
# Tags cbor2 would turn into Python objects (dates, bignums, regular expressions, shared
# references, ...). None of our formats use them (spec §2.2).
SEMANTIC_TAGS = frozenset({0, 1, 2, 3, 4, 5, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32, 33, 34, 35,
                           36, 37, 38, 39, 52, 54, 100, 256, 257, 258, 259, 260, 261, 1004, 1040, 55799})
_SPECIAL = {20: False, 21: True, 22: None, 23: cbor2.undefined}


class NonIntegerKey:
    """A map key that is not a CBOR integer, text or byte string (``true``, ``1.0``,
    ``simple(1)``, ``null``, an array...): equal only to itself, so never a known key."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"NonIntegerKey({self.value!r})"


class _Fault(Exception):
    def __init__(self, reason: Reason, text: str) -> None:
        self.reason, self.text = reason, text


def loads(data: bytes, what: str) -> Any:
    """One CBOR item from `data`, with the faults of spec §2.2 as :class:`CborError`."""
    reader = _Reader(data)
    try:
        value, _ = reader.item(0)
    except _Fault as fault:
        if fault.reason is Reason.CBOR_DUPLICATE_KEY:
            raise CborError(fault.reason, f"{what} has a map with a duplicate key") from None
        raise CborError(fault.reason, f"{what} is not well-formed CBOR ({fault.text})") from None
    if reader.at != len(data):
        raise CborError(Reason.CBOR_TRAILING_BYTES,
                        f"{what} has {len(data) - reader.at} byte(s) after the end of the CBOR item")
    return value


def _malformed(text: str) -> _Fault:
    return _Fault(Reason.CBOR_MALFORMED, text)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise _malformed("premature end of stream")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def argument(self, info: int) -> int:
        if info < 24:
            return info
        if info > 27:  # 28-30 reserved, 31 indefinite length (refused, spec §2.2)
            raise _malformed("reserved or indefinite-length argument")
        return int.from_bytes(self.take(1 << (info - 24)), "big")

    def item(self, depth: int) -> tuple[Any, tuple]:
        """(value, identity): two map keys are duplicates when their identities are equal."""
        head = self.take(1)[0]
        major, info = head >> 5, head & 31
        if major == 7:
            return self.simple(info)
        arg = self.argument(info)
        if major == 0:
            return arg, ("int", arg)
        if major == 1:
            return -1 - arg, ("int", -1 - arg)
        if major == 2:
            raw = self.take(arg)
            return raw, ("bytes", raw)
        if major == 3:
            try:
                text = self.take(arg).decode("utf-8")
            except UnicodeDecodeError:
                raise _malformed("invalid UTF-8 in a text string") from None
            return text, ("text", text)
        if depth + 1 > MAX_DEPTH:
            raise _malformed(f"maximum container nesting depth ({MAX_DEPTH}) exceeded")
        if major == 4:
            pairs = [self.item(depth + 1) for _ in range(arg)]
            return [v for v, _ in pairs], ("array", tuple(i for _, i in pairs))
        if major == 5:
            return self.map(arg, depth + 1)
        content, identity = self.item(depth + 1)  # major 6: a tag's content is read first
        if arg in SEMANTIC_TAGS:
            raise _malformed(f"semantic tag {arg} is not allowed")
        return cbor2.CBORTag(arg, content), ("tag", arg, identity)

    def map(self, length: int, depth: int) -> tuple[dict, tuple]:
        out: dict = {}
        seen: set = set()
        pairs: set = set()
        for _ in range(length):
            key, identity = self.item(depth)
            value, value_identity = self.item(depth)
            if identity in seen:
                raise _Fault(Reason.CBOR_DUPLICATE_KEY, "duplicate map key")
            seen.add(identity)
            pairs.add((identity, value_identity))
            out[key if type(key) in (int, str, bytes) else NonIntegerKey(key)] = value
        return out, ("map", frozenset(pairs))

    def simple(self, info: int) -> tuple[Any, tuple]:
        if info < 20:
            return cbor2.CBORSimpleValue(info), ("simple", info)
        if info < 24:
            return _SPECIAL[info], ("simple", info)
        if info == 24:
            value = self.take(1)[0]
            if value < 32:  # RFC 8949 §3.3: not well-formed
                raise _malformed("invalid two-byte sequence for simple value")
            return cbor2.CBORSimpleValue(value), ("simple", value)
        if info in (25, 26, 27):
            raw = self.take(1 << (info - 24))
            number = struct.unpack({25: ">e", 26: ">f", 27: ">d"}[info], raw)[0]
            return number, ("float", number)
        raise _malformed("break code or reserved simple value where a data item was expected")
