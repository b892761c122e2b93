"""The issuer's database: SQLAlchemy 2 typed models (the schema is built by the Alembic
migrations in ``issuer/migrations``; a test checks that the two agree).

What is stored: the application data an enrolment officer entered, the photo, and the
signed artefacts of every card (QR credential, chip claims, data groups, security object).
Never a private key: keys live in an HSM or in encrypted files next to the service.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, LargeBinary, String, Text,
                        UniqueConstraint)
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


def _enum(cls: type[enum.Enum]) -> SqlEnum:
    # Stored as the value text with a CHECK constraint: portable across SQLite and PostgreSQL,
    # and a new member needs only a migration of the constraint.
    return SqlEnum(cls, native_enum=False, values_callable=lambda e: [m.value for m in e], length=24,
                   validate_strings=True)


Timestamp = DateTime(timezone=True)


class Role(enum.StrEnum):
    ENROLLER = "enroller"
    APPROVER = "approver"
    STATION = "station"
    TERMINAL = "terminal"
    AUDITOR = "auditor"
    ADMIN = "admin"


class ApplicationKind(enum.StrEnum):
    NEW = "new"
    RENEW = "renew"
    MODIFY = "modify"
    REPLACE = "replace"


class ApplicationStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    ISSUED = "issued"


class DocumentType(enum.StrEnum):
    PAST_EMPLOYMENT = "past_employment"
    EDUCATION = "education"
    CRIMINAL_RECORD = "criminal_record"
    MEDICAL_EXAMINATION = "medical_examination"
    CONTRACT = "contract"
    PASSPORT = "passport"
    PHOTO = "photo"


class DocumentStatus(enum.StrEnum):
    MISSING = "missing"
    PROVIDED = "provided"
    VERIFIED = "verified"


class CardStatus(enum.StrEnum):
    ISSUED = "issued"              # signed, not yet on a chip or printed
    PERSONALISED = "personalised"  # chip written and security object signed
    PRINTED = "printed"
    DELIVERED = "delivered"        # in the holder's hands: in use
    SUSPENDED = "suspended"
    SUPERSEDED = "superseded"      # renewed or modified: a newer card replaces it
    REVOKED = "revoked"            # lost, stolen, or the permit cancelled
    LEGACY = "legacy"              # imported from the previous system, valid until renewed or modified


class User(Base):
    """An officer who logs in with a password (argon2 hash) and holds one or more roles."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(100))  # space-separated Role values
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class _ApiKeyHolder:
    """A machine that authenticates with an API key; only the key's SHA-256 is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class Station(_ApiKeyHolder, Base):
    """An issuance station."""

    __tablename__ = "stations"


class Terminal(_ApiKeyHolder, Base):
    """A verification terminal that forwards its event log."""

    __tablename__ = "terminals"


class TerminalEvent(Base):
    """One verification a terminal reported: the outcome, reason codes and only the fields
    its site policy let it log (docs/operations.md, "Event log")."""

    __tablename__ = "terminal_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id"))
    site: Mapped[str] = mapped_column(String(64))
    at: Mapped[int] = mapped_column(BigInteger)
    input: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(Text)  # JSON array of reason codes
    fields: Mapped[str] = mapped_column(Text)   # JSON object of the policy-allowed fields
    received_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)


class Employer(Base):
    __tablename__ = "employers"
    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class Person(Base):
    """A foreign worker, from the work-permit application."""

    __tablename__ = "persons"
    id: Mapped[int] = mapped_column(primary_key=True)
    family_name: Mapped[str] = mapped_column(String(64))
    given_names: Mapped[str] = mapped_column(String(64), default="")
    chinese_name: Mapped[str | None] = mapped_column(String(32))
    nationality: Mapped[str] = mapped_column(String(3))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[int] = mapped_column(Integer)
    social_security_number: Mapped[str] = mapped_column(String(24), unique=True)
    work_permit_number: Mapped[str] = mapped_column(String(18), unique=True)
    passport_number: Mapped[str | None] = mapped_column(String(20))
    permanent_residence_id: Mapped[str | None] = mapped_column(String(18))
    photo_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    photo_sha256: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)

    permit: Mapped[WorkPermit | None] = relationship(back_populates="person", uselist=False)
    insurance: Mapped[list[InsuranceEnrolment]] = relationship(order_by="InsuranceEnrolment.type")


class WorkPermit(Base):
    """The person's work permit as it stands (one per person for life; changed by modify/renew)."""

    __tablename__ = "work_permits"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    category: Mapped[int] = mapped_column(Integer)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employers.id"))
    position: Mapped[str] = mapped_column(String(64))
    work_location: Mapped[str] = mapped_column(String(6))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[int] = mapped_column(Integer, default=1)  # crypto.schema.PermitStatus
    legacy: Mapped[bool] = mapped_column(Boolean, default=False)

    person: Mapped[Person] = relationship(back_populates="permit")
    employer: Mapped[Employer] = relationship()


