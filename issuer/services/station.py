"""The issuance stations' job queue (issue 5; docs/operations.md "Issuance station").

Every physical card gets a job when it is issued (issuance.issue, batch issue). A station
claims a job, has the security object signed for the chip in its reader, and reports the
chip locked and read back; or releases the job when it stopped.

Several stations share the queue without taking the same job:

- PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`` over free jobs (queued, or
  claimed under an expired lease), then the lease is written to that row. A station skips
  rows another station is claiming; because the lease is on the locked row itself,
  PostgreSQL re-checks the condition on a row changed by a claim that committed meanwhile.
- SQLite: every transaction begins with BEGIN IMMEDIATE (issuer.db.session), so one claim's
  read and write are atomic with respect to every other writer: the single-writer fallback.

A lease is the station's name, a random token and an expiry (``station_lease_seconds``). A
station that dies loses its job when the lease expires; the token fences it afterwards: a
station whose job was claimed by another cannot sign, complete or release it any more.

The chip binds the job: the security object is signed for one chip key (one chip id) per
job, and a chip key for one job only. From then on only that chip finishes the job (claimed
by its chip id, by whichever station holds the card); a new blank needs the chip reported
spoiled first (``spoil``), which the audit log records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import SscError
from firmware_tools.card import profile as card_profile
from issuer import audit
from issuer.db.models import Card, CardStatus, Person
from issuer.db.production_models import JobState, StationJob
from issuer.services import issuance, lifecycle
from issuer.services.errors import Conflict, Invalid
from issuer.services.registry import get_or_404
from issuer.services.runtime import Runtime


def chip_id_of(dg5: bytes) -> str:
    """The chip id (firmware_tools.card_io.chip_id) of EF.DG5's P-256 key; Invalid otherwise."""
    try:
        point = card_profile.chip_key_point(card_profile.DG5.unwrap(dg5))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (ValueError, SscError) as exc:
        message = getattr(exc, "message", str(exc))
        raise Invalid(f"EF.DG5 is not a P-256 chip key: {message}",
                      [{"field": "dg5", "message": f"not an EF.DG5 P-256 COSE_Key file: {message}"}]) from None
    return hashlib.sha256(point).digest()[:8].hex().upper()


def _lease(rt: Runtime, job: StationJob, actor: str) -> None:
    job.state, job.station = JobState.CLAIMED, actor
    job.lease_token = secrets.token_hex(16)
    job.lease_expires = rt.now() + rt.settings.station_lease_seconds
    job.attempts += 1


def claim(rt: Runtime, session: Session, actor: str, *, chip_id: str | None = None,
          locked: bool = False) -> tuple[StationJob | None, bool]:
    """The job for the card in the station's reader: (job, resumed).

    `chip_id`: the card already has a chip key (it is personalising, or `locked`: issued).
    Its job, if the security object was signed for it, is resumed whoever held it (the card
    is in this station's hands). Otherwise a free job for a fresh chip — never for a locked
    card. (None, False) when there is nothing to do."""
    if chip_id is not None:
        job = session.execute(select(StationJob).where(StationJob.chip_id == chip_id)
                              .with_for_update()).scalar_one_or_none()
        if job is not None:
            if job.state is not JobState.DONE:
                previous = job.station
                _lease(rt, job, actor)
                session.flush()
                audit.append(session, actor, "station.resume", "station_job", job.id,
                             {"card": job.card_id, "chip_id": chip_id, "taken_from": previous})
            return job, True
        if locked:
            return None, False
    now = rt.now()
    free = (StationJob.state == JobState.QUEUED) | ((StationJob.state == JobState.CLAIMED)
                                                    & (StationJob.lease_expires < now))
    job = session.execute(
        select(StationJob).join(Card, Card.id == StationJob.card_id)
        .where(free, StationJob.chip_id.is_(None), Card.status == CardStatus.ISSUED)
        .order_by(StationJob.id).limit(1).with_for_update(skip_locked=True, of=StationJob)).scalar_one_or_none()
    if job is None:
        return None, False
    expired_from = job.station if job.state is JobState.CLAIMED else None
    _lease(rt, job, actor)
    session.flush()
    audit.append(session, actor, "station.claim", "station_job", job.id,
                 {"card": job.card_id, "lease_expired_for": expired_from})
    return job, False


def _held(rt: Runtime, session: Session, actor: str, job_id: int, lease: str) -> StationJob:
    """The job, locked, if `actor` still holds its lease `lease` (Conflict otherwise).

    A lease past its expiry still counts while nobody else has claimed the job: the
    station's work is as good as before; once another station claimed it, the token differs."""
    job = get_or_404(session, StationJob, job_id, lock=True)
    if job.state is JobState.DONE:
        raise Conflict(f"job {job.id} is done already")
    if job.state is not JobState.CLAIMED or job.station != actor or not secrets.compare_digest(
            job.lease_token or "", lease):
        raise Conflict(f"job {job.id}: this station's lease is lost (the job was released, or claimed by "
                       f"{job.station or 'nobody'} after the lease expired)")
    return job


