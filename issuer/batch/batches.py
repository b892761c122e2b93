"""A batch after its import: four-eyes approval of its applications as a whole, and where
it stands (how many applications are submitted, approved, issued; how many cards are
personalised)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from issuer import audit
from issuer.db.models import Application, ApplicationStatus, Card, DocumentStatus, Person, SupportingDocument, utcnow
from issuer.db.production_models import Batch, BatchItem
from issuer.services.errors import FourEyesViolation
from issuer.services.registry import get_or_404


@dataclass
class BatchStatus:
    batch_id: int
    name: str
    rows: int
    created_by: str
    approved_by: str | None
    applications: dict[str, int]   # application status -> count
    cards: dict[str, int]          # card status -> count

    def to_dict(self) -> dict:
        return {"batch": self.batch_id, "name": self.name, "rows": self.rows, "created_by": self.created_by,
                "approved_by": self.approved_by, "applications": self.applications, "cards": self.cards}


def _members(batch_id: int):
    return select(BatchItem.application_id).where(BatchItem.batch_id == batch_id)


def approve(session: Session, actor: str, batch_id: int, note: str | None = None) -> tuple[int, int]:
    """Approve every submitted application of the batch that is complete (required documents,
    a photo for a physical card): (approved, left submitted). Four eyes: not by the officer
    who imported the batch."""
    batch = get_or_404(session, Batch, batch_id, lock=True)
    if batch.created_by == actor:
        raise FourEyesViolation("four eyes: the officer who imported a batch cannot approve it")
    missing_document = exists().where(SupportingDocument.application_id == Application.id,
                                      SupportingDocument.required.is_(True),
                                      SupportingDocument.status == DocumentStatus.MISSING)
    has_photo = exists().where(Person.id == Application.person_id, Person.photo_sha256.is_not(None))
    done = session.execute(
        update(Application)
        .where(Application.id.in_(_members(batch_id)), Application.status == ApplicationStatus.SUBMITTED,
               Application.created_by != actor, ~missing_document, (Application.card_kind == 2) | has_photo)
        .values(status=ApplicationStatus.APPROVED, decided_by=actor, decided_at=utcnow(), decision_note=note)
        .execution_options(synchronize_session=False))
    approved = done.rowcount
    left = session.execute(select(func.count()).select_from(Application).where(
        Application.id.in_(_members(batch_id)), Application.status == ApplicationStatus.SUBMITTED)).scalar_one()
    batch.approved_by, batch.approved_at = actor, utcnow()
    session.flush()
    audit.append(session, actor, "batch.approve", "batch", batch.id, {"approved": approved, "left": left})
    return approved, left


def status(session: Session, batch_id: int) -> BatchStatus:
    batch = get_or_404(session, Batch, batch_id)
    apps = dict(session.execute(select(Application.status, func.count()).where(
        Application.id.in_(_members(batch_id))).group_by(Application.status)).all())
    cards = dict(session.execute(select(Card.status, func.count()).where(
        Card.application_id.in_(_members(batch_id))).group_by(Card.status)).all())
    return BatchStatus(batch.id, batch.name, batch.rows, batch.created_by, batch.approved_by,
                       {k.value: v for k, v in apps.items()}, {k.value: v for k, v in cards.items()})


def list_batches(session: Session, limit: int = 50) -> list[Batch]:
    return list(session.execute(select(Batch).order_by(Batch.id.desc()).limit(limit)).scalars())
