"""Terminals and the verification events they forward (docs/operations.md, "Event log").

A terminal registers like a station (an API key, only its SHA-256 kept) and POSTs batches
of events; each event has a unique id, so a batch sent again is stored once. The issuer
keeps what the terminal's site policy let it log, nothing more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import audit, auth
from issuer.db.models import Terminal, TerminalEvent
from issuer.services.errors import Conflict, Invalid

MAX_BATCH = 500


@dataclass(frozen=True)
class StoredBatch:
    received: int
    stored: int
    duplicates: int


def create_terminal(session: Session, actor: str, name: str) -> tuple[Terminal, str]:
    """A terminal and its API key; the key is shown once and only its SHA-256 is kept."""
    if session.execute(select(Terminal).where(Terminal.name == name)).scalar_one_or_none() is not None:
        raise Conflict(f"terminal {name} exists already")
    key_id, key, digest = auth.new_api_key()
    terminal = Terminal(name=name, key_id=key_id, key_sha256=digest, active=True)
    session.add(terminal)
    session.flush()
    audit.append(session, actor, "terminal.create", "terminal", terminal.id, {"name": name, "key_id": key_id})
    return terminal, key


def store_events(session: Session, terminal_id: int, events: list[dict]) -> StoredBatch:
    """Store the events not seen before; the same event id twice is stored once."""
    ids = [e["event_id"] for e in events]
    if len(set(ids)) != len(ids):
        raise Invalid("a batch names the same event_id twice")
    seen = set(session.execute(select(TerminalEvent.event_id).where(TerminalEvent.event_id.in_(ids))).scalars())
    new = [e for e in events if e["event_id"] not in seen]
    for e in new:
        session.add(TerminalEvent(event_id=e["event_id"], terminal_id=terminal_id, site=e["site"], at=e["at"],
                                  input=e["input"], outcome=e["outcome"],
                                  reasons=json.dumps(e["reasons"]), fields=json.dumps(e["fields"], ensure_ascii=False)))
    session.flush()
    return StoredBatch(len(events), len(new), len(events) - len(new))


def list_events(session: Session, *, limit: int = 100) -> list[TerminalEvent]:
    return list(session.execute(select(TerminalEvent).order_by(TerminalEvent.id.desc()).limit(limit)).scalars())
