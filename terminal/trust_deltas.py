"""Revocation deltas in ``ssc-terminal sync`` (docs/spec.md §11.4, §11.7): where a source
offers them, and the file in which the terminal keeps those it applied.

A source offers deltas in one of two layouts:

- **the issuer service** (a URL that does not end in ``.cose``, e.g.
  ``https://issuer/trust-list``): ``GET {source}/deltas?since=V`` answers a CBOR array of
  the signed deltas V → … → latest, in order, and names the latest version in
  ``X-Trust-List-Version``; 404 when it has no chain from V.
- **a published folder** (``ssc-issuer publish DIR``), on a USB stick (a folder, or its
  ``trust-list.cose``) or behind a web server (a URL ending in ``.cose``):
  ``deltas/index.json`` beside the list names the latest version and every delta
  ``{from, to, file, size, sha256}``; the files are ``deltas/FROM-TO.cose``.

Anything short of a complete chain to the source's latest version raises :class:`NoDeltas`,
and the caller fetches the full list. Nothing here verifies a signature: the caller applies
the chain with :func:`crypto.revocation_delta.apply_revocation_deltas` against the pinned root.

Kept beside the full list: ``trustlist-deltas.cbor``, a CBOR map ``{1: SHA-256 of the full
list the deltas apply to, 2: [delta, …]}``. A file made for another full list is ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from crypto import cbor
from crypto.errors import CborError
from crypto.trustlist import MAX_TRUST_LIST_BYTES

DELTAS_NAME = "trustlist-deltas.cbor"
INDEX_PATH = "deltas/index.json"
MAX_INDEX_BYTES = 4 * 1024 * 1024
MAX_CHAIN = 400
_FILE = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}\.cose$")


class NoDeltas(Exception):
    """The source offers no usable delta chain from the version held: fetch the full list."""

    def __init__(self, message: str, bytes_fetched: int = 0) -> None:
        super().__init__(message)
        self.message, self.bytes_fetched = message, bytes_fetched


@dataclass(frozen=True)
class DeltaOffer:
    chain: tuple[bytes, ...]  # the signed deltas, in order; empty when the version held is the latest
    latest: int               # the source's latest version: where the chain must end
    bytes_fetched: int        # bodies downloaded or read (index and deltas)


def offer(source: str, since: int, timeout: float = 20.0) -> DeltaOffer:
    """The deltas `source` offers from version `since` to its latest; :class:`NoDeltas` otherwise."""
    if source.startswith(("http://", "https://")):
        if urlsplit(source).path.endswith(".cose"):
            base = source[:source.rfind("/") + 1]
            return _from_index(since, lambda name, limit: _get(base + name, limit, timeout)[0])
        return _from_service(source, since, timeout)
    folder = Path(source)
    folder = folder if folder.is_dir() else folder.parent
    return _from_index(since, lambda name, limit: _read(folder / name, limit))


# ---------------------------------------------------------------- the issuer service

def _from_service(source: str, since: int, timeout: float) -> DeltaOffer:
    url = f"{source.rstrip('/')}/deltas?since={since}"
    body, headers = _get(url, MAX_TRUST_LIST_BYTES, timeout, accept="application/cbor")  # headers: any case
    try:
        chain = cbor.loads(body, max_size=MAX_TRUST_LIST_BYTES, what="delta chain")
        latest = int(headers.get("X-Trust-List-Version", ""))
    except (CborError, ValueError):
        raise NoDeltas(f"{url} did not answer a delta chain", len(body)) from None
    if not isinstance(chain, list) or not all(isinstance(d, bytes) for d in chain) or len(chain) > MAX_CHAIN:
        raise NoDeltas(f"{url} did not answer a delta chain", len(body))
    return DeltaOffer(tuple(chain), latest, len(body))


# ---------------------------------------------------------------- a published folder

def _from_index(since: int, get) -> DeltaOffer:
    raw = get(INDEX_PATH, MAX_INDEX_BYTES)
    fetched = len(raw)
    try:
        index = json.loads(raw)
        latest, entries = index["latest"], index["deltas"]
        if type(latest) is not int or not isinstance(entries, list):
            raise ValueError
        by_base = {e["from"]: e for e in entries}
    except (ValueError, KeyError, TypeError):
        raise NoDeltas(f"{INDEX_PATH} is not a delta index", fetched) from None
    if since > latest:
        raise NoDeltas(f"the source's latest version {latest} is older than the version {since} held", fetched)
    chain, at = [], since
    while at != latest:
        entry = by_base.get(at)
        if not isinstance(entry, dict) or type(entry.get("to")) is not int or not at < entry["to"] <= latest \
                or not isinstance(entry.get("file"), str) or not _FILE.match(entry["file"]):
            raise NoDeltas(f"the source has no delta from version {at}", fetched)
        if len(chain) == MAX_CHAIN:
            raise NoDeltas(f"more than {MAX_CHAIN} deltas behind", fetched)
        try:
            data = get(f"deltas/{entry['file']}", MAX_TRUST_LIST_BYTES)
        except NoDeltas as exc:
            raise NoDeltas(exc.message, fetched + exc.bytes_fetched) from None
        fetched += len(data)
        if isinstance(entry.get("sha256"), str) and hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise NoDeltas(f"deltas/{entry['file']} does not have the digest its index gives", fetched)
        chain.append(data)
        at = entry["to"]
    return DeltaOffer(tuple(chain), latest, fetched)


def _read(path: Path, limit: int) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise NoDeltas(f"{path} is larger than {limit} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        raise NoDeltas(f"{path} does not exist") from None
    except OSError as exc:
        raise NoDeltas(f"cannot read {path}: {exc.strerror}") from None


def _get(url: str, limit: int, timeout: float, accept: str = "*/*"):
    import httpx

    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            with client.stream("GET", url, headers={"Accept": accept}) as response:
                if response.status_code != 200:
                    raise NoDeltas(f"{url} answered {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise NoDeltas(f"{url} sent more than {limit} bytes", len(body))
                return bytes(body), response.headers
    except httpx.HTTPError as exc:
        raise NoDeltas(f"cannot fetch {url}: {exc}") from None


# ---------------------------------------------------------------- what the terminal keeps

def encode_kept(full: bytes, deltas: tuple[bytes, ...]) -> bytes:
    return cbor.dumps({1: hashlib.sha256(full).digest(), 2: list(deltas)})


def read_kept(path: Path, full: bytes) -> tuple[bytes, ...]:
    """The deltas kept for the full list `full`: none without a file or when the file was
    made for another list. ValueError when the file is damaged."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ()
    try:
        kept = cbor.loads(data, max_size=4 * MAX_TRUST_LIST_BYTES, what="kept deltas")
    except CborError as exc:
        raise ValueError(f"{path.name} is damaged: {exc.message}") from None
    if not isinstance(kept, dict) or set(kept) != {1, 2} or not isinstance(kept[2], list) \
            or not all(isinstance(d, bytes) for d in kept[2]):
        raise ValueError(f"{path.name} is damaged")
    return tuple(kept[2]) if kept[1] == hashlib.sha256(full).digest() else ()
