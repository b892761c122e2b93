"""`batch issue`: the approved applications of a batch become cards, chunk by chunk.

Each chunk is one transaction, as `issuance.issue` is for one card: take the next `chunk`
approved applications of the batch (lowest ids first; FOR UPDATE SKIP LOCKED on
PostgreSQL, so two `batch issue` runs share the work), reserve as many serials in one step
of the serial counter, sign every card's QR credential and chip profile and build its data
groups, insert the cards, their files, the work permits and the stations' jobs with bulk
inserts, mark the applications issued, append one audit row, commit. A process killed
anywhere loses only its uncommitted chunk — no card, no serial, the applications still
approved — so running the command again goes on where it stopped: no duplicates (an
application is issued once, cards.application_id is unique) and no gaps (serials are
dense).

Signing runs in worker processes when `workers` > 0 (each loads the signing key in its
initializer); the main process reads the next rows and writes the signed cards as they come
back, so the database work overlaps the signing. Memory is one chunk.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from crypto import Profile, SscError, parse_credential, sign_credential
from crypto.chip import group_payloads
from issuer import audit, keyring
from issuer.batch.pool import Workers
from issuer.db.models import (Application, ApplicationStatus, Card, CardFile, CardStatus, Employer,
                              InsuranceEnrolment, Person, WorkPermit)
from issuer.db.production_models import BatchItem, StationJob
from issuer.services import counters
from issuer.services.validity import card_expiry, china_date
from issuer.services.issuance import FILE_FOR_GROUP, credential_record
from issuer.services.runtime import Runtime

WRITE_EVERY = 100  # signed cards written per bulk insert, while the workers sign the rest


class BatchIssueError(Exception):
    """A card of the chunk could not be signed; nothing of the chunk was kept."""


@dataclass
class IssueResult:
    issued: int = 0
    skipped: int = 0                      # applications that cannot become a card (left approved)
    reasons: list[str] = field(default_factory=list)  # the first few reasons
    chunks: int = 0
    seconds: float = 0.0


_signer: dict = {}


def _init_signer(key_dir: str, issuer_code: str, passphrase: bytes, pin: str | None, module: str) -> None:
    _signer["keys"] = keys = keyring.load(key_dir, issuer_code, passphrase, pin=pin, module=module)
    _signer["signer"] = keys.issuer


def sign_card(work: tuple[dict, bytes | None, int]) -> tuple[bytes, bytes | None, list[tuple[int, bytes]]] | str:
    """The QR credential, the chip profile and the chip's files of one card; or why not."""
    record, photo, iat = work
    signer = _signer["signer"]
    try:
        credential = parse_credential(record)
        qr = sign_credential(credential, signer, iat=iat)
        if record["card"]["kind"] != 1:
            return qr, None, []
        chip = sign_credential(credential, signer, iat=iat, profile=Profile.CHIP, cti=os.urandom(16))
        files = [(int(g), FILE_FOR_GROUP[g].wrap(p)) for g, p in group_payloads(credential, photo).items()]
    except SscError as exc:
        return f"the card data is not valid: {exc.message}"
    return qr, chip, files


def issue_batch(rt: Runtime, actor: str, batch_id: int, *, chunk: int = 500, workers: int = 0,
                progress: Callable[[int], None] | None = None) -> IssueResult:
    """Issue every approved application of batch `batch_id` (see the module docstring)."""
    s = rt.settings
    result, started, after = IssueResult(), time.perf_counter(), 0
    if workers:
        pool = Workers(workers, _init_signer, (str(s.keys), s.issuer_code, s.passphrase(),
                                               s.pkcs11_pin.get_secret_value() if s.pkcs11_pin else None,
                                               s.pkcs11_module))
    else:
        _signer["signer"] = rt.keys.issuer
        pool = Workers(0)
    with pool:
        while True:
            with rt.db.session() as session:
                done, skipped, after = _issue_chunk(rt, session, actor, batch_id, after, chunk, pool, result)
                session.commit()
            if done == 0 and skipped == 0:
                break
            result.chunks += 1
            result.issued += done
            result.skipped += skipped
            if progress is not None:
                progress(done + skipped)
    result.seconds = time.perf_counter() - started
    return result


def pending(session: Session, batch_id: int) -> tuple[int, int]:
    """(applications of the batch issued already, approved and waiting)."""
    rows = dict(session.execute(select(Application.status, func.count())
                                .join(BatchItem, BatchItem.application_id == Application.id)
                                .where(BatchItem.batch_id == batch_id).group_by(Application.status)).all())
    return rows.get(ApplicationStatus.ISSUED, 0), rows.get(ApplicationStatus.APPROVED, 0)


