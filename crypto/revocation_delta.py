"""Signed revocation deltas (docs/spec.md §11.4): what changed in the revocation data
between two trust-list versions, so that a terminal catches up with a few kB a day
instead of the full list.

A delta is a COSE_Sign1 by the trust-list signer (the envelope of §6.3). It names the
version it applies to and the version it makes, the issuer certificates it was made for
(their digest), and for each issuing centre whose data changed the state digest before
and after (§11.3) and the serials added and removed (coded sets, §11.1). A terminal
applies deltas in order; any gap or mismatch is refused with ``TL_DELTA_CHAIN`` and the
terminal falls back to the full list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from crypto import cbor, cose
from crypto.errors import CborError, CertificateError, CoseError, RevocationError, TrustListError
from crypto.keys import Signer
from crypto.reasons import Reason
from crypto.revocation import RevocationSet
from crypto.trustlist import (MAX_TRUST_LIST_BYTES, TrustList, check_signed_at, issuers_digest, open_signed)

# Delta payload keys (spec §11.4).
D_BASE_VERSION, D_NEW_VERSION, D_ISSUED_AT, D_NEXT_UPDATE, D_ISSUERS_DIGEST, D_ENTRIES = 1, 2, 3, 4, 5, 6
_PAYLOAD_KEYS = frozenset({D_BASE_VERSION, D_NEW_VERSION, D_ISSUED_AT, D_NEXT_UPDATE, D_ISSUERS_DIGEST, D_ENTRIES})
# Delta entry keys.
E_ISSUER, E_PREVIOUS, E_NEW, E_ADDED, E_REMOVED = 1, 2, 3, 4, 5
_ENTRY_KEYS = frozenset({E_ISSUER, E_PREVIOUS, E_NEW, E_ADDED, E_REMOVED})
DIGEST_LENGTH = 32


def _malformed(message: str) -> RevocationError:
    return RevocationError(Reason.TL_MALFORMED, message)


def _chain(message: str) -> RevocationError:
    return RevocationError(Reason.TL_DELTA_CHAIN, message)


@dataclass(frozen=True, slots=True)
class DeltaEntry:
    """The change of one issuing centre's revocation data."""

    issuer_code: str
    previous_digest: bytes      # state digest (§11.3) the terminal must hold
    new_digest: bytes           # state digest after the change
    added: RevocationSet        # newly revoked serials, over the new universe
    removed: RevocationSet      # serials no longer listed (a suspension lifted), over the new universe


@dataclass(frozen=True, slots=True)
class RevocationDelta:
    """A delta whose signature has been checked against the pinned root."""

    base_version: int
    new_version: int
    issued_at: int
    next_update: int
    issuers_digest: bytes
    entries: tuple[DeltaEntry, ...]
    encoded: bytes

    @property
    def added(self) -> int:
        return sum(len(e.added) for e in self.entries)

    @property
    def removed(self) -> int:
        return sum(len(e.removed) for e in self.entries)


# ---------------------------------------------------------------- the publisher's side

def build_revocation_delta(*, base_version: int, new_version: int, issued_at: int, next_update: int,
                           issuer_certificates: Iterable[x509.Certificate | bytes],
                           previous: Mapping[str, RevocationSet], current: Mapping[str, RevocationSet],
                           signer: Signer) -> bytes:
    """Sign the delta from the revocation data `previous` (of version `base_version`) to
    `current` (of `new_version`, whose issuer certificates are `issuer_certificates`).

    Every centre in `previous` must stay in `current` (keep an empty set rather than drop
    the entry) and the universes may only move forward.
    """
    if new_version <= base_version:
        raise TrustListError(Reason.TL_MALFORMED, "a delta must lead to a later version")
    if next_update <= issued_at:
        raise TrustListError(Reason.TL_MALFORMED, "next_update must be after issued_at")
    dropped = sorted(set(previous) - set(current))
    if dropped:
        raise TrustListError(Reason.TL_MALFORMED, f"a delta cannot drop the entries of {', '.join(dropped)}")
    entries = []
    for code in sorted(current):
        old, new = previous.get(code, RevocationSet.empty()), current[code]
        if type(old) is type(new) and old == new:
            continue  # unchanged, whatever its format
        if not isinstance(old, RevocationSet) or not isinstance(new, RevocationSet):
            raise TrustListError(Reason.TL_MALFORMED, f"{code}: deltas carry changes of format 2 data only")
        added, removed = old.changes_to(new)
        entries.append({E_ISSUER: code, E_PREVIOUS: old.digest(code), E_NEW: new.digest(code),
                        E_ADDED: added.encode(), E_REMOVED: removed.encode()})
    ders = [c if isinstance(c, bytes) else c.public_bytes(serialization.Encoding.DER) for c in issuer_certificates]
    payload = cbor.dumps({D_BASE_VERSION: base_version, D_NEW_VERSION: new_version, D_ISSUED_AT: issued_at,
                          D_NEXT_UPDATE: next_update, D_ISSUERS_DIGEST: issuers_digest(ders), D_ENTRIES: entries})
    x5chain = signer.certificate.public_bytes(serialization.Encoding.DER)
    return cose.sign1(payload, signer, unprotected={cose.HDR_X5CHAIN: x5chain})


