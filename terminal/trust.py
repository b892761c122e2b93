"""Trust-list sync (issue 6 item 4; docs/spec.md §6.5, §11.4): fetch the trust list when
online, verify it against the pinned root, refuse rollback, swap it in atomically, keep the
last good one, and say how old it is.

A terminal that holds a list first asks the source for the revocation deltas from its
version (:mod:`terminal.trust_deltas`) and applies them in order; any gap, missing or
refused delta, or a chain that stops short of the source's latest version, and it fetches
the full list instead (§11.4 "catching up and falling back").

On disk (``<home>/trust/``): ``trustlist.cose``, the last full list installed, exactly the
bytes the issuer signed; ``trustlist-deltas.cbor``, the signed deltas applied to it since,
in order, re-verified and re-applied whenever the list is loaded; ``trustlist.json``,
where it came from, its ETag and when it was fetched. A refused or failed download leaves
them untouched. Each swap is write to a temporary file, fsync, rename over the old one,
fsync the folder: a crash at any moment leaves the old file or the new one. Applying
deltas writes only the deltas file; installing a full list writes the list, then removes
the deltas file — a crash in between leaves deltas made for another list, which are ignored
(the terminal holds the new full list).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from crypto import SscError, TrustStore
from crypto.keys import load_certificate
from crypto.revocation import RevocationSet
from crypto.revocation_delta import apply_revocation_deltas
from crypto.trustlist import MAX_TRUST_LIST_BYTES, TrustList, load_trust_list
from terminal import trust_deltas
from terminal.trust_deltas import DELTAS_NAME, NoDeltas

LIST_NAME, META_NAME = "trustlist.cose", "trustlist.json"
# Where a published folder keeps the list: `ssc-issuer trust-list` writes trustlist.cose;
# `ssc-issuer publish DIR` writes trust-list.cose (the latest) beside trust-list/VERSION.
DIR_CANDIDATES = ("trust-list.cose", "trustlist.cose")
# With this many deltas held the next sync fetches the full list: a load re-applies them all.
MAX_HELD_DELTAS = 60


class SyncError(Exception):
    """The trust list could not be fetched or was refused; the held one stays."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class SyncResult:
    status: str              # "updated", "unchanged" (same version), "not-modified" (HTTP 304)
    version: int
    issued_at: int
    previous_version: int | None
    path: str = "full"       # "delta": by revocation deltas; "full": the full list
    bytes_fetched: int = 0   # bodies downloaded or read: deltas, their index and the full list
    deltas: int = 0          # deltas applied by this sync
    fallback: str | None = None  # why the full list was fetched although a list was held


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves the old or the new bytes."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def human_age(seconds: int) -> str:
    sign, seconds = ("-" if seconds < 0 else ""), abs(int(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{sign}{days} d {hours} h"
    return f"{sign}{hours} h {rest // 60} min"


class TrustState:
    """The trust list this terminal holds, pinned to `root_path`."""

    def __init__(self, folder: Path, root_path: Path) -> None:
        self.folder = Path(folder)
        self.root_path = Path(root_path)
        self.list_path = self.folder / LIST_NAME
        self.meta_path = self.folder / META_NAME
        self.deltas_path = self.folder / DELTAS_NAME
        self.problem: str | None = None  # kept deltas that no longer apply (the full list alone is used)

    def root(self):
        try:
            return load_certificate(self.root_path)
        except (OSError, SscError, ValueError) as exc:
            raise SyncError("ROOT_MISSING", f"cannot load the pinned root {self.root_path}: "
                                            f"{getattr(exc, 'message', exc)}") from None

    def held(self, path: Path | None = None) -> TrustList | None:
        """The last good list (re-verified against the root) with the deltas kept applied
        again, or None. A `path` other than the synced list is loaded alone."""
        try:
            data = (path or self.list_path).read_bytes()
        except FileNotFoundError:
            return None
        root = self.root()
        full = load_trust_list(data, root)
        self.problem = None
        if path is not None:
            return full
        try:
            deltas = trust_deltas.read_kept(self.deltas_path, data)
            return apply_revocation_deltas(full, deltas, root) if deltas else full
        except (SscError, ValueError, OSError) as exc:  # only a damaged disk or another root gets here
            self.problem = f"the deltas kept no longer apply ({getattr(exc, 'message', exc)}): using full list " \
                           f"version {full.version} until the next sync"
            return full

    def meta(self) -> dict:
        try:
            return json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            return {}

    def store(self) -> TrustStore:
        """A TrustStore with the pinned root and the held list (if any)."""
        return TrustStore(self.root(), self.held())

    # -- sync ---------------------------------------------------------------------------

    def sync(self, source: str, *, timeout: float = 20.0, now: int | None = None) -> SyncResult:
        now = int(now if now is not None else time.time())
        root = self.root()
        try:
            held = self.held()
        except SscError:
            held = None  # a held list that no longer verifies (root changed) is replaced
        meta = self.meta()
        fetched, fallback = 0, None
        if held is not None and len(held.deltas) >= MAX_HELD_DELTAS:
            fallback = f"{len(held.deltas)} deltas held: the full list replaces them"
        elif held is not None:
            try:
                return self._sync_deltas(source, held, root, meta, timeout, now)
            except NoDeltas as exc:
                fetched, fallback = exc.bytes_fetched, exc.message
        if source.startswith(("http://", "https://")):
            etag = meta.get("etag") if meta.get("source") == source and held and not held.deltas else None
            data, etag = self._fetch_url(source, etag, timeout)
            if data is None:  # 304: what we hold is current
                self._write_meta(dict(meta, checked_at=now))
                return SyncResult("not-modified", held.version, held.issued_at, held.version, "full", fetched,
                                  fallback=fallback)
        else:
            data, etag = self._read_dir(Path(source)), None
        fetched += len(data)
        store = TrustStore(root, held)
        try:
            new = store.update(data)  # verifies against the root, refuses rollback
        except SscError as exc:
            raise SyncError(exc.reason.value, exc.message) from None
        except Exception as exc:  # noqa: BLE001 - fail closed: the list held stays
            raise SyncError("TL_MALFORMED", f"the trust list could not be read ({type(exc).__name__}): "
                                            "the list held is kept") from None
        previous = held.version if held else None
        if held is not None and new.encoded == held.encoded and not held.deltas:
            self._write_meta(dict(meta, checked_at=now, etag=etag or meta.get("etag"), source=source))
            return SyncResult("unchanged", new.version, new.issued_at, previous, "full", fetched, fallback=fallback)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.list_path, data)
        self._drop_deltas()
        self._write_meta({"source": source, "etag": etag, "fetched_at": now, "checked_at": now,
                          "version": new.version, "issued_at": new.issued_at, "next_update": new.next_update,
                          "full_version": new.version})
        status = "unchanged" if previous == new.version else "updated"  # same version: reached by deltas before
        return SyncResult(status, new.version, new.issued_at, previous, "full", fetched, fallback=fallback)

    def _sync_deltas(self, source: str, held: TrustList, root, meta: dict, timeout: float, now: int) -> SyncResult:
        """Bring `held` to the source's latest version by deltas; NoDeltas when it cannot."""
        offer = trust_deltas.offer(source, held.version, timeout)
        try:
            new = apply_revocation_deltas(held, offer.chain, root)
        except SscError as exc:
            raise NoDeltas(f"{exc.reason.value}: {exc.message}", offer.bytes_fetched) from None
        except Exception as exc:  # noqa: BLE001 - fail closed: a delta that cannot be read is refused
            raise NoDeltas(f"TL_MALFORMED: a delta could not be read ({type(exc).__name__})",
                           offer.bytes_fetched) from None
        if new.version != offer.latest:
            raise NoDeltas(f"the deltas end at version {new.version}, the source's latest is {offer.latest}",
                           offer.bytes_fetched)
        if not offer.chain:
            self._write_meta(dict(meta, checked_at=now))
            return SyncResult("unchanged", new.version, new.issued_at, held.version, "delta", offer.bytes_fetched)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.deltas_path, trust_deltas.encode_kept(new.encoded, new.deltas))
        self._write_meta(dict(meta, source=source, etag=None, fetched_at=now, checked_at=now, version=new.version,
                              issued_at=new.issued_at, next_update=new.next_update))
        return SyncResult("updated", new.version, new.issued_at, held.version, "delta", offer.bytes_fetched,
                          len(offer.chain))

    def _drop_deltas(self) -> None:
        try:
            self.deltas_path.unlink()
        except FileNotFoundError:
            return
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _write_meta(self, meta: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.meta_path, json.dumps(meta, indent=2).encode())

    @staticmethod
    def _fetch_url(url: str, etag: str | None, timeout: float) -> tuple[bytes | None, str | None]:
        import httpx

        headers = {"Accept": "application/cose"}
        if etag:
            headers["If-None-Match"] = etag
        try:
            with httpx.Client(timeout=timeout, follow_redirects=True) as client:
                with client.stream("GET", url, headers=headers) as response:
                    if response.status_code == 304:
                        return None, etag
                    if response.status_code != 200:
                        raise SyncError("FETCH_FAILED", f"{url} answered {response.status_code}")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_TRUST_LIST_BYTES:
                            raise SyncError("TL_MALFORMED", f"{url} sent more than {MAX_TRUST_LIST_BYTES} bytes")
                    return bytes(body), response.headers.get("ETag")
        except httpx.HTTPError as exc:
            raise SyncError("FETCH_FAILED", f"cannot fetch {url}: {exc}") from None

    @staticmethod
    def _read_dir(path: Path) -> bytes:
        target = path
        if path.is_dir():
            found = [path / n for n in DIR_CANDIDATES if (path / n).is_file()]
            if not found:
                raise SyncError("FETCH_FAILED", f"{path} holds no trust list ({', '.join(DIR_CANDIDATES)})")
            target = found[0]
        try:
            if target.stat().st_size > MAX_TRUST_LIST_BYTES:
                raise SyncError("TL_MALFORMED", f"{target} is larger than {MAX_TRUST_LIST_BYTES} bytes")
            return target.read_bytes()
        except OSError as exc:
            raise SyncError("FETCH_FAILED", f"cannot read {target}: {exc.strerror}") from None

    # -- status -------------------------------------------------------------------------

    def status(self, now: int | None = None, max_age: int | None = None, path: Path | None = None) -> dict:
        """What the terminal holds and how old it is; `max_age` is a site's limit."""
        now = int(now if now is not None else time.time())
        out: dict = {"root": str(self.root_path), "trust_list": str(path or self.list_path)}
        try:
            held = self.held(path)
        except (SscError, SyncError) as exc:
            out.update(held=False, problem=getattr(exc, "message", str(exc)))
            return out
        if held is None:
            out.update(held=False, problem="no trust list yet: run `ssc-terminal sync URL|DIR`")
            return out
        age = held.age(now)
        revocation = [{"issuer": code, "format": 2 if isinstance(entry, RevocationSet) else 1, "revoked": len(entry)}
                      | ({"universe": [entry.base, entry.end]} if isinstance(entry, RevocationSet) else {})
                      for code, entry in sorted(held.revoked.items())]
        out.update(held=True, version=held.version, issued_at=held.issued_at, next_update=held.next_update,
                   age_seconds=age, age=human_age(age), issuers=len(held.issuers),
                   revoked=sum(len(s) for s in held.revoked.values()), past_next_update=now > held.next_update,
                   revocation_format="+".join(str(f) for f in sorted({r["format"] for r in revocation})) or "none",
                   revocation=revocation, deltas_applied=len(held.deltas))
        if self.problem and path is None:
            out["problem"] = self.problem
        if max_age is not None:
            out["stale_for_site"] = age > max_age
        meta = self.meta() if path is None else {"source": f"{path} (development fallback: not synced)"}
        for key in ("source", "fetched_at", "checked_at", "etag"):
            if key in meta:
                out[key] = meta[key]
        return out


