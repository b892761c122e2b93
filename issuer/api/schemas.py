"""What the API answers with (the request models are issuer.services.inputs)."""

from __future__ import annotations

import base64
import datetime as dt

from pydantic import BaseModel

from crypto.qrtext import encode_qr_text
from issuer.db import models as m
from issuer.services.applications import missing_documents


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


class Problem(BaseModel):
    detail: str
    errors: list[dict] = []


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class PrincipalOut(BaseModel):
    kind: str
    name: str
    roles: list[str]


class EmployerOut(BaseModel):
    id: int
    uscc: str
    name: str
    address: str

    @classmethod
    def of(cls, e: m.Employer) -> EmployerOut:
        return cls(id=e.id, uscc=e.uscc, name=e.name, address=e.address)


class PermitOut(BaseModel):
    category: int
    employer_uscc: str
    position: str
    work_location: str
    valid_from: dt.date
    valid_until: dt.date
    status: int
    legacy: bool


class PersonOut(BaseModel):
    id: int
    family_name: str
    given_names: str
    chinese_name: str | None
    nationality: str
    birth_date: dt.date
    sex: int
    social_security_number: str
    work_permit_number: str
    passport_number: str | None
    permanent_residence_id: str | None
    photo_sha256: str | None
    permit: PermitOut | None
    insurance: list[dict]

    @classmethod
    def of(cls, p: m.Person) -> PersonOut:
        permit = None
        if p.permit is not None:
            w = p.permit
            permit = PermitOut(category=w.category, employer_uscc=w.employer.uscc, position=w.position,
                               work_location=w.work_location, valid_from=w.valid_from, valid_until=w.valid_until,
                               status=w.status, legacy=w.legacy)
        return cls(id=p.id, family_name=p.family_name, given_names=p.given_names, chinese_name=p.chinese_name,
                   nationality=p.nationality, birth_date=p.birth_date, sex=p.sex,
                   social_security_number=p.social_security_number, work_permit_number=p.work_permit_number,
                   passport_number=p.passport_number, permanent_residence_id=p.permanent_residence_id,
                   photo_sha256=p.photo_sha256.hex() if p.photo_sha256 else None, permit=permit,
                   insurance=[{"type": e.type, "status": e.status, "since": e.since, "paid_through": e.paid_through}
                              for e in p.insurance])


class DocumentOut(BaseModel):
    type: m.DocumentType
    required: bool
    status: m.DocumentStatus
    reference: str | None


class ApplicationOut(BaseModel):
    id: int
    person_id: int
    kind: m.ApplicationKind
    status: m.ApplicationStatus
    card_kind: int
    previous_card_id: int | None
    created_by: str
    decided_by: str | None
    decision_note: str | None
    documents: list[DocumentOut]
    missing_documents: list[str]

    @classmethod
    def of(cls, a: m.Application) -> ApplicationOut:
        return cls(id=a.id, person_id=a.person_id, kind=a.kind, status=a.status, card_kind=a.card_kind,
                   previous_card_id=a.previous_card_id, created_by=a.created_by, decided_by=a.decided_by,
                   decision_note=a.decision_note,
                   documents=[DocumentOut(type=d.type, required=d.required, status=d.status, reference=d.reference)
                              for d in a.documents],
                   missing_documents=missing_documents(a))


class CardOut(BaseModel):
    id: int
    person_id: int
    application_id: int | None
    issuer_code: str
    serial: int | None
    card_number: str
    kind: int
    sequence: int
    status: m.CardStatus
    status_reason: str | None
    issue_date: dt.date
    expiry_date: dt.date
    kid: str | None
    qr_text: str | None
    has_security_object: bool
    replaced_by_id: int | None

    @classmethod
    def of(cls, c: m.Card) -> CardOut:
        return cls(id=c.id, person_id=c.person_id, application_id=c.application_id, issuer_code=c.issuer_code,
                   serial=c.serial, card_number=c.card_number, kind=c.kind, sequence=c.sequence, status=c.status,
                   status_reason=c.status_reason, issue_date=c.issue_date, expiry_date=c.expiry_date,
                   kid=c.kid.hex() if c.kid else None, qr_text=encode_qr_text(c.qr_cose) if c.qr_cose else None,
                   has_security_object=c.security_object is not None, replaced_by_id=c.replaced_by_id)


class PersonalisationOut(BaseModel):
    """What a station writes: each file's bytes (base64), and the QR text to print."""

    card: CardOut
    files: dict[str, str]
    chip_cose: str | None
    security_object: str | None


class ReplaceOut(BaseModel):
    revoked_card: CardOut
    application: ApplicationOut


class TrustListOut(BaseModel):
    version: int
    issued_at: int
    next_update: int
    sha256: str
    revoked_count: int
    url: str


class UserOut(BaseModel):
    id: int
    username: str
    roles: list[str]
    active: bool

    @classmethod
    def of(cls, u: m.User) -> UserOut:
        return cls(id=u.id, username=u.username, roles=u.roles.split(), active=u.active)


class StationOut(BaseModel):
    id: int
    name: str
    api_key: str | None = None  # shown once, at creation


class AuditEventOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    details: str
    hash: str


class AuditVerifyOut(BaseModel):
    ok: bool
    rows: int
    problems: list[str]


class IssuerKeyOut(BaseModel):
    kid: str
    issuer_code: str
    algorithm: str
    current: bool
    signs_from: int
    signs_until: int
    valid_until: int
