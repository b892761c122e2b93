"""Applications and the four-eyes rule: an enrolment officer enters, another officer approves.

Every kind of application carries a checklist of supporting documents; approval is refused
while a document required for its kind is missing, and by the officer who entered it.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import audit
from issuer.db.models import (Application, ApplicationKind, ApplicationStatus, Card, CardStatus, DocumentStatus,
                              DocumentType, Person, SupportingDocument, utcnow)
from issuer.services.errors import Conflict, FourEyesViolation, Invalid, NotFound
from issuer.services.inputs import ApplicationIn, DecisionIn, DocumentIn, ModifyIn, RenewIn
from issuer.services.registry import employer_by_uscc, get_or_404

D = DocumentType
REQUIRED: dict[ApplicationKind, frozenset[DocumentType]] = {
    ApplicationKind.NEW: frozenset(DocumentType),
    ApplicationKind.RENEW: frozenset({D.CONTRACT, D.PASSPORT, D.PHOTO}),
    ApplicationKind.MODIFY: frozenset({D.CONTRACT}),
    ApplicationKind.REPLACE: frozenset({D.PASSPORT, D.PHOTO}),
}
OPEN = (ApplicationStatus.SUBMITTED, ApplicationStatus.APPROVED)
IN_USE = (CardStatus.ISSUED, CardStatus.PERSONALISED, CardStatus.PRINTED, CardStatus.DELIVERED,
          CardStatus.SUSPENDED, CardStatus.LEGACY)


def no_open_application(session: Session, person_id: int) -> None:
    open_app = session.execute(select(Application.id).where(
        Application.person_id == person_id, Application.status.in_(OPEN))).first()
    if open_app is not None:
        raise Conflict(f"application {open_app[0]} of this person is still open: decide or issue it first")


def create(session: Session, actor: str, person: Person, kind: ApplicationKind, request: dict, *,
            card_kind: int, documents: dict, previous: Card | None = None) -> Application:
    no_open_application(session, person.id)
    app = Application(person_id=person.id, kind=kind, card_kind=card_kind, created_by=actor,
                      request=json.dumps(request, sort_keys=True, default=str),
                      previous_card_id=previous.id if previous else None)
    for doc_type in DocumentType:
        app.documents.append(SupportingDocument(type=doc_type, required=doc_type in REQUIRED[kind],
                                                status=documents.get(doc_type, DocumentStatus.MISSING),
                                                updated_by=actor if doc_type in documents else None))
    session.add(app)
    session.flush()
    audit.append(session, actor, f"application.{kind.value}", "application", app.id,
                 {"person": person.id, "previous_card": app.previous_card_id})
    return app


def apply(session: Session, actor: str, data: ApplicationIn) -> Application:
    person = session.get(Person, data.person_id)
    if person is None:
        raise Invalid("the person does not exist", [{"field": "person_id", "message": "no such person"}])
    if person.permit is not None:
        raise Conflict("this person already holds a work permit: renew or modify it instead")
    try:
        employer_by_uscc(session, data.permit.employer_uscc)
    except NotFound as exc:
        raise Invalid(exc.message, [{"field": "permit.employer_uscc", "message": exc.message}]) from None
    return create(session, actor, person, ApplicationKind.NEW, data.permit.model_dump(mode="json"),
                   card_kind=int(data.card_kind), documents=data.documents)


def _card_in_use(session: Session, card_id: int, allowed=IN_USE) -> Card:
    card = get_or_404(session, Card, card_id, lock=True)
    if card.status not in allowed:
        raise Conflict(f"card {card_id} is {card.status.value}: the operation needs a card in use")
    return card


def renew(session: Session, actor: str, card_id: int, data: RenewIn) -> Application:
    card = _card_in_use(session, card_id)
    person = session.get(Person, card.person_id)
    valid_from = data.valid_from or person.permit.valid_from
    if data.valid_until <= valid_from or data.valid_until <= person.permit.valid_until:
        raise Invalid("the new validity must end after the current one",
                      [{"field": "valid_until", "message": f"must be after {person.permit.valid_until}"}])
    return create(session, actor, person, ApplicationKind.RENEW,
                   {"valid_from": valid_from.isoformat(), "valid_until": data.valid_until.isoformat()},
                   card_kind=card.kind, documents=data.documents, previous=card)


def modify(session: Session, actor: str, card_id: int, data: ModifyIn) -> Application:
    card = _card_in_use(session, card_id)
    if data.employer_uscc is not None:
        try:
            employer_by_uscc(session, data.employer_uscc)
        except NotFound as exc:
            raise Invalid(exc.message, [{"field": "employer_uscc", "message": exc.message}]) from None
    changes = data.model_dump(exclude={"documents"}, exclude_none=True)
    return create(session, actor, session.get(Person, card.person_id), ApplicationKind.MODIFY, changes,
                   card_kind=card.kind, documents=data.documents, previous=card)


def set_document(session: Session, actor: str, application_id: int, doc_type: DocumentType,
                 data: DocumentIn) -> Application:
    app = get_or_404(session, Application, application_id, lock=True)
    if app.status is not ApplicationStatus.SUBMITTED:
        raise Conflict(f"application {app.id} is {app.status.value}: its checklist is closed")
    doc = next(d for d in app.documents if d.type is doc_type)
    doc.status, doc.reference, doc.updated_by = data.status, data.reference, actor
    session.flush()
    audit.append(session, actor, "application.document", "application", app.id,
                 {"document": doc_type.value, "status": data.status.value})
    return app


def missing_documents(app: Application) -> list[str]:
    return [d.type.value for d in app.documents if d.required and d.status is DocumentStatus.MISSING]


def approve(session: Session, actor: str, application_id: int, data: DecisionIn) -> Application:
    app = get_or_404(session, Application, application_id, lock=True)
    if app.status is not ApplicationStatus.SUBMITTED:
        raise Conflict(f"application {app.id} is {app.status.value}, not submitted")
    if app.created_by == actor:
        raise FourEyesViolation("four eyes: the officer who entered an application cannot approve it")
    missing = missing_documents(app)
    if missing:
        raise Conflict(f"required supporting documents are missing: {', '.join(missing)}",
                       [{"field": f"documents.{m}", "message": "required, missing"} for m in missing])
    person = session.get(Person, app.person_id)
    if app.card_kind == 1 and person.photo_sha256 is None:
        raise Conflict("the person has no photo: upload one before approval")
    app.status, app.decided_by, app.decided_at, app.decision_note = (ApplicationStatus.APPROVED, actor, utcnow(),
                                                                     data.note)
    session.flush()
    audit.append(session, actor, "application.approve", "application", app.id)
    return app


def reject(session: Session, actor: str, application_id: int, data: DecisionIn) -> Application:
    app = get_or_404(session, Application, application_id, lock=True)
    if app.status is not ApplicationStatus.SUBMITTED:
        raise Conflict(f"application {app.id} is {app.status.value}, not submitted")
    if app.created_by == actor:
        raise FourEyesViolation("four eyes: the officer who entered an application cannot decide it")
    app.status, app.decided_by, app.decided_at, app.decision_note = (ApplicationStatus.REJECTED, actor, utcnow(),
                                                                     data.note)
    session.flush()
    audit.append(session, actor, "application.reject", "application", app.id)
    return app
