"""The append-only, hash-chained audit log.

Every change the service makes appends one row in the same transaction as the change:

    hash(n) = SHA-256( hash(n-1) || canonical JSON of row n's fields )

with hash(0) = 64 zeros. The row's sequence number is part of what is hashed, so a row that
is edited, moved to another place, or deleted breaks the chain from there on; the head
(``audit_head``: last sequence number and hash, updated with every append) catches rows cut
from the end. The database refuses UPDATE and DELETE on the table (triggers, migration
0001); `verify` is for the day someone with more rights than the service changes it anyway.

Rows name the actor, the action and object ids — never names, photos or document numbers
(no more personal data in the log than the investigation needs).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.db.models import AuditEvent, AuditHead

GENESIS = "0" * 64
HEAD_ID = 1


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(prev_hash: str, *, seq: int, at: str, actor: str, action: str, object_type: str,
             object_id: str, details: str) -> str:
    body = canonical({"seq": seq, "at": at, "actor": actor, "action": action, "object_type": object_type,
                      "object_id": object_id, "details": details})
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body.encode("utf-8")).hexdigest()


def append(session: Session, actor: str, action: str, object_type: str, object_id: object,
           details: dict | None = None) -> AuditEvent:
    """Append one event. Locks the head row until the transaction ends: call it last in a
    transaction (after any counter), so that every transaction takes the locks in one order."""
    head = session.execute(select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()).scalar_one()
    fields = {"seq": head.seq + 1, "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
              "actor": actor, "action": action, "object_type": object_type, "object_id": str(object_id),
              "details": canonical(details or {})}
    event = AuditEvent(**fields, prev_hash=head.hash, hash=row_hash(head.hash, **fields))
    session.add(event)
    head.seq, head.hash = event.seq, event.hash
    session.flush()
    return event


@dataclass
class AuditReport:
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_rows(rows: Iterable[AuditEvent], head: AuditHead | None) -> AuditReport:
    """Walk the chain in sequence order; report every break (edited, reordered, deleted rows)."""
    report = AuditReport()
    prev_hash, expected_seq = GENESIS, 1
    for row in rows:
        report.rows += 1
        if row.seq != expected_seq:
            report.problems.append(f"row {row.seq}: expected sequence number {expected_seq} "
                                   f"(rows {expected_seq}..{row.seq - 1} are missing or moved)")
        if row.prev_hash != prev_hash:
            report.problems.append(f"row {row.seq}: does not follow the row before it (deleted, inserted or reordered)")
        recomputed = row_hash(row.prev_hash, seq=row.seq, at=row.at, actor=row.actor, action=row.action,
                              object_type=row.object_type, object_id=row.object_id, details=row.details)
        if recomputed != row.hash:
            report.problems.append(f"row {row.seq}: its content does not match its hash (edited)")
        prev_hash, expected_seq = row.hash, row.seq + 1
    if head is None:
        report.problems.append("the audit head is missing")
    elif (head.seq, head.hash) != (expected_seq - 1, prev_hash):
        report.problems.append(f"the head says the log ends at row {head.seq}, the table ends at row "
                               f"{expected_seq - 1} (rows cut from the end, or the head was changed)")
    return report


def verify(session: Session) -> AuditReport:
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)).scalars()
    return verify_rows(rows, session.get(AuditHead, HEAD_ID))
