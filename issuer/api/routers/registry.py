"""Employers, persons, photos and insurance enrolment."""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import Response

from issuer.api.deps import READERS, Mutation, SessionDep, mutation, require
from issuer.api.schemas import EmployerOut, PersonOut, Problem
from issuer.db.models import Person, Role
from issuer.services import registry
from issuer.services.errors import NotFound, PhotoTooLarge
from issuer.services.inputs import EmployerIn, InsuranceIn, PersonIn

router = APIRouter(prefix="/api", tags=["registry"], responses={401: {"model": Problem}, 403: {"model": Problem}})
Enroller = Annotated[Mutation, Depends(mutation(Role.ENROLLER))]


@router.post("/employers", status_code=201, response_model=EmployerOut, responses={409: {"model": Problem}})
def create_employer(body: EmployerIn, tx: Enroller):
    """Register an employer (unified social credit code, name, address)."""
    return tx.run(lambda: EmployerOut.of(registry.create_employer(tx.session, tx.actor, body)), 201)


@router.get("/employers", response_model=list[EmployerOut], dependencies=[Depends(require(*READERS))])
def list_employers(session: SessionDep, offset: Annotated[int, Query(ge=0)] = 0,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100):
    return [EmployerOut.of(e) for e in registry.list_employers(session, offset=offset, limit=limit)]


@router.post("/persons", status_code=201, response_model=PersonOut, responses={409: {"model": Problem}})
def create_person(body: PersonIn, tx: Enroller):
    """Register an applicant from the work-permit application."""
    return tx.run(lambda: PersonOut.of(registry.create_person(tx.session, tx.actor, body)), 201)


@router.get("/persons/{person_id}", response_model=PersonOut, dependencies=[Depends(require(*READERS))])
def get_person(person_id: int, session: SessionDep):
    return PersonOut.of(registry.get_or_404(session, Person, person_id))


@router.put("/persons/{person_id}/photo", response_model=PersonOut,
            responses={413: {"model": Problem}, 415: {"model": Problem}, 422: {"model": Problem}})
def upload_photo(person_id: int, photo: Annotated[UploadFile, File(description="JPEG or PNG")], tx: Enroller):
    """Upload the holder's photo; it is checked and re-encoded into the chip's JPEG."""
    limit = tx.rt.settings.photo_max_upload_bytes
    data = photo.file.read(limit + 1)
    if len(data) > limit:
        raise PhotoTooLarge(f"the photo is larger than {limit} bytes")
    return tx.run(lambda: PersonOut.of(registry.set_photo(tx.session, tx.actor, tx.rt.settings, person_id, data)))


@router.get("/persons/{person_id}/photo", response_class=Response,
            dependencies=[Depends(require(Role.ENROLLER, Role.APPROVER, Role.STATION))],
            responses={200: {"content": {"image/jpeg": {}}}})
def get_photo(person_id: int, session: SessionDep):
    person = registry.get_or_404(session, Person, person_id)
    if person.photo_jpeg is None:
        raise NotFound("this person has no photo yet")
    return Response(person.photo_jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.put("/persons/{person_id}/insurance", response_model=PersonOut)
def set_insurance(person_id: int, body: InsuranceIn, tx: Enroller):
    """Record the five insurances: status, since, paid through."""
    return tx.run(lambda: PersonOut.of(registry.set_insurance(tx.session, tx.actor, person_id, body)))
