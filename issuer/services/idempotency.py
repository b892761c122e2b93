"""Idempotency keys: a mutating request that carries ``Idempotency-Key`` is done once.

The key is claimed (a row, unique per caller and key) at the start of the request's
transaction and the answer is stored in it before the commit, so the effect and the stored
answer commit together or not at all. A retry after a lost answer gets the stored answer
again; a retry racing the first attempt waits for it on the unique index (PostgreSQL) or
the write lock (SQLite), then gets its answer. The same key with a different request is
refused: it is a client bug, not a retry.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.db.models import IdempotencyRecord, utcnow
from issuer.services.errors import Invalid, ServiceError


class KeyInUse(ServiceError):
    """Another request with this key is committing right now: retry."""

    status = 409


def claim(session: Session, principal: str, key: str, fingerprint: str, *, hours: int) -> IdempotencyRecord:
    """The stored answer (status_code set) for a retry, or a fresh claim to complete."""
    if not 1 <= len(key) <= 200:
        raise Invalid("Idempotency-Key must have 1 to 200 characters",
                      [{"field": "Idempotency-Key", "message": "1 to 200 characters"}])
    for _ in range(2):
        found = session.execute(select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal, IdempotencyRecord.key == key)).scalar_one_or_none()
        if found is not None:
            created = found.created_at if found.created_at.tzinfo else found.created_at.replace(tzinfo=dt.timezone.utc)
            if created >= utcnow() - dt.timedelta(hours=hours):
                if found.fingerprint != fingerprint:
                    raise Invalid("this Idempotency-Key was used for a different request",
                                  [{"field": "Idempotency-Key", "message": "reused for a different request"}])
                return found
            session.delete(found)  # expired: the key may be used afresh
            session.flush()
        record = IdempotencyRecord(principal=principal, key=key, fingerprint=fingerprint)
        try:
            with session.begin_nested():
                session.add(record)
            return record
        except IntegrityError:
            continue  # the racing request committed first: read its answer
    raise KeyInUse("a request with this Idempotency-Key is in progress: retry")


def complete(session: Session, record: IdempotencyRecord, status_code: int, body: str) -> None:
    record.status_code, record.body = status_code, body
    session.flush()
