"""The e-card (docs/spec.md §12.6): an officer makes a one-time activation code for a
delivered card; the holder's wallet activates with it (public, throttled) and receives the
e-card credential bound to its phone key; an officer lists and revokes e-cards."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from issuer.api.deps import READERS, Mutation, RuntimeDep, SessionDep, mutation, require
from issuer.auth import Principal
from issuer.api.schemas import Problem
from issuer.db.ecard_models import Ecard
from issuer.db.models import Card, Role
from issuer.services import ecard as service
from issuer.services.inputs import ReasonIn

router = APIRouter(tags=["e-card"], responses={404: {"model": Problem}, 409: {"model": Problem}})
Enroller = Annotated[Mutation, Depends(mutation(Role.ENROLLER))]


class EcardOut(BaseModel):
    id: int
    card_id: int
    card_number: str
    issuer_code: str
    serial: int
    status: str                 # active, revoked, or revoked with its card (...)
    status_reason: str | None
    device_key_sha256: str      # the phone key's fingerprint (first 16 hex digits of SHA-256)
    iat: int
    exp: int

    @classmethod
    def of(cls, e: Ecard) -> EcardOut:
        return cls(id=e.id, card_id=e.card_id, card_number=e.card.card_number, issuer_code=e.issuer_code,
                   serial=e.serial, status=service.effective_status(e), status_reason=e.status_reason,
                   device_key_sha256=hashlib.sha256(e.device_key).hexdigest()[:16], iat=e.iat, exp=e.exp)


class ActivationCodeOut(BaseModel):
    card_id: int
    card_number: str
    code: str                   # shown once: only its HMAC is stored
    expires_at: dt.datetime


class ActivatedOut(BaseModel):
    ecard: EcardOut
    credential: str             # the e-card credential, COSE_Sign1, base64


@router.post("/api/cards/{card_id}/ecard-code", status_code=201, response_model=ActivationCodeOut)
def activation_code(card_id: int, session: SessionDep, rt: RuntimeDep,
                    principal: Annotated[Principal, Depends(require(Role.ENROLLER))]):
    """A one-time activation code for the card's e-card, to hand to the holder (shown once).

    Deliberately not idempotent (no Idempotency-Key): a stored answer would keep the code in
    clear. A retry makes a new code, which closes the previous one."""
    try:
        activation, code = service.create_code(rt, session, principal.actor, card_id)
        out = ActivationCodeOut(card_id=card_id, card_number=session.get(Card, card_id).card_number, code=code,
                                expires_at=activation.expires_at)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return out


@router.get("/api/cards/{card_id}/ecards", response_model=list[EcardOut],
            dependencies=[Depends(require(*READERS))])
def ecards_of_card(card_id: int, session: SessionDep):
    return [EcardOut.of(e) for e in service.for_card(session, card_id)]


@router.post("/api/ecards/{ecard_id}/revoke", response_model=EcardOut)
def revoke(ecard_id: int, body: ReasonIn, tx: Enroller):
    """The phone is lost or stolen: the e-card (not the card) is revoked; a new trust list is published."""
    return tx.run(lambda: EcardOut.of(service.revoke(tx.rt, tx.session, tx.actor, ecard_id, body.reason)))


@router.post("/api/ecard/activate", status_code=201, response_model=ActivatedOut,
             responses={403: {"model": Problem}, 410: {"model": Problem}, 422: {"model": Problem},
                        429: {"model": Problem}})
def activate(body: service.ActivationIn, request: Request, session: SessionDep, rt: RuntimeDep):
    """The holder's wallet activates its e-card: identifier, activation code, the phone's
    public key (33-byte compressed P-256, base64) and the proof that it holds the key.
    Public: the code is the credential. Throttled per holder and per client address."""
    client = request.client.host if request.client else "unknown"
    try:
        ecard = service.activate(rt, session, body, client)
        out = ActivatedOut(ecard=EcardOut.of(ecard), credential=base64.b64encode(ecard.credential).decode())
        session.commit()
    except service.ActivationThrottled as exc:
        session.rollback()
        return JSONResponse({"detail": exc.message, "errors": []}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})
    except service.COUNTED:
        session.commit()  # the failed attempt counts towards the throttle
        raise
    except BaseException:
        session.rollback()
        raise
    return out
