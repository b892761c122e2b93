"""Importing permit records of the previous system: "no change, no replacement".

An imported record keeps the card the holder already has (status legacy, its own card
number, no serial of ours: it was not signed here). It stays valid as it is until the
holder renews or modifies it; that application then issues a card of this system and the
legacy card is superseded. Re-importing the same work permit number is refused, record by
record, so an import file can be run again after a partial failure.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import audit
from issuer.db.models import Card, CardStatus, Employer, Person, WorkPermit
from issuer.services import registry
from issuer.services.errors import Conflict
from issuer.services.inputs import LegacyImportIn


def import_records(session: Session, actor: str, issuer_code: str, data: LegacyImportIn) -> dict:
    imported, skipped = [], []
    for index, record in enumerate(data.records):
        number = record.person.identifiers.work_permit_number
        if session.execute(select(Person.id).where(Person.work_permit_number == number)).first():
            skipped.append({"record": index, "reason": "this work permit number is already registered"})
            continue
        employer = session.execute(select(Employer).where(Employer.uscc == record.employer.uscc)).scalar()
        if employer is None:
            employer = registry.create_employer(session, actor, record.employer)
        person = registry.create_person(session, actor, record.person)
        p = record.permit
        session.add(WorkPermit(person_id=person.id, category=int(p.category), employer_id=employer.id,
                               position=p.position, work_location=p.work_location, valid_from=p.valid_from,
                               valid_until=p.valid_until, status=1, legacy=True))
        if record.insurance is not None:
            registry.set_insurance(session, actor, person.id, record.insurance)
        if session.execute(select(Card.id).where(Card.card_number == record.card.card_number)).first():
            raise Conflict(f"record {index}: card number {record.card.card_number} exists already")
        card = Card(person_id=person.id, issuer_code=issuer_code, serial=None, card_number=record.card.card_number,
                    kind=int(record.card.kind), sequence=record.card.sequence, status=CardStatus.LEGACY,
                    status_reason="imported", issue_date=record.card.issue_date, expiry_date=record.card.expiry_date)
        session.add(card)
        session.flush()
        audit.append(session, actor, "legacy.import", "card", card.id, {"person": person.id})
        imported.append({"record": index, "person_id": person.id, "card_id": card.id})
    return {"imported": imported, "skipped": skipped}
