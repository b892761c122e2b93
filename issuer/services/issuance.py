"""Issuing a card: sign the QR credential, the chip profile and its data groups; later, when
the station has made the chip's key, sign the security object (docs/spec.md §4, §10).

Crash safety: the serial is taken, the artefacts signed and the card row written in ONE
database transaction. A failure anywhere before the commit — a refused signature, a lost
database connection, a killed process — rolls all of it back: no card row, no serial used
(serials stay dense), the application still approved and ready to issue again. The signed
bytes never left the process, so nothing half-issued exists anywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import os

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto import Profile, SscError, parse_credential, sign_credential
from crypto.chip import Group, build_security_object, group_payloads
from crypto.claims import end_of_day
from crypto.schema import Credential
from firmware_tools.card import profile as card_profile
from issuer import audit
from issuer.db.models import (Application, ApplicationKind, ApplicationStatus, Card, CardFile, CardStatus,
                              InsuranceEnrolment, Person, WorkPermit)
from issuer.db.production_models import StationJob
from issuer.services import counters, publication
from issuer.services.errors import Conflict, Invalid
from issuer.services.registry import employer_by_uscc, get_or_404
from issuer.services.runtime import Runtime
from issuer.services.validity import card_expiry, china_date

FILE_FOR_GROUP = {Group.CARD_INFO: card_profile.CARD_INFO, Group.HOLDER: card_profile.DG1,
                  Group.PHOTO: card_profile.DG2, Group.PERMIT: card_profile.DG3, Group.INSURANCE: card_profile.DG4,
                  Group.CHIP_KEY: card_profile.DG5}


def credential_record(person: Person, permit: WorkPermit, insurance: list[InsuranceEnrolment], card: Card) -> dict:
    """The crypto.schema record of a card, from the database rows."""
    entries = {e.type: e for e in insurance}
    return {
        "holder": {"family_name": person.family_name, "given_names": person.given_names,
                   "chinese_name": person.chinese_name, "nationality": person.nationality,
                   "birth_date": person.birth_date, "sex": person.sex, "photo_digest": person.photo_sha256},
        "identifiers": {"social_security_number": person.social_security_number,
                        "work_permit_number": person.work_permit_number, "passport_number": person.passport_number,
                        "permanent_residence_id": person.permanent_residence_id},
        "permit": {"category": permit.category, "employer": {"name": permit.employer.name, "uscc": permit.employer.uscc},
                   "position": permit.position, "work_location": permit.work_location,
                   "valid_from": permit.valid_from, "valid_until": permit.valid_until, "status": permit.status},
        "insurance": [{"type": t, "status": entries[t].status, "since": entries[t].since,
                       "paid_through": entries[t].paid_through} if t in entries else {"type": t, "status": 0}
                      for t in range(1, 6)],
        "card": {"card_number": card.card_number, "serial": card.serial, "kind": card.kind,
                 "sequence": card.sequence, "issue_date": card.issue_date, "expiry_date": card.expiry_date,
                 "issuing_centre": card.issuer_code},
    }


def _apply_request(session: Session, app: Application, person: Person) -> WorkPermit:
    """Put what the approved application asked for into the person's permit."""
    request = json.loads(app.request)
    permit = person.permit
    if app.kind is ApplicationKind.NEW:
        employer = employer_by_uscc(session, request["employer_uscc"])
        permit = WorkPermit(person_id=person.id, category=int(request["category"]), employer=employer,
                            position=request["position"], work_location=request["work_location"],
                            valid_from=dt.date.fromisoformat(request["valid_from"]),
                            valid_until=dt.date.fromisoformat(request["valid_until"]), status=1)
        session.add(permit)
        person.permit = permit
    elif app.kind is ApplicationKind.RENEW:
        permit.valid_from = dt.date.fromisoformat(request["valid_from"])
        permit.valid_until = dt.date.fromisoformat(request["valid_until"])
    elif app.kind is ApplicationKind.MODIFY:
        if "employer_uscc" in request:
            permit.employer = employer_by_uscc(session, request["employer_uscc"])
        permit.position = request.get("position", permit.position)
        permit.work_location = request.get("work_location", permit.work_location)
    if app.kind in (ApplicationKind.RENEW, ApplicationKind.MODIFY):
        permit.legacy = False  # integrated into this system now ("no change, no replacement" ends here)
    session.flush()
    return permit


def _next_sequence(session: Session, person_id: int, kind: int) -> int:
    top = session.execute(select(func.max(Card.sequence)).where(Card.person_id == person_id, Card.kind == kind)).scalar()
    if (top or 0) >= 99:
        raise Conflict("the card sequence number would exceed 99")
    return (top or 0) + 1


def _credential(record: dict) -> Credential:
    try:
        return parse_credential(record)
    except SscError as exc:
        raise Invalid(f"the card data is not valid: {exc.message}", getattr(exc, "errors", [])) from None