class InsuranceEnrolment(Base):
    __tablename__ = "insurance_enrolments"
    __table_args__ = (UniqueConstraint("person_id", "type"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    type: Mapped[int] = mapped_column(Integer)    # crypto.schema.InsuranceType
    status: Mapped[int] = mapped_column(Integer)  # crypto.schema.InsuranceStatus
    since: Mapped[dt.date | None] = mapped_column(Date)
    paid_through: Mapped[dt.date | None] = mapped_column(Date)


class Application(Base):
    """A request an enrolment officer entered and another officer must approve."""

    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[ApplicationKind] = mapped_column(_enum(ApplicationKind))
    status: Mapped[ApplicationStatus] = mapped_column(_enum(ApplicationStatus), default=ApplicationStatus.SUBMITTED)
    card_kind: Mapped[int] = mapped_column(Integer, default=1)  # crypto.schema.CardKind
    request: Mapped[str] = mapped_column(Text, default="{}")     # JSON: the permit and insurance asked for
    previous_card_id: Mapped[int | None] = mapped_column(Integer)  # the card renewed, modified or replaced
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    decision_note: Mapped[str | None] = mapped_column(String(200))

    documents: Mapped[list[SupportingDocument]] = relationship(order_by="SupportingDocument.type",
                                                               cascade="all, delete-orphan")


class SupportingDocument(Base):
    __tablename__ = "supporting_documents"
    __table_args__ = (UniqueConstraint("application_id", "type"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    type: Mapped[DocumentType] = mapped_column(_enum(DocumentType))
    required: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[DocumentStatus] = mapped_column(_enum(DocumentStatus), default=DocumentStatus.MISSING)
    reference: Mapped[str | None] = mapped_column(String(100))
    updated_by: Mapped[str | None] = mapped_column(String(80))


class Card(Base):
    """One card and its signed artefacts. The serial is the revocation key (spec §6.2)."""

    __tablename__ = "cards"
    __table_args__ = (UniqueConstraint("issuer_code", "serial"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), unique=True)
    issuer_code: Mapped[str] = mapped_column(String(16))
    serial: Mapped[int | None] = mapped_column(BigInteger)  # None for a legacy card
    card_number: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[int] = mapped_column(Integer)  # crypto.schema.CardKind
    sequence: Mapped[int] = mapped_column(Integer)
    status: Mapped[CardStatus] = mapped_column(_enum(CardStatus))
    status_reason: Mapped[str | None] = mapped_column(String(100))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    expiry_date: Mapped[dt.date] = mapped_column(Date)
    kid: Mapped[bytes | None] = mapped_column(LargeBinary(8))
    iat: Mapped[int | None] = mapped_column(BigInteger)
    qr_cose: Mapped[bytes | None] = mapped_column(LargeBinary)
    chip_cose: Mapped[bytes | None] = mapped_column(LargeBinary)
    chip_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # DG5 file bytes, from the card
    security_object: Mapped[bytes | None] = mapped_column(LargeBinary)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    files: Mapped[list[CardFile]] = relationship(order_by="CardFile.so_key", cascade="all, delete-orphan")


class CardFile(Base):
    """A data group's file bytes (TLV-wrapped CBOR) as the station writes it to the chip."""

    __tablename__ = "card_files"
    __table_args__ = (UniqueConstraint("card_id", "so_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    so_key: Mapped[int] = mapped_column(Integer)  # crypto.chip.Group
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Counter(Base):
    """Per-issuer sequences (card serials, trust-list versions), advanced inside the
    transaction that uses the value: a rollback gives the number back, so serials stay dense."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class PublishedTrustList(Base):
    __tablename__ = "trust_lists"
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    next_update: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    revoked_count: Mapped[int] = mapped_column(Integer)


class PublishedDelta(Base):
    """The signed revocation delta (docs/spec.md §11.4) from a published trust-list version
    to the next one, published with it when the issuer certificates did not change."""

    __tablename__ = "trust_list_deltas"
    base_version: Mapped[int] = mapped_column(BigInteger, ForeignKey("trust_lists.version"), primary_key=True,
                                              autoincrement=False)
    new_version: Mapped[int] = mapped_column(BigInteger, ForeignKey("trust_lists.version"), unique=True)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    added: Mapped[int] = mapped_column(Integer)
    removed: Mapped[int] = mapped_column(Integer)


class IdempotencyRecord(Base):
    """The answer to a mutating request, replayed when the same Idempotency-Key comes again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)


class AuditEvent(Base):
    """One row of the append-only, hash-chained audit log (see issuer.audit)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))  # ISO 8601 UTC, as hashed
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, no PII beyond ids
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last sequence number and hash: locked by every append, so appends are
    serialised, and it lets `audit verify` notice rows deleted from the end."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
