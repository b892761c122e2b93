"""Publishing the signed trust list (docs/spec.md §6): every issuer signing certificate of
this centre, current and rotated-out, and the revocation data — the serials of its cards
that must no longer verify (revoked, superseded, or suspended for now).

A new version is published in the same transaction as every change to that set, so a
revocation is never committed without a list that carries it. Versions increase strictly
and are at least the publication time in epoch seconds, so they also stay above any list
that ``ssc-issuer trust-list`` made by hand (whose default version is the time).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import build_trust_list
from issuer import audit
from issuer.db.models import Card, CardStatus, PublishedTrustList
from issuer.services import counters
from issuer.services.runtime import Runtime

LISTED = (CardStatus.REVOKED, CardStatus.SUPERSEDED, CardStatus.SUSPENDED)
# A card past its expiry fails the validity check anyway: list it a little longer, then drop it.
EXPIRED_GRACE = dt.timedelta(days=2)


def revoked_serials(session: Session, issuer_code: str) -> list[int]:
    cutoff = dt.date.today() - EXPIRED_GRACE
    rows = session.execute(select(Card.serial).where(
        Card.issuer_code == issuer_code, Card.serial.is_not(None), Card.status.in_(LISTED),
        Card.expiry_date >= cutoff).order_by(Card.serial)).scalars()
    return list(rows)


def publish(rt: Runtime, session: Session, actor: str) -> PublishedTrustList:
    """Sign and store a new trust list version. Takes the trust-list counter lock: call it
    before audit.append in a transaction (lock order: serial, trust list, audit head)."""
    now = rt.now()
    version = counters.next_value(session, "trust-list", floor=now)
    keys, code = rt.keys, rt.settings.issuer_code
    serials = revoked_serials(session, code)
    data = build_trust_list(version=version, issued_at=now, next_update=now + rt.settings.trust_list_hours * 3600,
                            issuer_certificates=keys.issuer_certificates,
                            revoked={code: serials} if serials else {}, signer=keys.trust_list_signer)
    record = PublishedTrustList(version=version, issued_at=now, next_update=now + rt.settings.trust_list_hours * 3600,
                                data=data, sha256=hashlib.sha256(data).hexdigest(), revoked_count=len(serials))
    session.add(record)
    session.flush()
    audit.append(session, actor, "trust_list.publish", "trust_list", version,
                 {"revoked": len(serials), "sha256": record.sha256})
    return record


def latest(session: Session) -> PublishedTrustList | None:
    return session.execute(select(PublishedTrustList).order_by(PublishedTrustList.version.desc()).limit(1)).scalar()


def by_version(session: Session, version: int) -> PublishedTrustList | None:
    return session.get(PublishedTrustList, version)