def issue(rt: Runtime, session: Session, actor: str, application_id: int) -> Card:
    app = get_or_404(session, Application, application_id, lock=True)
    if app.status is not ApplicationStatus.APPROVED:
        raise Conflict(f"application {app.id} is {app.status.value}: only an approved application is issued")
    person = session.get(Person, app.person_id)
    keys, code = rt.keys, rt.settings.issuer_code
    permit = _apply_request(session, app, person)
    issue_date = china_date(rt.now())
    expiry = card_expiry(issue_date, rt.settings.card_validity_years, permit.valid_until)
    if expiry <= issue_date:
        raise Conflict("the work permit ends before a card could be valid")
    previous = session.get(Card, app.previous_card_id) if app.previous_card_id else None
    sequence = _next_sequence(session, person.id, app.card_kind)
    serial = counters.next_serial(session, code)  # locked until commit: dense and unique
    card = Card(person_id=person.id, application_id=app.id, issuer_code=code, serial=serial,
                card_number=counters.card_number(code, app.card_kind, serial), kind=app.card_kind,
                sequence=sequence, status=CardStatus.ISSUED, issue_date=issue_date, expiry_date=expiry)
    credential = _credential(credential_record(person, permit, person.insurance, card))
    iat = rt.now()
    card.kid, card.iat = keys.issuer.kid, iat
    card.qr_cose = sign_credential(credential, keys.issuer, iat=iat, profile=Profile.QR)
    if card.kind == 1:
        card.chip_cose = sign_credential(credential, keys.issuer, iat=iat, profile=Profile.CHIP, cti=os.urandom(16))
        for group, payload in group_payloads(credential, person.photo_jpeg).items():
            card.files.append(CardFile(so_key=int(group), data=FILE_FOR_GROUP[group].wrap(payload)))
    rt.after_signing()
    session.add(card)
    app.status = ApplicationStatus.ISSUED
    session.flush()
    if card.kind == 1:
        session.add(StationJob(card_id=card.id))  # the issuance stations' queue (issuer.services.station)
    if previous is not None:
        previous.replaced_by_id = card.id
        if previous.status is not CardStatus.REVOKED:  # a replaced card was revoked when reported
            previous.status, previous.status_reason = CardStatus.SUPERSEDED, f"superseded: {app.kind.value}"
            session.flush()
            if previous.serial is not None:
                publication.publish(rt, session, actor)  # the old credential stops verifying now
    session.flush()
    audit.append(session, actor, "card.issue", "card", card.id,
                 {"application": app.id, "serial": serial, "kid": card.kid.hex(),
                  "supersedes": previous.id if previous else None})
    return card


def _chip_public_key(dg5: bytes) -> bytes:
    try:
        point = card_profile.chip_key_point(card_profile.DG5.unwrap(dg5))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)  # on the curve
    except (ValueError, SscError) as exc:
        message = getattr(exc, "message", str(exc))
        raise Invalid(f"EF.DG5 is not a P-256 chip key: {message}",
                      [{"field": "dg5", "message": f"not an EF.DG5 P-256 COSE_Key file: {message}"}]) from None
    return point


def sign_security_object(rt: Runtime, session: Session, actor: str, card_id: int, dg5: bytes) -> Card:
    """Sign EF.SO over the files the issuer made and the DG5 the card made (spec §10.2).

    A card makes its key once: asking again with the same DG5 returns the same security
    object; a different DG5 for the same card is refused."""
    card = get_or_404(session, Card, card_id, lock=True)
    if card.kind != 1:
        raise Conflict("an electronic card has no chip")
    if card.security_object is not None:
        if card.chip_key == dg5:
            return card
        raise Conflict("this card's security object is signed already, for another chip key")
    if card.status is not CardStatus.ISSUED:
        raise Conflict(f"card {card.id} is {card.status.value}: a security object is signed before personalisation")
    _chip_public_key(dg5)
    files = {Group(f.so_key): f.data for f in card.files}
    files[Group.CHIP_KEY] = dg5
    keys = rt.keys
    card.security_object = build_security_object(
        card_number=card.card_number, serial=card.serial, issuer_code=card.issuer_code, iat=rt.now(),
        exp=end_of_day(card.expiry_date), files=files, signer=keys.issuer)
    card.chip_key = dg5
    rt.after_signing()
    session.flush()
    audit.append(session, actor, "card.security_object", "card", card.id, {"kid": keys.issuer.kid.hex()})
    return card


def personalisation_files(card: Card) -> dict[str, bytes]:
    """The files for the station to write: every data group, and EF.SO once signed."""
    files = {FILE_FOR_GROUP[Group(f.so_key)].name: f.data for f in card.files}
    if card.security_object is not None:
        files[card_profile.SECURITY_OBJECT.name] = card_profile.SECURITY_OBJECT.wrap(card.security_object)
    return files
