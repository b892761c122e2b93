"""The card lifecycle after issuance (DESIGN.md §1, issue 4 §3):

    issued ──security object──> (issued, chip key known) ──> personalised ──> printed ──> delivered
    delivered <──> suspended                 (listed in the trust list while suspended)
    any card in use ──replace──> revoked     (lost, stolen, damaged; a replacement is applied for)
    any card of the person ──cancel──> revoked, the permit cancelled
    renew / modify: see applications; the issue of the new card supersedes the old one.

An electronic card has no chip and nothing to print: issued ──> delivered (to the app).
Every change to the set of listed serials publishes a new trust list in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.schema import PermitStatus
from issuer import audit
from issuer.db.models import Application, Card, CardStatus, Person
from issuer.services import applications, publication
from issuer.services.errors import Conflict
from issuer.services.inputs import ReasonIn, ReplaceIn
from issuer.services.registry import get_or_404
from issuer.services.runtime import Runtime

# (step, card kind) -> the status a card must have before the step.
_BEFORE = {
    ("personalised", 1): CardStatus.ISSUED,
    ("printed", 1): CardStatus.PERSONALISED,
    ("delivered", 1): CardStatus.PRINTED,
    ("delivered", 2): CardStatus.ISSUED,
}
_ACTIVE = (CardStatus.ISSUED, CardStatus.PERSONALISED, CardStatus.PRINTED, CardStatus.DELIVERED,
           CardStatus.SUSPENDED, CardStatus.LEGACY)


def advance(session: Session, actor: str, card_id: int, step: str) -> Card:
    """A station reports a step done: personalised, printed or delivered."""
    card = get_or_404(session, Card, card_id, lock=True)
    before = _BEFORE.get((step, card.kind))
    if before is None:
        raise Conflict(f"an {'electronic' if card.kind == 2 else 'physical'} card has no step '{step}'")
    if card.status is not before:
        raise Conflict(f"card {card.id} is {card.status.value}; '{step}' needs it {before.value}")
    if step == "personalised" and card.security_object is None:
        raise Conflict("sign the security object (POST .../security-object) before personalisation is done")
    card.status = CardStatus(step)
    session.flush()
    audit.append(session, actor, f"card.{step}", "card", card.id)
    return card


def suspend(rt: Runtime, session: Session, actor: str, card_id: int, data: ReasonIn) -> Card:
    card = get_or_404(session, Card, card_id, lock=True)
    if card.status is not CardStatus.DELIVERED:
        raise Conflict(f"card {card.id} is {card.status.value}: only a delivered card can be suspended")
    card.status, card.status_reason = CardStatus.SUSPENDED, data.reason
    session.flush()
    publication.publish(rt, session, actor)
    audit.append(session, actor, "card.suspend", "card", card.id)
    return card


def resume(rt: Runtime, session: Session, actor: str, card_id: int) -> Card:
    card = get_or_404(session, Card, card_id, lock=True)
    if card.status is not CardStatus.SUSPENDED:
        raise Conflict(f"card {card.id} is {card.status.value}, not suspended")
    card.status, card.status_reason = CardStatus.DELIVERED, None
    session.flush()
    publication.publish(rt, session, actor)
    audit.append(session, actor, "card.resume", "card", card.id)
    return card


def replace(rt: Runtime, session: Session, actor: str, card_id: int, data: ReplaceIn) -> Application:
    """The card is lost, stolen or damaged: revoke it now and apply for a replacement."""
    card = get_or_404(session, Card, card_id, lock=True)
    if card.status not in _ACTIVE:
        raise Conflict(f"card {card.id} is {card.status.value}: only a card in use can be replaced")
    person = session.get(Person, card.person_id)
    applications.no_open_application(session, person.id)
    card.status, card.status_reason = CardStatus.REVOKED, f"replaced: {data.reason}"
    session.flush()
    if card.serial is not None:
        publication.publish(rt, session, actor)
    audit.append(session, actor, "card.revoke", "card", card.id, {"reason": data.reason})
    return applications.create(session, actor, person, applications.ApplicationKind.REPLACE,
                               {"reason": data.reason}, card_kind=card.kind, documents=data.documents,
                               previous=card)


def cancel(rt: Runtime, session: Session, actor: str, card_id: int, data: ReasonIn) -> Card:
    """The work permit is cancelled: every card of the holder is revoked."""
    card = get_or_404(session, Card, card_id, lock=True)
    person = session.get(Person, card.person_id)
    if person.permit is None or person.permit.status == PermitStatus.CANCELLED:
        raise Conflict("the permit is already cancelled")
    person.permit.status = int(PermitStatus.CANCELLED)
    revoked = []
    for other in session.execute(select(Card).where(Card.person_id == person.id, Card.status.in_(_ACTIVE))
                                 .with_for_update()).scalars():
        other.status, other.status_reason = CardStatus.REVOKED, f"permit cancelled: {data.reason}"
        revoked.append(other.id)
    for app in session.execute(select(Application).where(Application.person_id == person.id,
                                                         Application.status.in_(applications.OPEN))).scalars():
        app.status, app.decision_note = applications.ApplicationStatus.REJECTED, "permit cancelled"
    session.flush()
    publication.publish(rt, session, actor)
    audit.append(session, actor, "permit.cancel", "person", person.id, {"cards": revoked})
    return card