class TrustCache:
    """The agent's view: reloads the store when `ssc-terminal sync` (another process)
    swapped the file in, by watching its inode and modification time.

    `fallback` is a trust list file used while the terminal has synced none (on a
    development machine: the one `ssc-issuer trust-list` writes); `fixed` a file used
    always (`--trust-list`)."""

    def __init__(self, state: TrustState, fallback: Path | None = None, fixed: Path | None = None) -> None:
        self.state = state
        self.fallback = Path(fallback) if fallback else None
        self.fixed = Path(fixed) if fixed else None
        self._key: tuple | None = None
        self._store: TrustStore | None = None

    def _source(self) -> Path:
        if self.fixed is not None:
            return self.fixed
        if self.state.list_path.exists() or self.fallback is None or not self.fallback.exists():
            return self.state.list_path
        return self.fallback

    def store(self) -> TrustStore:
        path = self._source()
        key = (_stamp(path), _stamp(self.state.deltas_path) if path == self.state.list_path else None)
        if self._store is None or key != self._key:
            if path == self.state.list_path:
                store = self.state.store()
            else:
                store = TrustStore(self.state.root(), load_trust_list(path.read_bytes(), self.state.root()))
            self._store, self._key = store, key
        return self._store

    def status(self, now: int | None = None, max_age: int | None = None) -> dict:
        path = self._source()
        if path == self.state.list_path:
            return self.state.status(now, max_age)
        return self.state.status(now, max_age, path)


def _stamp(path: Path) -> tuple | None:
    """What changes when `ssc-terminal sync` swaps a file in."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return str(path), st.st_ino, st.st_mtime_ns, st.st_size
