"""The credential's data (DESIGN.md §3), as pydantic v2 models.

Field validators give a message a person at the enrolment desk can act on; the CBOR
mapping of every field is in :mod:`crypto.claims` and docs/spec.md §4.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Annotated

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

from crypto.countries import NATIONALITY_CODES
from crypto.errors import SchemaError
from crypto.identifiers import (permanent_residence_id_problem, uscc_problem,
                                work_permit_number_problem)
from crypto.reasons import Reason

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))


class Sex(enum.IntEnum):
    """ISO/IEC 5218."""

    NOT_KNOWN = 0
    MALE = 1
    FEMALE = 2
    NOT_APPLICABLE = 9


class PermitCategory(enum.IntEnum):
    """Foreigner's Work Permit categories: A high-end talent, B professional, C other."""

    A = 1
    B = 2
    C = 3


class PermitStatus(enum.IntEnum):
    VALID = 1
    SUSPENDED = 2
    CANCELLED = 3


class InsuranceType(enum.IntEnum):
    """The five insurances, in the order the claim array uses (spec §4.5)."""

    PENSION = 1
    MEDICAL = 2
    WORK_INJURY = 3
    UNEMPLOYMENT = 4
    MATERNITY = 5


class InsuranceStatus(enum.IntEnum):
    NOT_ENROLLED = 0
    NORMAL = 1
    SUSPENDED = 2
    TERMINATED = 3


class CardKind(enum.IntEnum):
    PHYSICAL = 1
    ELECTRONIC = 2


def _pattern(regex: str, explain: str):
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(explain)
        return value
    return AfterValidator(check)


def _problem(func):
    def check(value: str) -> str:
        problem = func(value)
        if problem:
            raise ValueError(problem)
        return value
    return AfterValidator(check)


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def category_from_letter(value: object) -> object:
    """Accept the permit category as its letter (A, B, C) as well as its number."""
    if isinstance(value, str) and value.strip().upper() in PermitCategory.__members__:
        return PermitCategory[value.strip().upper()]
    return value


def validity_in_order(model):
    """A model validator: valid_from must be before valid_until."""
    if model.valid_from >= model.valid_until:
        raise ValueError("valid_from must be before valid_until")
    return model


def _in_range(value: dt.date) -> dt.date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"date must lie between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


Date = Annotated[dt.date, AfterValidator(_in_range)]
LatinName = Annotated[str, Field(max_length=64),
                      _pattern(r"[A-Z](?:[A-Z' .-]*[A-Z.])?",
                               "use the Latin letters A-Z as on the passport, with spaces, hyphens or apostrophes between them")]
Uscc = Annotated[str, _problem(uscc_problem)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Holder(_Model):
    family_name: LatinName
    given_names: Annotated[str, Field(max_length=64),
                           _pattern(r"(?:[A-Z](?:[A-Z' .-]*[A-Z.])?)?",
                                    "use the Latin letters A-Z as on the passport (empty if the passport has none)")] = ""
    chinese_name: Annotated[str, Field(min_length=1, max_length=32),
                            _pattern(r"[\u3400-\u4dbf\u4e00-\u9fff\u00b7\u30fb]+",
                                     "use Chinese characters (and the middle dot · between name parts)")] | None = None
    nationality: Annotated[str, Field(min_length=3, max_length=3)]
    birth_date: Date
    sex: Sex
    photo_digest: Annotated[bytes, Field(min_length=32, max_length=32)] | None = None

    _upper_names = field_validator("family_name", "given_names", "nationality", mode="before")(_upper)

    @field_validator("photo_digest", mode="before")
    @classmethod
    def _digest_hex(cls, value: object) -> object:
        if isinstance(value, str):  # JSON carries the digest as hex
            try:
                return bytes.fromhex(value)
            except ValueError:
                raise ValueError("the photo digest must be 64 hexadecimal characters (SHA-256)") from None
        return value

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str) -> str:
        if value not in NATIONALITY_CODES:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-3 code (e.g. DEU, USA, GBR)")
        return value

    @field_validator("birth_date")
    @classmethod
    def _born_in_past(cls, value: dt.date) -> dt.date:
        if value >= dt.datetime.now(CHINA_TZ).date():
            raise ValueError("the date of birth must be in the past")
        return value


