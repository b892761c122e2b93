"""The terminal's local event log (issue 6 item 5): every verification, stored before
anything else happens with it, forwarded to the issuer when the network allows.

SQLite in WAL mode with ``synchronous=FULL``: a row is on disk when ``append`` returns,
so a crash, a power cut or ``kill -9`` loses nothing that was acknowledged, and weeks
offline only make the table longer. A row holds the verdict, its reason codes, the site,
the time, the input kind and the fields the site policy allows to be logged — never the
QR text, the photo, or any other field.

Forwarding: rows not yet forwarded go to the issuer in batches (POST JSON); they are
marked forwarded only after a 2xx answer, and each carries a unique ``event_id`` so the
issuer can drop a batch it has already stored (a 2xx lost on the way back is resent).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    at           INTEGER NOT NULL,          -- epoch seconds
    terminal     TEXT NOT NULL,
    site         TEXT NOT NULL,
    input        TEXT NOT NULL,             -- qr or chip, and how it was read
    outcome      TEXT NOT NULL,             -- VALID, INVALID, INDETERMINATE
    reasons      TEXT NOT NULL,             -- JSON array of reason codes
    fields       TEXT NOT NULL,             -- JSON object: policy-allowed fields only
    forwarded_at INTEGER                    -- NULL until the issuer answered 2xx
);
CREATE INDEX IF NOT EXISTS events_unforwarded ON events (seq) WHERE forwarded_at IS NULL;
"""
COLUMNS = ("seq", "event_id", "at", "terminal", "site", "input", "outcome", "reasons", "fields", "forwarded_at")


@dataclass(frozen=True)
class ForwardReport:
    sent: int
    batches: int
    error: str | None = None


class EventLog:
    """One SQLite file; safe to share between the agent's threads."""

    def __init__(self, path: Path, *, terminal_id: str = "terminal") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.terminal_id = terminal_id
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def append(self, *, site: str, input_kind: str, outcome: str, reasons: list[str], fields: dict,
               at: int | None = None, event_id: str | None = None) -> str:
        """Store one verification; returns its event id once it is durable."""
        event_id = event_id or uuid.uuid4().hex
        row = (event_id, int(at if at is not None else time.time()), self.terminal_id, site, input_kind, outcome,
               json.dumps(list(reasons)), json.dumps(fields, ensure_ascii=False, sort_keys=True))
        with self._lock:
            self._db.execute("INSERT INTO events (event_id, at, terminal, site, input, outcome, reasons, fields) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        return event_id

    def rows(self, *, unforwarded: bool = False, limit: int = 1000) -> list[dict]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM events"
        if unforwarded:
            sql += " WHERE forwarded_at IS NULL"
        sql += " ORDER BY seq LIMIT ?"
        with self._lock:
            found = self._db.execute(sql, (limit,)).fetchall()
        out = []
        for values in found:
            row = dict(zip(COLUMNS, values))
            row["reasons"], row["fields"] = json.loads(row["reasons"]), json.loads(row["fields"])
            out.append(row)
        return out

    def counts(self) -> dict:
        with self._lock:
            total, pending = self._db.execute(
                "SELECT COUNT(*), COUNT(*) - COUNT(forwarded_at) FROM events").fetchone()
        return {"total": total, "unforwarded": pending}

    def mark_forwarded(self, event_ids: list[str], at: int | None = None) -> None:
        when = int(at if at is not None else time.time())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("UPDATE events SET forwarded_at = ? WHERE event_id = ?",
                                     [(when, e) for e in event_ids])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def forward(self, url: str, *, batch_size: int = 200, timeout: float = 10.0, client=None,
                max_batches: int = 1000, api_key: str | None = None) -> ForwardReport:
        """Send unforwarded rows to `url` until none is left or the issuer does not answer 2xx.

        `api_key` (default: $SSC_EVENTS_KEY) authenticates the terminal to the issuer."""
        import httpx

        from terminal.config import forward_key

        own = client is None
        api_key = api_key or forward_key()
        headers = {"X-API-Key": api_key} if api_key else {}
        client = client or httpx.Client(timeout=timeout)
        sent = batches = 0
        try:
            while batches < max_batches:
                rows = self.rows(unforwarded=True, limit=batch_size)
                if not rows:
                    return ForwardReport(sent, batches)
                body = {"terminal": self.terminal_id,
                        "events": [{k: r[k] for k in COLUMNS if k not in ("seq", "forwarded_at")} for r in rows]}
                try:
                    response = client.post(url, json=body, headers=headers)
                except httpx.HTTPError as exc:
                    return ForwardReport(sent, batches, f"{type(exc).__name__}: {exc}")
                if not 200 <= response.status_code < 300:
                    return ForwardReport(sent, batches, f"the issuer answered {response.status_code}")
                self.mark_forwarded([r["event_id"] for r in rows])
                sent += len(rows)
                batches += 1
            return ForwardReport(sent, batches)
        finally:
            if own:
                client.close()


class Forwarder(threading.Thread):
    """Forwards the log every `interval` seconds until stopped (the agent runs one)."""

    def __init__(self, events: EventLog, url: str, *, interval: float = 30.0) -> None:
        super().__init__(name="event-forwarder", daemon=True)
        self.events, self.url, self.interval = events, url, interval
        self._stop_event = threading.Event()
        self.last: ForwardReport | None = None

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.last = self.events.forward(self.url)
                if self.last.error:
                    log.info("event forwarding paused: %s", self.last.error)
            except Exception as exc:  # the log stays; try again next time
                log.warning("event forwarding failed: %s", exc)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
