"""What an officer or a station submits, as validated models.

They reuse the credential's own field types from crypto.schema, so that the enrolment desk
gets the same field-level messages the signer would give, at the moment of entry.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from crypto import schema
from crypto.schema import CardKind, Date, InsuranceEnrolment, InsuranceType, PermitCategory, Uscc
from issuer.db.models import DocumentStatus, DocumentType

_LOCATION = re.compile(r"[1-8][0-9]{5}")


def _location(value: str) -> str:
    if not _LOCATION.fullmatch(value):
        raise ValueError("a 6-digit administrative division code (GB/T 2260), e.g. 310115")
    return value


WorkLocation = Annotated[str, AfterValidator(_location)]
Position = Annotated[str, Field(min_length=1, max_length=64)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EmployerIn(schema.Employer):
    address: Annotated[str, Field(max_length=200)] = ""


class HolderIn(schema.Holder):
    """The holder as entered; the photo digest comes from the uploaded photo, not the client."""

    photo_digest: None = None


class PersonIn(_In):
    holder: HolderIn
    identifiers: schema.Identifiers


class PermitIn(_In):
    category: PermitCategory
    employer_uscc: Uscc
    position: Position
    work_location: WorkLocation
    valid_from: Date
    valid_until: Date

    _upper = field_validator("employer_uscc", mode="before")(schema._upper)

    _category = field_validator("category", mode="before")(schema.category_from_letter)
    _range = model_validator(mode="after")(schema.validity_in_order)


class InsuranceIn(_In):
    enrolments: list[InsuranceEnrolment]

    @field_validator("enrolments")
    @classmethod
    def _five(cls, value: list[InsuranceEnrolment]) -> list[InsuranceEnrolment]:
        if sorted(e.type for e in value) != list(InsuranceType):
            raise ValueError("exactly one entry for each of the five insurances "
                             "(pension, medical, work_injury, unemployment, maternity) is required")
        return sorted(value, key=lambda e: e.type)


class ApplicationIn(_In):
    """A first application: the person is registered, the permit is what is applied for."""

    person_id: int
    card_kind: CardKind = CardKind.PHYSICAL
    permit: PermitIn
    documents: dict[DocumentType, DocumentStatus] = Field(default_factory=dict)


class DocumentIn(_In):
    status: DocumentStatus
    reference: Annotated[str, Field(max_length=100)] | None = None


class DecisionIn(_In):
    note: Annotated[str, Field(max_length=200)] | None = None


class RenewIn(_In):
    valid_until: Date
    valid_from: Date | None = None
    documents: dict[DocumentType, DocumentStatus] = Field(default_factory=dict)


class ModifyIn(_In):
    employer_uscc: Uscc | None = None
    position: Position | None = None
    work_location: WorkLocation | None = None
    documents: dict[DocumentType, DocumentStatus] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something(self) -> ModifyIn:
        if self.employer_uscc is None and self.position is None and self.work_location is None:
            raise ValueError("name at least one of employer_uscc, position, work_location")
        return self


class ReplaceIn(_In):
    reason: Literal["lost", "stolen", "damaged"]
    documents: dict[DocumentType, DocumentStatus] = Field(default_factory=dict)


class ReasonIn(_In):
    reason: Annotated[str, Field(min_length=1, max_length=100)]


class SecurityObjectIn(_In):
    """What the station sends after the card made its key: EF.DG5's file bytes, base64."""

    dg5: Annotated[bytes, Field(min_length=4, max_length=256)]

    @field_validator("dg5", mode="before")
    @classmethod
    def _base64(cls, value: object) -> object:
        import base64
        import binascii

        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("dg5 must be base64 (RFC 4648) of the file bytes") from None
        return value


class LegacyCardIn(_In):
    card_number: Annotated[str, Field(pattern=r"^[A-Z0-9]{6,16}$")]
    kind: CardKind = CardKind.PHYSICAL
    sequence: Annotated[int, Field(ge=1, le=98)] = 1
    issue_date: Date
    expiry_date: Date


class LegacyRecordIn(_In):
    """One permit record from the previous system: it stays valid as it is until renewed or modified."""

    person: PersonIn
    employer: EmployerIn
    permit: PermitIn
    card: LegacyCardIn
    insurance: InsuranceIn | None = None

    @model_validator(mode="after")
    def _same_employer(self) -> LegacyRecordIn:
        if self.permit.employer_uscc != self.employer.uscc:
            raise ValueError("permit.employer_uscc must be the employer's uscc")
        return self


class LegacyImportIn(_In):
    records: Annotated[list[LegacyRecordIn], Field(min_length=1, max_length=1000)]


class UserIn(_In):
    username: Annotated[str, Field(pattern=r"^[a-z][a-z0-9._-]{2,63}$")]
    password: Annotated[str, Field(min_length=10, max_length=200)]
    roles: Annotated[list[Literal["enroller", "approver", "station", "auditor", "admin"]], Field(min_length=1)]


class StationIn(_In):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{2,64}$")]


def today() -> dt.date:
    return dt.datetime.now(schema.CHINA_TZ).date()
