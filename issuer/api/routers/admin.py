"""Administration and audit: officers, stations, keys, trust-list publication, the audit log."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from issuer import audit
from issuer.api.deps import Mutation, RuntimeDep, SessionDep, mutation, require
from issuer.api.schemas import (AuditEventOut, AuditVerifyOut, IssuerKeyOut, Problem, StationOut, TrustListOut,
                                UserOut)
from issuer.db.models import AuditEvent, Role
from issuer.services import legacy, publication, users
from issuer.services.inputs import LegacyImportIn, StationIn, UserIn

router = APIRouter(prefix="/api", tags=["administration"],
                   responses={401: {"model": Problem}, 403: {"model": Problem}, 409: {"model": Problem}})
Admin = Annotated[Mutation, Depends(mutation(Role.ADMIN))]


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(body: UserIn, tx: Admin):
    """Create an officer with roles (enroller, approver, station, auditor, admin)."""
    return tx.run(lambda: UserOut.of(users.create_user(tx.session, tx.actor, body)), 201)


@router.get("/users", response_model=list[UserOut], dependencies=[Depends(require(Role.ADMIN))])
def list_users(session: SessionDep):
    return [UserOut.of(u) for u in users.list_users(session)]


@router.post("/users/{username}/disable", response_model=UserOut)
def disable_user(username: str, tx: Admin):
    """Disable an account: its tokens stop working at once."""
    return tx.run(lambda: UserOut.of(users.set_active(tx.session, tx.actor, username, False)))


@router.post("/stations", status_code=201, response_model=StationOut)
def create_station(body: StationIn, tx: Admin):
    """Register an issuance station; the answer holds its API key, shown this once."""
    def work():
        station, key = users.create_station(tx.session, tx.actor, body)
        return StationOut(id=station.id, name=station.name, api_key=key)
    return tx.run(work, 201)


@router.get("/keys", response_model=list[IssuerKeyOut], dependencies=[Depends(require(Role.ADMIN, Role.AUDITOR))])
def list_keys(rt: RuntimeDep):
    """The centre's issuer signing certificates, current first (never a private key)."""
    current = rt.keys.issuer.kid
    return [IssuerKeyOut(kid=c.kid.hex(), issuer_code=c.issuer_code, algorithm=c.algorithm.name,
                         current=c.kid == current, signs_from=c.usage_not_before, signs_until=c.usage_not_after,
                         valid_until=c.not_after) for c in rt.keys.describe()]


@router.post("/trust-list/publish", status_code=201, response_model=TrustListOut)
def publish(tx: Admin):
    """Sign and publish a new trust list version now (revocations publish one by themselves)."""
    def work():
        record = publication.publish(tx.rt, tx.session, tx.actor)
        return TrustListOut(version=record.version, issued_at=record.issued_at, next_update=record.next_update,
                            sha256=record.sha256, revoked_count=record.revoked_count,
                            url=f"/trust-list/{record.version}")
    return tx.run(work, 201)


@router.post("/legacy/import", status_code=201)
def import_legacy(body: LegacyImportIn, tx: Annotated[Mutation, Depends(mutation(Role.ENROLLER))]) -> dict:
    """Import permit records of the previous system; they stay valid until renewed or modified."""
    return tx.run(lambda: legacy.import_records(tx.session, tx.actor, tx.rt.settings.issuer_code, body), 201)


@router.get("/audit", response_model=list[AuditEventOut], dependencies=[Depends(require(Role.AUDITOR))])
def audit_log(session: SessionDep, after: Annotated[int, Query(ge=0)] = 0,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    rows = session.execute(select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(limit))
    return [AuditEventOut(seq=r.seq, at=r.at, actor=r.actor, action=r.action, object_type=r.object_type,
                          object_id=r.object_id, details=r.details, hash=r.hash) for r in rows.scalars()]


@router.get("/audit/verify", response_model=AuditVerifyOut, dependencies=[Depends(require(Role.AUDITOR))])
def audit_verify(session: SessionDep):
    """Walk the hash chain: reports edited, reordered or deleted rows."""
    report = audit.verify(session)
    return AuditVerifyOut(ok=report.ok, rows=report.rows, problems=report.problems)
