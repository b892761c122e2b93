"""Employers, persons, photos and insurance enrolment: what the enrolment desk registers."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer import audit
from issuer.db.models import Employer, InsuranceEnrolment, Person
from issuer.services.errors import Conflict, NotFound
from issuer.services.inputs import EmployerIn, InsuranceIn, PersonIn
from issuer.services.photos import normalise_photo
from issuer.settings import Settings


def get_or_404(session: Session, model: type, object_id: int, *, lock: bool = False):
    stmt = select(model).where(model.id == object_id)
    if lock:
        stmt = stmt.with_for_update()
    found = session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise NotFound(f"{model.__name__.lower()} {object_id} does not exist")
    return found


def _insert(session: Session, obj: object, what: str) -> None:
    """Add and flush inside a savepoint, so a duplicate is a Conflict and the transaction goes on."""
    try:
        with session.begin_nested():
            session.add(obj)
    except IntegrityError:
        raise Conflict(f"{what} is already registered") from None


def create_employer(session: Session, actor: str, data: EmployerIn) -> Employer:
    employer = Employer(uscc=data.uscc, name=data.name, address=data.address)
    _insert(session, employer, f"an employer with unified social credit code {data.uscc}")
    audit.append(session, actor, "employer.create", "employer", employer.id)
    return employer


def employer_by_uscc(session: Session, uscc: str) -> Employer:
    employer = session.execute(select(Employer).where(Employer.uscc == uscc)).scalar_one_or_none()
    if employer is None:
        raise NotFound(f"no employer with unified social credit code {uscc} is registered")
    return employer


def list_employers(session: Session, *, offset: int = 0, limit: int = 100) -> list[Employer]:
    return list(session.execute(select(Employer).order_by(Employer.id).offset(offset).limit(limit)).scalars())


def create_person(session: Session, actor: str, data: PersonIn) -> Person:
    h, i = data.holder, data.identifiers
    person = Person(family_name=h.family_name, given_names=h.given_names, chinese_name=h.chinese_name,
                    nationality=h.nationality, birth_date=h.birth_date, sex=int(h.sex),
                    social_security_number=i.social_security_number, work_permit_number=i.work_permit_number,
                    passport_number=i.passport_number, permanent_residence_id=i.permanent_residence_id,
                    created_by=actor)
    _insert(session, person, "a person with this social security number or work permit number")
    audit.append(session, actor, "person.create", "person", person.id)
    return person


def set_photo(session: Session, actor: str, settings: Settings, person_id: int, upload: bytes) -> Person:
    jpeg = normalise_photo(upload, max_bytes=settings.photo_max_upload_bytes, min_width=settings.photo_min_width,
                           min_height=settings.photo_min_height, max_pixels=settings.photo_max_pixels)
    person = get_or_404(session, Person, person_id, lock=True)
    person.photo_jpeg, person.photo_sha256 = jpeg, hashlib.sha256(jpeg).digest()
    audit.append(session, actor, "person.photo", "person", person.id, {"sha256": person.photo_sha256.hex()})
    return person


def set_insurance(session: Session, actor: str, person_id: int, data: InsuranceIn) -> Person:
    person = get_or_404(session, Person, person_id, lock=True)
    current = {e.type: e for e in person.insurance}
    for entry in data.enrolments:
        row = current.get(int(entry.type))
        if row is None:
            row = InsuranceEnrolment(person_id=person.id, type=int(entry.type))
            session.add(row)
            person.insurance.append(row)
        row.status, row.since, row.paid_through = int(entry.status), entry.since, entry.paid_through
    session.flush()
    audit.append(session, actor, "person.insurance", "person", person.id,
                 {"status": [int(e.status) for e in data.enrolments]})
    return person