def _issue_chunk(rt: Runtime, session: Session, actor: str, batch_id: int, after: int, size: int,
                 pool: Workers, result: IssueResult) -> tuple[int, int, int]:
    """One chunk in `session`'s transaction: (cards issued, applications skipped, last id)."""
    apps = session.execute(
        select(Application.id, Application.person_id, Application.card_kind, Application.request)
        .join(BatchItem, BatchItem.application_id == Application.id)
        .where(BatchItem.batch_id == batch_id, Application.status == ApplicationStatus.APPROVED,
               Application.id > after)
        .order_by(Application.id).limit(size).with_for_update(skip_locked=True, of=Application)).all()
    if not apps:
        return 0, 0, after
    chunk = _Chunk(rt, session, apps)
    plans = chunk.plans(result)
    if not plans:
        return 0, len(apps), apps[-1].id
    first_serial = counters.reserve(session, f"serial:{chunk.code}", len(plans))  # dense: given back on rollback
    cards, work = chunk.cards(plans, first_serial)
    written, pending = 0, []
    for (card, permit), signed in zip(cards, pool.map(sign_card, work, chunksize=25)):
        if isinstance(signed, str):  # not expected after the import's checks: stop, the chunk rolls back
            raise BatchIssueError(f"application {card.application_id}: {signed}")
        pending.append((card, permit, signed))
        if len(pending) >= WRITE_EVERY:  # written while the workers sign the rest
            written += _write(session, pending)
            pending = []
    written += _write(session, pending)
    rt.after_signing()  # fault injection for tests, as issuance.issue has
    audit.append(session, actor, "batch.issue", "batch", batch_id,
                 {"cards": written, "serials": [first_serial, first_serial + written - 1],
                  "applications": [plans[0][0].id, plans[-1][0].id]})
    return written, len(apps) - len(plans), apps[-1].id


class _Chunk:
    """What a chunk's cards are made of, read in a few queries. Plain rows, not ORM objects
    (a third of the time per card otherwise); credential_record reads them by attribute."""

    def __init__(self, rt: Runtime, session: Session, apps: list):
        self.apps, self.code, self.years = apps, rt.settings.issuer_code, rt.settings.card_validity_years
        self.iat, self.kid = rt.now(), rt.keys.issuer.kid
        self.issue_date = china_date(self.iat)  # the same clock as the signature
        self.people = {p.id: p for p in session.execute(select(Person.__table__).where(
            Person.id.in_([a.person_id for a in apps])))}
        self.insurance: dict[int, list] = {}
        for e in session.execute(select(InsuranceEnrolment.__table__).where(
                InsuranceEnrolment.person_id.in_(self.people))):
            self.insurance.setdefault(e.person_id, []).append(e)
        self.requests = {a.id: json.loads(a.request) for a in apps}
        self.employers = {e.uscc: e for e in session.execute(select(Employer.__table__).where(
            Employer.uscc.in_({r["employer_uscc"] for r in self.requests.values()})))}
        self.sequences = dict(session.execute(select(Card.person_id, func.max(Card.sequence))
                                              .where(Card.person_id.in_(self.people)).group_by(Card.person_id)).all())

    def plans(self, result: IssueResult) -> list[tuple]:
        """(application, permit, expiry) of each application that can become a card; the
        others are left approved and their reasons noted in `result`."""
        plans = []
        for a in self.apps:
            r = self.requests[a.id]
            valid_until = dt.date.fromisoformat(r["valid_until"])
            employer = self.employers.get(r["employer_uscc"])
            expiry = card_expiry(self.issue_date, self.years, valid_until)
            why = ("the employer is not registered" if employer is None else
                   "the work permit ends before a card could be valid" if expiry <= self.issue_date else None)
            if why:
                if len(result.reasons) < 20:
                    result.reasons.append(f"application {a.id}: {why}")
                continue
            permit = SimpleNamespace(category=int(r["category"]), employer=employer, position=r["position"],
                                     work_location=r["work_location"], valid_until=valid_until, status=1,
                                     valid_from=dt.date.fromisoformat(r["valid_from"]))
            plans.append((a, permit, expiry))
        return plans

    def cards(self, plans: list[tuple], first_serial: int) -> tuple[list, list]:
        """The cards (serials from `first_serial`) and the signing work for each."""
        cards, work = [], []
        for n, (a, permit, expiry) in enumerate(plans):
            person, serial, code = self.people[a.person_id], first_serial + n, self.code
            card = SimpleNamespace(person_id=person.id, application_id=a.id, issuer_code=code, serial=serial,
                                   card_number=counters.card_number(code, a.card_kind, serial), kind=a.card_kind,
                                   sequence=(self.sequences.get(person.id) or 0) + 1, status=CardStatus.ISSUED,
                                   issue_date=self.issue_date, expiry_date=expiry, kid=self.kid, iat=self.iat)
            cards.append((card, permit))
            work.append((credential_record(person, permit, self.insurance.get(person.id, []), card),
                         person.photo_jpeg, self.iat))
        return cards, work


def _write(session: Session, batch: list) -> int:
    if not batch:
        return 0
    rows = []
    for card, _permit, (qr, chip, _files) in batch:
        rows.append({**vars(card), "qr_cose": qr, "chip_cose": chip})
    card_ids = session.execute(insert(Card).returning(Card.id, sort_by_parameter_order=True), rows).scalars().all()
    files = [{"card_id": cid, "so_key": key, "data": data}
             for cid, (_c, _p, (_q, _ch, card_files)) in zip(card_ids, batch) for key, data in card_files]
    if files:
        session.execute(insert(CardFile), files)
    jobs = [{"card_id": cid} for cid, (card, _p, _s) in zip(card_ids, batch) if card.kind == 1]
    if jobs:
        session.execute(insert(StationJob), jobs)
    session.execute(insert(WorkPermit), [
        {"person_id": card.person_id, "category": p.category, "employer_id": p.employer.id, "position": p.position,
         "work_location": p.work_location, "valid_from": p.valid_from, "valid_until": p.valid_until, "status": 1,
         "legacy": False} for card, p, _s in batch])
    session.execute(update(Application), [{"id": card.application_id, "status": ApplicationStatus.ISSUED}
                                          for card, _p, _s in batch])
    return len(batch)
