"""Applications: enter, check the documents, approve (four eyes), issue."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from issuer.api.deps import READERS, Mutation, SessionDep, mutation, require
from issuer.api.schemas import ApplicationOut, CardOut, Problem
from issuer.db.models import Application, ApplicationStatus, DocumentType, Role
from issuer.services import applications, issuance
from issuer.services.inputs import ApplicationIn, DecisionIn, DocumentIn
from issuer.services.registry import get_or_404

router = APIRouter(prefix="/api/applications", tags=["applications"],
                   responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem},
                              409: {"model": Problem}})
Enroller = Annotated[Mutation, Depends(mutation(Role.ENROLLER))]
Approver = Annotated[Mutation, Depends(mutation(Role.APPROVER))]


@router.post("", status_code=201, response_model=ApplicationOut)
def apply(body: ApplicationIn, tx: Enroller):
    """Enter a first application for a registered person (the permit applied for, the documents seen)."""
    return tx.run(lambda: ApplicationOut.of(applications.apply(tx.session, tx.actor, body)), 201)


@router.get("", response_model=list[ApplicationOut], dependencies=[Depends(require(*READERS))])
def list_applications(session: SessionDep, status: ApplicationStatus | None = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100):
    from sqlalchemy import select

    stmt = select(Application).order_by(Application.id).limit(limit)
    if status is not None:
        stmt = stmt.where(Application.status == status)
    return [ApplicationOut.of(a) for a in session.execute(stmt).scalars()]


@router.get("/{application_id}", response_model=ApplicationOut, dependencies=[Depends(require(*READERS))])
def get_application(application_id: int, session: SessionDep):
    return ApplicationOut.of(get_or_404(session, Application, application_id))


@router.put("/{application_id}/documents/{document}", response_model=ApplicationOut)
def set_document(application_id: int, document: DocumentType, body: DocumentIn, tx: Enroller):
    """Tick a supporting document on the checklist (provided, verified) or mark it missing."""
    return tx.run(lambda: ApplicationOut.of(applications.set_document(tx.session, tx.actor, application_id,
                                                                      document, body)))


@router.post("/{application_id}/approve", response_model=ApplicationOut)
def approve(application_id: int, tx: Approver, body: DecisionIn | None = None):
    """Approve: refused to the officer who entered it, and while a required document is missing."""
    return tx.run(lambda: ApplicationOut.of(applications.approve(tx.session, tx.actor, application_id,
                                                                 body or DecisionIn())))


@router.post("/{application_id}/reject", response_model=ApplicationOut)
def reject(application_id: int, tx: Approver, body: DecisionIn | None = None):
    return tx.run(lambda: ApplicationOut.of(applications.reject(tx.session, tx.actor, application_id,
                                                                body or DecisionIn())))


@router.post("/{application_id}/issue", status_code=201, response_model=CardOut,
             responses={422: {"model": Problem}})
def issue(application_id: int, tx: Annotated[Mutation, Depends(mutation(Role.ENROLLER, Role.APPROVER))]):
    """Issue the card of an approved application: sign the QR credential, the chip profile and
    its data groups (the security object follows once the chip has made its key)."""
    return tx.run(lambda: CardOut.of(issuance.issue(tx.rt, tx.session, tx.actor, application_id)), 201)
