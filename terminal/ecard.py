"""What a terminal remembers about e-card presentations (docs/spec.md §12.7): the ones it
accepted (the replay cache) and the challenges it showed (challenge mode).

Both live in the terminal's SQLite file (``events.sqlite``, beside the event log, in WAL
mode with ``synchronous=FULL``), so a restart does not reopen a presentation's window: a
screenshot of a code accepted a minute ago is refused after a reboot too. A row is written
before the verdict is returned. Rows are kept until the presentation could no longer pass
the time window anyway (made + window + 2 × leeway), and pruned after that.

Challenges: 5 random bytes, shown as ``SSC1C:7K2M-Q9XD`` (QR) and ``7K2M-Q9XD`` (typed);
each is good for one answer within its lifetime. The lifetime is measured on this
terminal's own clock from issue to answer, so a clock that is wrong by hours but steady
still times challenges right: that is what challenge mode is for.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from crypto.ecard import new_challenge
from crypto.reasons import Reason

SCHEMA = """
CREATE TABLE IF NOT EXISTS ecard_seen (
    key    BLOB PRIMARY KEY,          -- crypto.ecard.Presentation.replay_key()
    until  INTEGER NOT NULL,          -- epoch seconds: kept until then
    at     INTEGER NOT NULL           -- when this terminal accepted it
);
CREATE INDEX IF NOT EXISTS ecard_seen_until ON ecard_seen (until);
CREATE TABLE IF NOT EXISTS ecard_challenges (
    challenge  BLOB PRIMARY KEY,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER                -- NULL while open
);
"""
PRUNE_EVERY = 256  # inserts between prunes of rows past their time


class PresentationStore:
    """The replay guard and challenge book of crypto.ecard_verify, on SQLite; safe to share
    between the agent's threads (and between processes: SQLite locks the file)."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._inserts = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> PresentationStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- replay guard ------------------------------------------------------------------

    def first_use(self, key: bytes, until: int) -> bool:
        now = int(self.clock())
        with self._lock:
            inserted = self._db.execute("INSERT OR IGNORE INTO ecard_seen (key, until, at) VALUES (?, ?, ?)",
                                        (key, until, now)).rowcount == 1
            self._inserts += 1
            if self._inserts % PRUNE_EVERY == 0:
                self._db.execute("DELETE FROM ecard_seen WHERE until < ?", (now,))
        return inserted

    def seen_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM ecard_seen").fetchone()[0]

    # -- challenges --------------------------------------------------------------------

    def issue_challenge(self, lifetime: int) -> bytes:
        """A new challenge, open for `lifetime` seconds of this terminal's clock."""
        now = int(self.clock())
        challenge = new_challenge()
        with self._lock:
            self._db.execute("DELETE FROM ecard_challenges WHERE expires_at < ?", (now - 86_400,))
            self._db.execute("INSERT INTO ecard_challenges (challenge, issued_at, expires_at) VALUES (?, ?, ?)",
                             (challenge, now, now + lifetime))
        return challenge

    def redeem(self, challenge: bytes) -> Reason | None:
        now = int(self.clock())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT issued_at, expires_at, used_at FROM ecard_challenges "
                                       "WHERE challenge = ?", (challenge,)).fetchone()
                if row is None or row[2] is not None:
                    problem = Reason.ECARD_CHALLENGE_UNKNOWN
                elif not row[0] <= now <= row[1]:  # a clock stepped back before issue: not ours to trust
                    problem = Reason.ECARD_CHALLENGE_EXPIRED
                else:
                    problem = None
                if row is not None and row[2] is None:
                    self._db.execute("UPDATE ecard_challenges SET used_at = ? WHERE challenge = ?", (now, challenge))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return problem
