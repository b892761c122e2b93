"""The issuance stations' queue (issuer.services.station): claim a job, have its security
object signed, report it done, release it, report a chip spoiled. Station role; the lease
token from the claim goes with every later call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from issuer.api.deps import READERS, Mutation, SessionDep, mutation, require
from issuer.api.schemas import CardOut, Problem, b64
from issuer.db.models import CardStatus, Role
from issuer.db.production_models import JobState, StationJob
from issuer.services import inputs, station

router = APIRouter(prefix="/api/station", tags=["issuance station"],
                   responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem},
                              409: {"model": Problem}})
Station = Annotated[Mutation, Depends(mutation(Role.STATION))]

ChipId = Annotated[str, Field(pattern=r"^[0-9A-F]{16}$", description="firmware_tools.card_io.chip_id of EF.DG5")]
Lease = Annotated[str, Field(min_length=8, max_length=64, description="the lease token of the claim")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClaimIn(_In):
    chip_id: ChipId | None = Field(None, description="the card in the reader already has this chip key")
    locked: bool = Field(False, description="the card in the reader is issued (locked) already")


class SecurityObjectIn(inputs.SecurityObjectIn):
    lease: Lease


class CompleteIn(_In):
    lease: Lease
    chip_id: ChipId
    atr: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{4,66}$", description="the card's ATR, hex")]


class ReleaseIn(_In):
    lease: Lease
    error: Annotated[str, Field(min_length=1, max_length=300)]


class SpoilIn(_In):
    lease: Lease | None = Field(None, description="the lease, when the card is at hand (claimed by its chip id)")
    chip_id: ChipId | None = Field(None, description="the chip, when it is at hand (else: lost or broken)")
    terminated: bool = Field(False, description="the station sent TERMINATE CARD USAGE to it")
    reason: Annotated[str, Field(min_length=1, max_length=100)]


class JobOut(BaseModel):
    id: int
    state: JobState
    card_id: int
    station: str | None
    attempts: int
    chip_id: str | None
    atr: str | None
    last_error: str | None
    lease_expires: int | None
    card_status: CardStatus | None = None  # a job whose card is no longer issued is not handed out

    @classmethod
    def of(cls, j: StationJob, card_status: CardStatus | None = None) -> JobOut:
        return cls(id=j.id, state=j.state, card_id=j.card_id, station=j.station, attempts=j.attempts,
                   chip_id=j.chip_id, atr=j.atr, last_error=j.last_error, lease_expires=j.lease_expires,
                   card_status=card_status)


class ClaimedJobOut(JobOut):
    """A claimed job and everything the station needs for it."""

    lease: str | None
    resumed: bool
    card: CardOut
    files: dict[str, str]          # EF name -> file bytes (base64), EF.SO once signed
    record: dict                   # the crypto.schema record of the card (for the artwork)
    photo: str | None              # the holder's photo, JPEG (base64)


class ClaimOut(BaseModel):
    job: ClaimedJobOut | None


def _claimed(session, job: StationJob, resumed: bool) -> ClaimedJobOut:
    p = station.package(session, job)
    return ClaimedJobOut(**JobOut.of(job).model_dump(), lease=job.lease_token, resumed=resumed,
                         card=CardOut.of(p["card"]), files={n: b64(d) for n, d in p["files"].items()},
                         record=p["record"], photo=b64(p["photo"]))


@router.post("/jobs/claim", response_model=ClaimOut)
def claim(body: ClaimIn, tx: Station):
    """The next job (oldest first; `job` is null when the queue is empty), or the job of the
    chip in the reader (`chip_id`)."""
    def work():
        job, resumed = station.claim(tx.rt, tx.session, tx.actor, chip_id=body.chip_id, locked=body.locked)
        return ClaimOut(job=None if job is None else _claimed(tx.session, job, resumed))
    return tx.run(work)


@router.get("/jobs", response_model=list[JobOut], dependencies=[Depends(require(Role.STATION, *READERS))])
def jobs(session: SessionDep, state: JobState | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    return [JobOut.of(job, status) for job, status in station.list_jobs(session, state, limit=limit)]


@router.post("/jobs/{job_id}/security-object", response_model=ClaimedJobOut, responses={422: {"model": Problem}})
def security_object(job_id: int, body: SecurityObjectIn, tx: Station):
    """Sign EF.SO for the chip that made EF.DG5 (binds the chip to the job)."""
    def work():
        station.sign_security_object(tx.rt, tx.session, tx.actor, job_id, body.lease, body.dg5)
        job = tx.session.get(StationJob, job_id)
        return _claimed(tx.session, job, False)
    return tx.run(work)


@router.post("/jobs/{job_id}/complete", response_model=JobOut)
def complete(job_id: int, body: CompleteIn, tx: Station):
    """The chip is written, read back and locked: the card becomes personalised."""
    return tx.run(lambda: JobOut.of(station.complete(tx.rt, tx.session, tx.actor, job_id, body.lease,
                                                     chip_id=body.chip_id, atr=body.atr.lower())))


@router.post("/jobs/{job_id}/release", response_model=JobOut)
def release(job_id: int, body: ReleaseIn, tx: Station):
    """The station stopped: the job is free again (with the reason kept)."""
    return tx.run(lambda: JobOut.of(station.release(tx.rt, tx.session, tx.actor, job_id, body.lease, body.error)))


@router.post("/jobs/{job_id}/spoil", response_model=JobOut)
def spoil(job_id: int, body: SpoilIn, tx: Station):
    """The job's chip is spoiled: unbind it so that a new blank can take the job."""
    return tx.run(lambda: JobOut.of(station.spoil(tx.rt, tx.session, tx.actor, job_id, body.lease,
                                                  chip_id=body.chip_id, reason=body.reason,
                                                  terminated=body.terminated)))