class Identifiers(_Model):
    social_security_number: Annotated[str, _pattern(r"[A-Z0-9]{6,24}",
                                                    "6 to 24 upper-case letters and digits, as assigned by the insurance agency")]
    work_permit_number: Annotated[str, _problem(work_permit_number_problem)]
    passport_number: Annotated[str, _pattern(r"[A-Z0-9]{5,20}", "5 to 20 upper-case letters and digits")] | None = None
    permanent_residence_id: Annotated[str, _problem(permanent_residence_id_problem)] | None = None

    _upper_ids = field_validator("social_security_number", "passport_number", "permanent_residence_id",
                                 mode="before")(_upper)


class Employer(_Model):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    uscc: Uscc

    _upper_uscc = field_validator("uscc", mode="before")(_upper)


class WorkPermit(_Model):
    category: PermitCategory
    employer: Employer
    position: Annotated[str, Field(min_length=1, max_length=64)]
    work_location: Annotated[str, _pattern(r"[1-8][0-9]{5}", "a 6-digit administrative division code (GB/T 2260), e.g. 310115")]
    valid_from: Date
    valid_until: Date
    status: PermitStatus = PermitStatus.VALID

    _category = field_validator("category", mode="before")(category_from_letter)
    _range = model_validator(mode="after")(validity_in_order)


def first_of_month(value: dt.date) -> dt.date:
    return value.replace(day=1)


Month = Annotated[Date, AfterValidator(first_of_month)]


class InsuranceEnrolment(_Model):
    type: InsuranceType
    status: InsuranceStatus
    since: Month | None = None
    paid_through: Month | None = None

    @model_validator(mode="after")
    def _consistent(self) -> InsuranceEnrolment:
        if self.status is InsuranceStatus.NOT_ENROLLED:
            if self.since or self.paid_through:
                raise ValueError(f"{self.type.name.lower()}: not enrolled, so 'since' and 'paid_through' must be empty")
        elif self.since is not None and self.paid_through is not None and self.paid_through < self.since:
            raise ValueError(f"{self.type.name.lower()}: paid_through is before since")
        return self


class Card(_Model):
    card_number: Annotated[str, _pattern(r"[A-Z0-9]{6,16}", "6 to 16 upper-case letters and digits")]
    serial: Annotated[int, Field(ge=0, lt=2**32)]
    kind: CardKind = CardKind.PHYSICAL
    sequence: Annotated[int, Field(ge=1, le=99)] = 1
    issue_date: Date | None = None
    expiry_date: Date
    issuing_centre: Annotated[str, _pattern(r"[A-Z0-9-]{1,16}", "1 to 16 upper-case letters, digits or '-'")]

    _upper_card = field_validator("card_number", "issuing_centre", mode="before")(_upper)

    @model_validator(mode="after")
    def _range(self) -> Card:
        if self.issue_date is not None and self.issue_date >= self.expiry_date:
            raise ValueError("issue_date must be before expiry_date")
        return self


class Credential(_Model):
    holder: Holder
    identifiers: Identifiers
    permit: WorkPermit
    insurance: tuple[InsuranceEnrolment, ...]
    card: Card

    @field_validator("insurance")
    @classmethod
    def _five(cls, value: tuple[InsuranceEnrolment, ...]) -> tuple[InsuranceEnrolment, ...]:
        types = sorted(e.type for e in value)
        if types != list(InsuranceType):
            raise ValueError("exactly one entry for each of the five insurances "
                             "(pension, medical, work_injury, unemployment, maternity) is required")
        return tuple(sorted(value, key=lambda e: e.type))

    def enrolment(self, kind: InsuranceType) -> InsuranceEnrolment:
        return self.insurance[kind - 1]


def field_errors(exc: ValidationError) -> list[dict]:
    """pydantic's errors as [{'field': 'holder.nationality', 'message': ...}]."""
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "(credential)"
        message = err["msg"].removeprefix("Value error, ")
        out.append({"field": field, "message": message})
    return out


def parse_credential(data: dict) -> Credential:
    """Validate `data` into a Credential; a SchemaError lists every bad field."""
    try:
        return Credential.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise SchemaError(Reason.SCHEMA_INVALID, f"the credential data is not valid: {summary}", errors) from None
