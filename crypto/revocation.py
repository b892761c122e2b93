"""Revocation data at national scale (docs/spec.md §11): revocation format 2, a
Golomb–Rice coded set of revoked card serials over the issuer's dense serial universe,
and :class:`RevocationSet`, the structure a terminal checks a serial against.

A set is exact (the universe ``[base, base + size)`` is known, so there are no false
positives) and close to the information limit: for 1,000,000 revoked among 50,000,000
the coded set is 0.4% above log2 C(50e6, 1e6) bits. The codec is vectorised with numpy:
the k low bits of every gap come first, then the unary high parts (spec §11.2), so both
streams decode without a loop in Python.
"""

from __future__ import annotations

import hashlib
import math
import struct
from bisect import bisect_left
from collections.abc import Iterable, Iterator

import numpy as np

from crypto.errors import RevocationError
from crypto.reasons import Reason

SERIAL_LIMIT = 2**32          # card serials are uint32 (spec §4.6)
MAX_RICE_K = 31
# Keys of a coded set (spec §11.1).
G_BASE, G_SIZE, G_COUNT, G_K, G_BITS = 1, 2, 3, 4, 5
_KEYS = frozenset({G_BASE, G_SIZE, G_COUNT, G_K, G_BITS})
STATE_CONTEXT = b"sscard revocation state v1\x00"  # spec §11.3


def _malformed(message: str) -> RevocationError:
    return RevocationError(Reason.TL_REVOCATION_MALFORMED, message)


def information_limit_bits(size: int, count: int) -> float:
    """log2 C(size, count): the fewest bits any exact encoding needs on average."""
    if not 0 <= count <= size:
        raise ValueError("count must lie in 0..size")
    return (math.lgamma(size + 1) - math.lgamma(count + 1) - math.lgamma(size - count + 1)) / math.log(2)


# ---------------------------------------------------------------- Rice coding (§11.2)

def _gaps(values: np.ndarray) -> np.ndarray:
    """g_0 = v_0, g_i = v_i - v_(i-1) - 1 (int64) for strictly increasing values."""
    return np.diff(values.astype(np.int64), prepend=-1) - 1


def rice_parameter(gaps: np.ndarray) -> int:
    """The k in 0..31 that gives the fewest bits (the smallest such k), exactly: the cost
    of k is count·(k + 1) + Σ(g >> k). It is close to log2(ln 2 · size / count)."""
    count = len(gaps)
    if count == 0:
        return 0
    best_k, best = 0, None
    for k in range(MAX_RICE_K + 1):
        high = int((gaps >> k).sum())
        cost = count * k + high
        if best is None or cost < best:
            best_k, best = k, cost
        if high == 0:  # a larger k only adds low bits
            break
    return best_k


def encode_bits(values: np.ndarray, k: int) -> bytes:
    """The bit stream of §11.2 for strictly increasing values ≥ 0: every gap's k low bits
    (MSB first), then every gap's high part in unary (q zeros, then a one), then zero bits
    up to a byte boundary."""
    count = len(values)
    if count == 0:
        return b""
    gaps = _gaps(values)
    high = gaps >> k
    low_bits = np.empty((count, k), dtype=np.uint8)
    for j in range(k):
        low_bits[:, j] = (gaps >> (k - 1 - j)) & 1
    unary = np.zeros(count + int(high.sum()), dtype=np.uint8)
    unary[np.cumsum(high) + np.arange(count)] = 1
    return np.packbits(np.concatenate((low_bits.ravel(), unary))).tobytes()


_CHUNK_BYTES = 8192  # unary stream decoded 65,536 bits at a time: the peak memory stays small


def decode_bits(bits: bytes, k: int, count: int, size: int, base: int = 0, *,
                chunk_bytes: int = _CHUNK_BYTES) -> np.ndarray:
    """The serials base + v (uint32, strictly increasing, each v < size) that `bits`
    codes; every deviation from §11.2 raises :class:`RevocationError`
    (TL_REVOCATION_MALFORMED). The caller has checked base + size ≤ 2^32.

    The unary stream is read in chunks, each giving the high parts of the codes whose
    terminating one-bit it holds; their low bits are read for just those codes. Memory is
    the output (4 bytes a serial) plus a chunk's work, whatever the size of the set."""
    out = np.empty(count, dtype=np.uint32)
    if count == 0:
        if bits:
            raise _malformed("an empty set must have an empty bit stream")
        return out
    low_length = count * k
    if low_length + count > 8 * len(bits):  # before reading anything
        raise _malformed(f"the bit stream is truncated: {len(bits)} bytes cannot hold {count} gaps with k={k}")
    data = np.frombuffer(bits, dtype=np.uint8)
    done, last_one, last_value = 0, -1, -1  # codes decoded; unary position of the last one; last v
    first_byte, skip = divmod(low_length, 8)
    for at in range(first_byte, len(data), chunk_bytes):
        chunk = np.unpackbits(data[at:at + chunk_bytes])
        offset = 8 * at - low_length  # unary position of the chunk's first bit
        if at == first_byte:
            chunk, offset = chunk[skip:], 0
        ones = np.flatnonzero(chunk)
        if not len(ones):
            continue
        n = len(ones)
        if done + n > count:
            raise _malformed("bits are set after the last unary code (padding must be zero)")
        ones += offset
        high = np.diff(ones, prepend=last_one) - 1
        values = np.cumsum((high << k) | _low_bits(data, done, n, k)) + (np.arange(1, n + 1) + last_value)
        if int(values[-1]) >= size:
            raise _malformed(f"serial offset {int(values[-1])} is beyond the universe of {size}")
        out[done:done + n] = values + base
        done, last_one, last_value = done + n, int(ones[-1]), int(values[-1])
    if done < count:
        raise _malformed(f"the bit stream is truncated: {done} of {count} unary codes")
    expected = (low_length + last_one + 1 + 7) // 8
    if len(bits) != expected:
        raise _malformed(f"the bit stream has {len(bits) - expected} byte(s) after its last code")
    return out