def delta_between(previous: TrustList, current: TrustList, signer: Signer) -> bytes:
    """The delta that brings a terminal holding `previous` to `current` (both loaded lists
    with format-2 revocation data and the same issuer certificates)."""
    if previous.issuers_digest() != current.issuers_digest():
        raise TrustListError(Reason.TL_MALFORMED, "the issuer certificates changed: terminals need the full list")
    return build_revocation_delta(base_version=previous.version, new_version=current.version,
                                  issued_at=current.issued_at, next_update=current.next_update,
                                  issuer_certificates=[i.der for i in current.issuers],
                                  previous=previous.revoked, current=current.revoked,  # type: ignore[arg-type]
                                  signer=signer)


# ---------------------------------------------------------------- the terminal's side

def load_revocation_delta(data: bytes, root: x509.Certificate) -> RevocationDelta:
    """Check a delta's signature against the pinned root (§6.5 steps 1-4 and 6) and its
    structure (§11.4). Raises :class:`TrustListError` (TL_SIGNER, TL_SIGNATURE,
    TL_MALFORMED, TL_REVOCATION_MALFORMED)."""
    try:
        payload, signer_cert = open_signed(data, root, "revocation delta")
        body = cbor.loads(payload, max_size=MAX_TRUST_LIST_BYTES, what="revocation delta")
    except (CborError, CoseError, CertificateError) as exc:
        raise TrustListError(exc.reason if exc.reason.value.startswith("TL_") else Reason.TL_MALFORMED,
                             f"revocation delta rejected: {exc.message}") from None
    if not cbor.int_keys(body) or set(body) != _PAYLOAD_KEYS:
        raise _malformed("the delta payload must be a map with keys 1-6")
    numbers = [body[k] for k in (D_BASE_VERSION, D_NEW_VERSION, D_ISSUED_AT, D_NEXT_UPDATE)]
    if not all(type(v) is int and v >= 0 for v in numbers):
        raise _malformed("versions, issued_at and next_update must be non-negative integers")
    base_version, new_version, issued_at, next_update = numbers
    if new_version <= base_version or next_update <= issued_at:
        raise _malformed("a delta must lead to a later version, next_update after issued_at")
    check_signed_at(signer_cert, issued_at, "revocation delta")
    digest = body[D_ISSUERS_DIGEST]
    if type(digest) is not bytes or len(digest) != DIGEST_LENGTH:
        raise _malformed("the issuers digest must be 32 bytes")
    return RevocationDelta(base_version, new_version, issued_at, next_update, digest,
                           _entries(body[D_ENTRIES]), bytes(data))


def _entries(value: object) -> tuple[DeltaEntry, ...]:
    if type(value) is not list:
        raise _malformed("the delta entries must be an array")
    entries: list[DeltaEntry] = []
    for item in value:
        if not cbor.int_keys(item) or set(item) != _ENTRY_KEYS or type(item[E_ISSUER]) is not str:
            raise _malformed("a delta entry must be {1: issuer, 2: previous digest, 3: new digest, 4: added, "
                             "5: removed}")
        code = item[E_ISSUER]
        if entries and code <= entries[-1].issuer_code:
            raise _malformed("delta entries must be sorted by issuer code, one per centre")
        digests = item[E_PREVIOUS], item[E_NEW]
        if not all(type(d) is bytes and len(d) == DIGEST_LENGTH for d in digests):
            raise _malformed("state digests must be 32 bytes")
        added, removed = RevocationSet.decode(item[E_ADDED]), RevocationSet.decode(item[E_REMOVED])
        if (added.base, added.size) != (removed.base, removed.size):
            raise RevocationError(Reason.TL_REVOCATION_MALFORMED,
                                  f"{code}: the added and removed sets must share one universe")
        entries.append(DeltaEntry(code, digests[0], digests[1], added, removed))
    return tuple(entries)


def apply_revocation_delta(held: TrustList, delta: RevocationDelta) -> TrustList:
    """The trust list `held` brought to the delta's version (a new object; `held` is not
    changed). TL_DELTA_CHAIN when the delta does not follow what is held: another base
    version, other issuer certificates, a state digest that differs before or after."""
    if delta.base_version != held.version:
        raise _chain(f"the delta applies to version {delta.base_version}, this terminal holds {held.version}")
    if delta.issuers_digest != held.issuers_digest():
        raise _chain("the delta was made for other issuer certificates: fetch the full list")
    if delta.issued_at < held.issued_at:
        raise _chain("the delta is older than the data held")
    revoked = dict(held.revoked)
    for entry in delta.entries:
        code = entry.issuer_code
        state = held.revocation_state(code)
        if not isinstance(state, RevocationSet):
            raise _chain(f"{code}'s data is held as a serial list (format 1): fetch the full list")
        if state.digest(code) != entry.previous_digest:
            raise _chain(f"{code}'s data held is not the data the delta starts from")
        new = state.apply(entry.added, entry.removed)
        if new.digest(code) != entry.new_digest:
            raise _chain(f"{code}'s data after the delta is not the data it names")
        revoked[code] = new
    return TrustList(delta.new_version, delta.issued_at, delta.next_update, held.issuers, revoked,
                     held.encoded, held.deltas + (delta.encoded,))


def apply_revocation_deltas(held: TrustList, deltas: Iterable[bytes], root: x509.Certificate) -> TrustList:
    """Apply signed deltas in order (each checked against the pinned root). All or
    nothing: the first that is refused raises, and `held` stays as it was."""
    for data in deltas:
        held = apply_revocation_delta(held, load_revocation_delta(data, root))
    return held
