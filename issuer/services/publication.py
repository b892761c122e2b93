"""Publishing the signed trust list (docs/spec.md §6): every issuer signing certificate of
this centre, current and rotated-out, and the revocation data — the serials of its cards
that must no longer verify (revoked, superseded, or suspended for now).

A new version is published in the same transaction as every change to that set, so a
revocation is never committed without a list that carries it. Versions increase strictly
and are at least the publication time in epoch seconds, so they also stay above any list
that ``ssc-issuer trust-list`` made by hand (whose default version is the time).

The revocation data is format 2 (§11): a coded set over the centre's serial universe
``[base, end)``, where ``base`` is the lowest serial of a card not yet expired (cards that
have expired leave the universe: the validity check refuses them anyway) and ``end`` the
next serial to be issued. Every version is kept, and with it the signed delta (§11.4) from
the previous version when the issuer certificates did not change, so that a terminal
catches up with a few kB (:func:`delta_chain`, served at ``/trust-list/deltas``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto import build_trust_list, load_trust_list
from crypto.errors import SscError
from crypto.revocation import RevocationSet
from crypto.revocation_delta import delta_between, load_revocation_delta
from crypto.schema import CHINA_TZ
from crypto.trustlist import TrustList
from issuer import audit
from issuer.db.models import Card, CardStatus, Counter, PublishedDelta, PublishedTrustList
from issuer.services import counters
from issuer.services.runtime import Runtime

log = logging.getLogger(__name__)

LISTED = (CardStatus.REVOKED, CardStatus.SUPERSEDED, CardStatus.SUSPENDED)
# A card past its expiry fails the validity check anyway: list it a little longer, then drop it
# (it leaves the universe: spec §11.1 asks that its credentials' exp + leeway has passed).
EXPIRED_GRACE = dt.timedelta(days=2)
# A terminal further behind than this many deltas fetches the full list.
MAX_CHAIN = 400

# The last list published, as loaded (sha256 -> TrustList): the next publication's delta
# starts from it without verifying and decoding it again. Keyed by content, so never stale.
_last_loaded: dict[str, TrustList] = {}


def _day(now: int) -> dt.date:
    return dt.datetime.fromtimestamp(now, CHINA_TZ).date()


def revoked_serials(session: Session, issuer_code: str, today: dt.date | None = None) -> list[int]:
    cutoff = (today or dt.datetime.now(CHINA_TZ).date()) - EXPIRED_GRACE
    rows = session.execute(select(Card.serial).where(
        Card.issuer_code == issuer_code, Card.serial.is_not(None), Card.status.in_(LISTED),
        Card.expiry_date >= cutoff).order_by(Card.serial)).scalars()
    from issuer.services.ecard import listed_serials  # e-cards: revoked, or following their card (spec §12.6)
    since = int(dt.datetime.combine(cutoff, dt.time(), CHINA_TZ).timestamp())
    ecards = listed_serials(session, issuer_code, since)
    return sorted({*rows, *ecards})


def universe(session: Session, issuer_code: str, today: dt.date, listed: list[int],
             previous: RevocationSet | None = None) -> tuple[int, int]:
    """The centre's serial universe ``(base, end)``: from the lowest serial of a card not yet
    expired (grace included) or listed (`listed`: sorted) to the next serial to be issued.
    It only moves forward from the `previous` universe published (a clock set back cannot bring
    expired cards back) — unless a serial to list lies below it: then the full list covers it
    and there is no delta."""
    cutoff = today - EXPIRED_GRACE
    lowest = session.execute(select(func.min(Card.serial)).where(
        Card.issuer_code == issuer_code, Card.serial.is_not(None), Card.expiry_date >= cutoff)).scalar()
    highest = session.execute(select(func.max(Card.serial)).where(
        Card.issuer_code == issuer_code, Card.serial.is_not(None))).scalar()
    counter = session.execute(select(Counter.value).where(Counter.name == f"serial:{issuer_code}")).scalar()
    end = max(counter or 0, highest or 0, listed[-1] if listed else 0) + 1
    base = min(end if lowest is None else int(lowest), listed[0] if listed else end)
    if previous is not None and previous.size:
        end = max(end, previous.end)
        if not listed or listed[0] >= previous.base:
            base = max(base, previous.base)
    return base, end


def publish(rt: Runtime, session: Session, actor: str) -> PublishedTrustList:
    """Sign and store a new trust list version, and the delta from the previous one. Takes the
    trust-list counter lock: call it before audit.append in a transaction (lock order:
    serial, trust list, audit head)."""
    now = rt.now()
    version = counters.next_value(session, "trust-list", floor=now)
    keys, code = rt.keys, rt.settings.issuer_code
    previous = latest(session)
    held = _loaded(previous, keys.root) if previous is not None else None
    held_state = held.revoked.get(code) if held is not None else None
    today = _day(now)
    listed = revoked_serials(session, code, today)
    base, end = universe(session, code, today, listed, held_state if isinstance(held_state, RevocationSet) else None)
    revoked = RevocationSet.from_serials(listed, base=base, size=end - base)
    next_update = now + rt.settings.trust_list_hours * 3600
    data = build_trust_list(version=version, issued_at=now, next_update=next_update,
                            issuer_certificates=keys.issuer_certificates, revoked={code: revoked},
                            signer=keys.trust_list_signer)
    record = PublishedTrustList(version=version, issued_at=now, next_update=next_update, data=data,
                                sha256=hashlib.sha256(data).hexdigest(), revoked_count=len(revoked))
    session.add(record)
    session.flush()
    current = load_trust_list(data, keys.root)  # what terminals will load: checked before it leaves
    _last_loaded.clear()
    _last_loaded[record.sha256] = current
    delta = _delta(session, held, current, keys) if held is not None else None
    audit.append(session, actor, "trust_list.publish", "trust_list", version,
                 {"revoked": len(revoked), "sha256": record.sha256, "universe": [base, end],
                  "delta_from": delta.base_version if delta else None})
    return record


def _loaded(record: PublishedTrustList, root) -> TrustList | None:
    cached = _last_loaded.get(record.sha256)
    if cached is not None:
        return cached
    try:
        return load_trust_list(record.data, root)
    except SscError as exc:  # e.g. signed under another root: no delta, the full list only
        log.warning("trust list version %s does not load (%s): no delta from it", record.version, exc.message)
        return None


def _delta(session: Session, held: TrustList, current: TrustList, keys) -> PublishedDelta | None:
    """The delta held → current, stored; None when terminals need the full list (the issuer
    certificates changed, or the previous data is format 1)."""
    try:
        data = delta_between(held, current, keys.trust_list_signer)
        parsed = load_revocation_delta(data, keys.root)
    except (SscError, ValueError) as exc:
        log.info("no delta from trust list version %s to %s: %s", held.version, current.version,
                 getattr(exc, "message", exc))
        return None
    delta = PublishedDelta(base_version=held.version, new_version=current.version, issued_at=current.issued_at,
                           data=data, sha256=hashlib.sha256(data).hexdigest(), added=parsed.added,
                           removed=parsed.removed)
    session.add(delta)
    session.flush()
    return delta


def latest(session: Session) -> PublishedTrustList | None:
    return session.execute(select(PublishedTrustList).order_by(PublishedTrustList.version.desc()).limit(1)).scalar()


def by_version(session: Session, version: int) -> PublishedTrustList | None:
    return session.get(PublishedTrustList, version)


def delta_from(session: Session, base_version: int) -> PublishedDelta | None:
    """The delta from `base_version` to the version published after it, if there is one."""
    return session.get(PublishedDelta, base_version)


def delta_chain(session: Session, since: int) -> tuple[list[PublishedDelta], int] | None:
    """The deltas that bring version `since` to the latest, in order, and the latest version:
    an empty chain when `since` is the latest. None when there is no such chain — an unknown
    or future version, a version before the issuer certificates changed, or more than
    MAX_CHAIN deltas behind — and the terminal must fetch the full list."""
    last = session.execute(select(func.max(PublishedTrustList.version))).scalar()
    if last is None or since > last:
        return None
    if since == last:
        return [], since
    rows = session.execute(select(PublishedDelta).where(PublishedDelta.base_version >= since)
                           .order_by(PublishedDelta.base_version).limit(MAX_CHAIN + 1)).scalars()
    chain, at = [], since
    for row in rows:
        if row.base_version != at:
            return None  # a version published without a delta: the chain is broken here
        chain.append(row)
        at = row.new_version
        if at == last:
            break
    if at != last or len(chain) > MAX_CHAIN:
        return None
    return chain, at


def all_deltas(session: Session) -> list[PublishedDelta]:
    return list(session.execute(select(PublishedDelta).order_by(PublishedDelta.base_version)).scalars())