def sign_security_object(rt: Runtime, session: Session, actor: str, job_id: int, lease: str, dg5: bytes) -> Card:
    """Bind the chip to the job and sign EF.SO for it (issuance.sign_security_object)."""
    job = _held(rt, session, actor, job_id, lease)
    chip = chip_id_of(dg5)
    status = session.execute(select(Card.status).where(Card.id == job.card_id)).scalar_one()
    if status is not CardStatus.ISSUED:
        raise Conflict(f"card {job.card_id} is {status.value}: it is not personalised any more")
    if job.chip_id is None:
        other = session.execute(select(StationJob.id).where(StationJob.chip_id == chip)).scalar_one_or_none()
        if other is not None:
            raise Conflict(f"chip {chip} belongs to job {other} already: one chip, one card")
        job.chip_id = chip
        session.flush()
    elif job.chip_id != chip:
        raise Conflict(f"job {job.id}'s security object is signed for chip {job.chip_id}, not {chip}: finish it "
                       "with that card, or report that chip spoiled")
    return issuance.sign_security_object(rt, session, actor, job.card_id, dg5)


def complete(rt: Runtime, session: Session, actor: str, job_id: int, lease: str, *, chip_id: str,
             atr: str) -> StationJob:
    """The chip is written, read back and locked: the card is personalised."""
    job = get_or_404(session, StationJob, job_id, lock=True)
    if job.state is JobState.DONE and job.chip_id == chip_id:
        return job  # a retry after a lost answer
    job = _held(rt, session, actor, job_id, lease)
    if job.chip_id != chip_id:
        raise Conflict(f"job {job.id}'s security object was signed for chip {job.chip_id}, not {chip_id}")
    lifecycle.advance(session, actor, job.card_id, "personalised")
    job.state, job.atr, job.done_at = JobState.DONE, atr, dt.datetime.now(dt.timezone.utc)
    job.lease_token, job.lease_expires, job.last_error = None, None, None
    session.flush()
    audit.append(session, actor, "station.done", "station_job", job.id, {"card": job.card_id, "chip_id": chip_id})
    return job


def release(rt: Runtime, session: Session, actor: str, job_id: int, lease: str, error: str) -> StationJob:
    """The station stopped (card removed, refused, ...): the job is free again."""
    job = _held(rt, session, actor, job_id, lease)
    job.state, job.lease_token, job.lease_expires, job.last_error = JobState.QUEUED, None, None, error[:300]
    session.flush()
    audit.append(session, actor, "station.release", "station_job", job.id, {"card": job.card_id})
    return job


def spoil(rt: Runtime, session: Session, actor: str, job_id: int, lease: str | None, *, chip_id: str | None,
          reason: str, terminated: bool) -> StationJob:
    """The chip bound to the job is spoiled (terminated in the reader, or lost or broken):
    unbind it, so that the job starts again on a new blank. With the card at hand the
    station holds the job's lease (claimed by chip id); without it, the job must be free
    (no live lease: nobody is working on that chip)."""
    if lease is not None:
        job = _held(rt, session, actor, job_id, lease)
    else:
        job = get_or_404(session, StationJob, job_id, lock=True)
        if job.state is JobState.DONE or (job.state is JobState.CLAIMED and (job.lease_expires or 0) >= rt.now()):
            raise Conflict(f"job {job.id} is {job.state.value}" + (f" by {job.station} until its lease expires"
                                                                   if job.state is JobState.CLAIMED else ""))
    if job.chip_id is None:
        raise Conflict(f"job {job.id} has no chip bound: nothing to spoil")
    if chip_id is not None and chip_id != job.chip_id:
        raise Conflict(f"job {job.id} is bound to chip {job.chip_id}, not {chip_id}")
    card = get_or_404(session, Card, job.card_id, lock=True)
    if card.status is not CardStatus.ISSUED:
        raise Conflict(f"card {card.id} is {card.status.value}: only a card not yet personalised has a chip to spoil")
    spoiled = job.chip_id
    card.security_object, card.chip_key, job.chip_id = None, None, None
    job.state, job.lease_token, job.lease_expires = JobState.QUEUED, None, None
    session.flush()
    audit.append(session, actor, "card.chip_spoiled", "card", card.id,
                 {"job": job.id, "chip_id": spoiled, "terminated": terminated, "reason": reason[:100]})
    return job


def package(session: Session, job: StationJob) -> dict:
    """What the station needs for the job: the card, the files to write, the credential
    record and the photo (for the artwork)."""
    card = session.get(Card, job.card_id)
    person = session.get(Person, card.person_id)
    record = issuance.credential_record(person, person.permit, person.insurance, card)
    digest = record["holder"]["photo_digest"]
    record["holder"]["photo_digest"] = digest.hex() if digest is not None else None
    return {"card": card, "files": issuance.personalisation_files(card), "record": record,
            "photo": person.photo_jpeg}


def list_jobs(session: Session, state: JobState | None = None, *,
              limit: int = 100) -> list[tuple[StationJob, CardStatus]]:
    """Jobs with their card's status (a card revoked while queued is not handed out)."""
    stmt = select(StationJob, Card.status).join(Card, Card.id == StationJob.card_id).order_by(StationJob.id).limit(limit)
    if state is not None:
        stmt = stmt.where(StationJob.state == state)
    return [(job, status) for job, status in session.execute(stmt).all()]
