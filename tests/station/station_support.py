"""Helpers of the station tests: cards issued through the services, a terminal's view of a
card, and the issuer's records of a job."""

from __future__ import annotations


from crypto import TrustStore
from crypto.chip import Group
from firmware_tools.card.emulator import FaultPlan, ReferenceCard
from firmware_tools.chip_result import ChipReadResult
from firmware_tools.link import EmulatorLink
from firmware_tools.reader import read_card
from issuer.db.models import Card
from issuer.db.production_models import StationJob
from issuer.services import applications, issuance, publication, registry
from issuer.services import inputs as i
from issuer_flow import ALL_DOCUMENTS, employer_body, permit_body, person_body, photo
from clock_support import CLOCK

PIN = "123456"
EVERY = tuple(g for g in Group if g is not Group.CHIP_KEY)


def issue_cards(rt, n: int, *, card_kind: int = 1) -> list[int]:
    """n cards issued through the services (enrolled by erin, approved by alan); their ids."""
    ids = []
    with rt.db.session() as s:
        try:
            registry.create_employer(s, "user:erin", i.EmployerIn.model_validate(employer_body()))
        except Exception:  # noqa: BLE001 - registered by an earlier call
            s.rollback()
        jpeg = photo()
        for _ in range(n):
            person = registry.create_person(s, "user:erin", i.PersonIn.model_validate(person_body()))
            registry.set_photo(s, "user:erin", rt.settings, person.id, jpeg)
            app = applications.apply(s, "user:erin", i.ApplicationIn(
                person_id=person.id, card_kind=card_kind, permit=permit_body(), documents=ALL_DOCUMENTS))
            applications.approve(s, "user:alan", app.id, i.DecisionIn())
            ids.append(issuance.issue(rt, s, "user:erin", app.id).id)
        s.commit()
    return ids


def trust_store(rt) -> TrustStore:
    with rt.db.session() as s:
        record = publication.publish(rt, s, "user:ada")
        s.commit()
    store = TrustStore(rt.keys.root)
    store.update(record.data)
    return store


def terminal_read(card: ReferenceCard, store: TrustStore) -> ChipReadResult:
    """What a terminal concludes from the card (a fresh card object on the same image)."""
    link = EmulatorLink(ReferenceCard(card.image))
    link.connect()
    return read_card(link, EVERY, store, CLOCK.now(), PIN)


def blank(faults: FaultPlan | None = None) -> ReferenceCard:
    return ReferenceCard.blank(pin=PIN, faults=faults)


def connected(card: ReferenceCard) -> EmulatorLink:
    link = EmulatorLink(card)
    link.connect()
    return link


def records(rt, card_id: int) -> tuple[Card, StationJob]:
    with rt.db.session() as s:
        card = s.get(Card, card_id)
        job = s.query(StationJob).filter_by(card_id=card_id).one()
        s.expunge_all()
        return card, job