def _low_bits(data: np.ndarray, first: int, n: int, k: int) -> np.ndarray:
    """The k-bit low parts of codes first .. first + n - 1 (int64)."""
    low = np.zeros(n, dtype=np.int64)
    if k == 0:
        return low
    start, stop = first * k, (first + n) * k
    columns = np.unpackbits(data[start // 8:(stop + 7) // 8])[start % 8:start % 8 + n * k].reshape(n, k)
    for j in range(k):
        low <<= 1
        low |= columns[:, j]
    return low


# ---------------------------------------------------------------- the set (§11.1)

def _sorted_unique(array: np.ndarray) -> np.ndarray:
    """np.unique without its hash table (much slower here on a million integers)."""
    array = np.sort(array.ravel())
    if len(array) > 1:
        array = array[np.concatenate(([True], array[1:] != array[:-1]))]
    return array


def _members(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """For each of `values`, whether it is in `sorted_set` (both uint32)."""
    at = np.searchsorted(sorted_set, values)
    found = np.zeros(len(values), dtype=bool)
    inside = at < len(sorted_set)
    found[inside] = sorted_set[at[inside]] == values[inside]
    return found


def _uint(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise RevocationError(Reason.TL_MALFORMED, f"{what} must be a non-negative integer")
    return value


def _check_universe(base: int, size: int) -> None:
    if base + size > SERIAL_LIMIT:
        raise _malformed(f"the universe [{base}, {base + size}) goes beyond serial 2^32 - 1")


class RevocationSet:
    """The revoked serials of one issuing centre within its universe ``[base, base + size)``:
    a sorted uint32 array (4 bytes a serial), searched by bisection.

    Serials outside the universe are not in the set: below ``base`` the cards have expired
    (spec §11.1), above it they were issued after the data was made.
    """

    __slots__ = ("base", "size", "_end", "_serials", "_view", "_digests")

    def __init__(self, serials: np.ndarray, *, base: int, size: int):
        """`serials`: sorted, unique uint32 serials inside the universe (not re-checked: use
        :meth:`from_serials` for untrusted or unsorted input)."""
        self.base, self.size, self._end = base, size, base + size
        serials = np.ascontiguousarray(serials, dtype=np.uint32)
        serials.flags.writeable = False
        self._serials = serials
        self._view = memoryview(serials).cast("B").cast("I")  # bisect on Python ints, no numpy call per lookup
        self._digests: dict[str, bytes] = {}

    @classmethod
    def from_serials(cls, serials: Iterable[int] | np.ndarray, *, base: int = 0, size: int | None = None,
                     clip: bool = False) -> RevocationSet:
        """A set from revoked serials in any order (duplicates are merged). `size` defaults
        to the highest serial + 1 - base. Serials outside the universe are an error, or are
        dropped with `clip` (cards that expired leave the universe)."""
        _uint(base, "base")
        array = _sorted_unique(np.asarray(serials if isinstance(serials, np.ndarray) else list(serials),
                                          dtype=np.int64))
        if size is None:
            size = max(0, int(array[-1]) + 1 - base) if len(array) else 0
        _uint(size, "size")
        _check_universe(base, size)
        inside = (array >= base) & (array < base + size)
        if not inside.all():
            if not clip:
                outside = int(array[~inside][0])
                raise _malformed(f"serial {outside} is outside the universe [{base}, {base + size})")
            array = array[inside]
        return cls(array.astype(np.uint32), base=base, size=size)

    @classmethod
    def empty(cls, *, base: int = 0, size: int = 0) -> RevocationSet:
        return cls.from_serials((), base=base, size=size)

    # -- the CBOR form (§11.1) ------------------------------------------------------------

    def encode(self, k: int | None = None) -> dict:
        """The coded set as a CBOR map; `k` defaults to the best Rice parameter."""
        values = self._serials.astype(np.int64) - self.base
        if k is None:
            k = rice_parameter(_gaps(values))
        if not 0 <= k <= MAX_RICE_K:
            raise ValueError(f"the Rice parameter must lie in 0..{MAX_RICE_K}")
        return {G_BASE: self.base, G_SIZE: self.size, G_COUNT: len(self), G_K: k,
                G_BITS: encode_bits(values, k)}

    @classmethod
    def decode(cls, obj: object) -> RevocationSet:
        """Check and decode a coded set (untrusted input). A map of the wrong shape or types is
        TL_MALFORMED; values out of range and faults in the bit stream TL_REVOCATION_MALFORMED."""
        if type(obj) is not dict or not all(type(key) is int for key in obj) or set(obj) != _KEYS:  # the CBOR shape: TL_MALFORMED, as in §6.2
            raise RevocationError(Reason.TL_MALFORMED, "a coded revocation set must be a map with keys 1-5")
        base, size = _uint(obj[G_BASE], "base"), _uint(obj[G_SIZE], "size")
        count, k = _uint(obj[G_COUNT], "count"), _uint(obj[G_K], "k")
        bits = obj[G_BITS]
        if type(bits) is not bytes:
            raise RevocationError(Reason.TL_MALFORMED, "the coded bits must be a byte string")
        _check_universe(base, size)
        if k > MAX_RICE_K:
            raise _malformed(f"the Rice parameter k={k} is out of range 0..{MAX_RICE_K}")
        if count > size:
            raise _malformed(f"{count} serials cannot be revoked in a universe of {size}")
        return cls(decode_bits(bits, k, count, size, base), base=base, size=size)

    # -- what a terminal asks -------------------------------------------------------------

    def __contains__(self, serial: object) -> bool:
        if not self.base <= serial < self._end:  # type: ignore[operator]
            return False
        view = self._view
        i = bisect_left(view, serial)
        return i < len(view) and view[i] == serial

    def __len__(self) -> int:
        return len(self._serials)

    def __iter__(self) -> Iterator[int]:
        return iter(self._serials.tolist())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RevocationSet):
            return NotImplemented
        return (self.base, self.size) == (other.base, other.size) and np.array_equal(self._serials, other._serials)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<RevocationSet {len(self)} of [{self.base}, {self._end})>"

    @property
    def end(self) -> int:
        return self._end

    @property
    def serials(self) -> np.ndarray:
        """The sorted serials, a read-only uint32 array."""
        return self._serials

    @property
    def nbytes(self) -> int:
        """Memory held by the serials."""
        return self._serials.nbytes

    def digest(self, issuer_code: str) -> bytes:
        """The state digest of §11.3: SHA-256 over the issuer code, the universe and the
        serials, whatever the coding (it chains deltas)."""
        cached = self._digests.get(issuer_code)
        if cached is None:
            code = issuer_code.encode("utf-8")
            if len(code) > 255:
                raise ValueError("an issuer code is at most 255 bytes")
            digest = hashlib.sha256(STATE_CONTEXT + bytes((len(code),)) + code
                                    + struct.pack(">QQQ", self.base, self.size, len(self)))
            digest.update(self._serials.astype(">u4").tobytes())
            cached = self._digests[issuer_code] = digest.digest()
        return cached

    # -- deltas (§11.4) -------------------------------------------------------------------

    def changes_to(self, new: RevocationSet) -> tuple[RevocationSet, RevocationSet]:
        """(added, removed), both over `new`'s universe, such that
        ``self.apply(added, removed) == new``."""
        if self.size and (new.base < self.base or new.end < self.end):
            raise ValueError("a universe only moves forward: base and end may not decrease")
        old = self._serials[bisect_left(self._view, new.base):]
        added = new._serials[~_members(new._serials, old)]
        removed = old[~_members(old, new._serials)]
        return RevocationSet(added, base=new.base, size=new.size), RevocationSet(removed, base=new.base, size=new.size)

    def apply(self, added: RevocationSet, removed: RevocationSet) -> RevocationSet:
        """The set after a delta entry: moved to the new universe (serials below its base
        leave), minus `removed`, plus `added`. TL_DELTA_CHAIN if the entry does not fit
        this set (a universe moving back, removing what is not revoked, adding what is)."""
        base, size = added.base, added.size
        if (removed.base, removed.size) != (base, size):
            raise _malformed("the added and removed sets of a delta entry must share one universe")
        if self.size and (base < self.base or base + size < self.end):
            raise RevocationError(Reason.TL_DELTA_CHAIN,
                                  f"the delta moves the universe back to [{base}, {base + size}) "
                                  f"from [{self.base}, {self.end})")
        kept = self._serials[bisect_left(self._view, base):]
        if len(removed):
            if not _members(removed._serials, kept).all():
                raise RevocationError(Reason.TL_DELTA_CHAIN, "the delta removes a serial that is not revoked here")
            kept = np.delete(kept, np.searchsorted(kept, removed._serials))
        if len(added):
            if _members(added._serials, kept).any():
                raise RevocationError(Reason.TL_DELTA_CHAIN, "the delta adds a serial that is already revoked here")
            kept = np.insert(kept, np.searchsorted(kept, added._serials), added._serials)
        return RevocationSet(kept, base=base, size=size)
