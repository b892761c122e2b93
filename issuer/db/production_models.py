"""The production side of the issuer's database: the issuance stations' job queue and batch
imports (issue 5). Imported by :mod:`issuer.db` so that ``Base.metadata`` always holds them.

- :class:`StationJob`: one per physical card to personalise, made when the card is issued.
  A station claims the oldest free job under a lease (the station's name, a random token,
  an expiry); the token fences a station that lost its lease. ``chip_id`` names the chip the security
  object was signed for: from then on only that chip (the card in that station's hands)
  can finish the job, until the chip is reported spoiled.
- :class:`Batch` and :class:`BatchItem`: a file imported as a whole (all rows or none), and
  which line of it became which application.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db.models import Base, Timestamp, _enum, utcnow


class JobState(enum.StrEnum):
    QUEUED = "queued"    # waiting for a station (also: released after a failure)
    CLAIMED = "claimed"  # a station holds the lease; free again when it expires
    DONE = "done"        # the chip is locked, read back, and the card is personalised


class StationJob(Base):
    """Personalising one physical card at an issuance station."""

    __tablename__ = "station_jobs"
    __table_args__ = (Index("ix_station_jobs_state_id", "state", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), unique=True)
    state: Mapped[JobState] = mapped_column(_enum(JobState), default=JobState.QUEUED)
    station: Mapped[str | None] = mapped_column(String(80))  # who holds (or last held) the lease: its actor name
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_expires: Mapped[int | None] = mapped_column(BigInteger)  # epoch seconds (the runtime's clock)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    chip_id: Mapped[str | None] = mapped_column(String(16), unique=True)  # firmware_tools.card_io.chip_id
    atr: Mapped[str | None] = mapped_column(String(100))  # hex, as the station's reader read it
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class Batch(Base):
    """A file of applications imported in one transaction (docs/operations.md, Batch issuance)."""

    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))          # the file's name, for people
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # the same file is imported once
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class BatchItem(Base):
    """Line `line` of batch `batch_id` became application `application_id`."""

    __tablename__ = "batch_items"
    __table_args__ = (Index("ix_batch_items_batch_application", "batch_id", "application_id"),)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
