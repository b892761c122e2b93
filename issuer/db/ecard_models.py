"""The e-card's tables (docs/spec.md §12.6, issue 7). Imported by :mod:`issuer.db` so that
``Base.metadata`` always holds them.

- :class:`Ecard`: one per activation of a card on a phone: the phone's public key, the
  e-card credential signed for it, and its own serial from the centre's card serials (so
  that losing the phone revokes the e-card, not the card). Its revocation data is the
  union of its own status and its card's: when the card is revoked, superseded or
  suspended, the e-card is listed too (issuer.services.ecard.listed_serials).
- :class:`EcardActivation`: a one-time activation code an officer handed to the holder:
  only its HMAC is kept (the key is the service's token secret), with its expiry and use.
- :class:`EcardAttempt`: every activation attempt, by holder identifier and client
  address, for throttling (as officer logins are throttled).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Boolean, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db.models import Base, Card, Timestamp, _enum, utcnow


class EcardStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"  # the phone was lost, replaced by a new activation, or the officer revoked it


class Ecard(Base):
    """An e-card credential bound to one phone key."""

    __tablename__ = "ecards"
    __table_args__ = (UniqueConstraint("issuer_code", "serial"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    issuer_code: Mapped[str] = mapped_column(String(16))
    serial: Mapped[int] = mapped_column(BigInteger)            # from the centre's card serials: the revocation key
    device_key: Mapped[bytes] = mapped_column(LargeBinary(33))  # SEC1 compressed P-256 point
    status: Mapped[EcardStatus] = mapped_column(_enum(EcardStatus), default=EcardStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(String(100))
    kid: Mapped[bytes] = mapped_column(LargeBinary(8))
    iat: Mapped[int] = mapped_column(BigInteger)
    exp: Mapped[int] = mapped_column(BigInteger)
    credential: Mapped[bytes] = mapped_column(LargeBinary)    # the COSE_Sign1 the wallet holds
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    card: Mapped[Card] = relationship()


class EcardActivation(Base):
    """A one-time activation code for a card's e-card (its HMAC only)."""

    __tablename__ = "ecard_activations"
    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    code_mac: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    used_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    ecard_id: Mapped[int | None] = mapped_column(ForeignKey("ecards.id"))


class EcardAttempt(Base):
    """One activation attempt (throttling: failures per holder and per client address)."""

    __tablename__ = "ecard_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)
