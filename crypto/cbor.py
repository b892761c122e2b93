"""Strict CBOR on top of cbor2 (RFC 8949).

Producers here write deterministic CBOR (RFC 8949 §4.2.1: shortest integer and length
forms, definite lengths, map keys sorted by their encoded bytes). The decoder is strict:
one data item and nothing after it, no duplicate map keys, no indefinite lengths, a depth
and size cap, and none of cbor2's semantic tag decoders (dates, regular expressions,
shared references...) run on untrusted input. Every failure is a :class:`CborError`.

A map key of another type than an integer, text or bytes is kept as cbor2 gives it
(``True``, ``1.0``, ``CBORSimpleValue(7)``), and Python holds some of them equal to an
integer: every structure checks its key types (:func:`int_keys`, spec §2.2). Where cbor2
reports such a pair as a duplicate key, :mod:`crypto.cbor_exact` reads the item again.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import cbor2

from crypto import cbor_exact as exact
from crypto.cbor_exact import MAX_DEPTH, SEMANTIC_TAGS as _SEMANTIC_TAGS, NonIntegerKey
from crypto.errors import CborError
from crypto.reasons import Reason

__all__ = ["MAX_DEPTH", "NonIntegerKey", "dumps", "loads", "int_keys", "bstr_header", "encode_bstr"]


def _refuse_tag(decoder: cbor2.CBORDecoder) -> Any:
    raise cbor2.CBORDecodeValueError("semantic tags are not allowed here")


_NO_SEMANTICS = {tag: _refuse_tag for tag in _SEMANTIC_TAGS}


_local = threading.local()


def _decoder() -> cbor2.CBORDecoder:
    """One strict decoder per thread, re-pointed at each input (construction dominates
    the cost of decoding a small item)."""
    decoder = getattr(_local, "decoder", None)
    if decoder is None:
        decoder = _local.decoder = cbor2.CBORDecoder(
            io.BytesIO(b""), allow_indefinite=False, allow_duplicate_keys=False,
            max_depth=MAX_DEPTH, semantic_decoders=_NO_SEMANTICS)
    return decoder


def dumps(value: Any) -> bytes:
    """Deterministic encoding (RFC 8949 §4.2.1)."""
    return cbor2.dumps(value, canonical=True)


def loads(data: bytes, *, max_size: int, what: str, deterministic: bool = False) -> Any:
    """Decode exactly one CBOR data item from `data`.

    `what` names the object in error messages ("COSE_Sign1", "claims"...). With
    `deterministic`, the input must be the deterministic encoding of what it decodes to.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CborError(Reason.CBOR_MALFORMED, f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) > max_size:
        raise CborError(Reason.CBOR_TOO_LARGE, f"{what} is {len(data)} bytes; at most {max_size} are accepted")
    if not data:
        raise CborError(Reason.CBOR_MALFORMED, f"{what} is empty")
    fp = io.BytesIO(data)
    decoder = _decoder()
    try:
        decoder.fp = fp
        value = decoder.decode()
    except cbor2.CBORDecodeError as exc:
        text = str(exc)
        if "duplicate" not in text.lower():
            raise CborError(Reason.CBOR_MALFORMED, f"{what} is not well-formed CBOR ({text})") from None
        # Python's dict merges keys that CBOR keeps apart (true and 1, 1.0 and 1, simple(7)
        # and 7): read the item again, telling the key types apart (spec §2.2).
        value = exact.loads(bytes(data), what)
        if deterministic:
            raise CborError(Reason.CBOR_NOT_DETERMINISTIC, f"{what} has map keys that are not integers") from None
        return value
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        raise CborError(Reason.CBOR_MALFORMED, f"{what} is not well-formed CBOR ({exc})") from None
    end = fp.tell()
    if end != len(data):
        raise CborError(Reason.CBOR_TRAILING_BYTES,
                        f"{what} has {len(data) - end} byte(s) after the end of the CBOR item")
    if deterministic:
        try:
            again = dumps(value)
        except (cbor2.CBOREncodeError, ValueError, TypeError) as exc:
            raise CborError(Reason.CBOR_MALFORMED, f"{what} cannot be re-encoded ({exc})") from None
        if again != bytes(data):
            raise CborError(Reason.CBOR_NOT_DETERMINISTIC,
                            f"{what} is not deterministically encoded (RFC 8949 §4.2.1)")
    return value


def int_keys(value: Any) -> bool:
    """Whether `value` is a map whose every key is a CBOR integer. Every sscard map has
    integer keys only (spec §2.2): ``true``, ``1.0`` and ``simple(1)`` compare equal to 1 in
    Python, so each structure checks the key types with this before it looks keys up."""
    return type(value) is dict and all(type(key) is int for key in value)


def bstr_header(length: int) -> bytes:
    """The CBOR head of a byte string of `length` bytes (major type 2, shortest form)."""
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    return b"\x5a" + length.to_bytes(4, "big")


def encode_bstr(value: bytes) -> bytes:
    return bstr_header(len(value)) + value
