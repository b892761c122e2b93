"""Cards: the station's steps (personalisation files, security object, personalised, printed,
delivered) and the officer's lifecycle operations (renew, modify, replace, suspend, resume,
cancel)."""

from typing import Annotated

from fastapi import APIRouter, Depends

from issuer.api.deps import READERS, Mutation, SessionDep, mutation, require
from issuer.api.schemas import ApplicationOut, CardOut, PersonalisationOut, Problem, ReplaceOut, b64
from issuer.db.models import Card, Role
from issuer.services import applications, issuance, lifecycle
from issuer.services.inputs import ModifyIn, ReasonIn, RenewIn, ReplaceIn, SecurityObjectIn
from issuer.services.registry import get_or_404

router = APIRouter(prefix="/api/cards", tags=["cards"],
                   responses={401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem},
                              409: {"model": Problem}})
Enroller = Annotated[Mutation, Depends(mutation(Role.ENROLLER))]
Station = Annotated[Mutation, Depends(mutation(Role.STATION))]


@router.get("/{card_id}", response_model=CardOut, dependencies=[Depends(require(*READERS, Role.STATION))])
def get_card(card_id: int, session: SessionDep):
    return CardOut.of(get_or_404(session, Card, card_id))


@router.get("/{card_id}/personalisation", response_model=PersonalisationOut,
            dependencies=[Depends(require(Role.STATION))])
def personalisation(card_id: int, session: SessionDep):
    """The files a station writes to the chip (TLV-wrapped, base64), the chip-profile
    credential, and EF.SO once signed; the QR text to print is in `card.qr_text`."""
    card = get_or_404(session, Card, card_id)
    return PersonalisationOut(card=CardOut.of(card),
                              files={name: b64(data) for name, data in issuance.personalisation_files(card).items()},
                              chip_cose=b64(card.chip_cose), security_object=b64(card.security_object))


@router.post("/{card_id}/security-object", response_model=PersonalisationOut, responses={422: {"model": Problem}})
def security_object(card_id: int, body: SecurityObjectIn, tx: Station):
    """Sign the security object once the card has made its key: send EF.DG5 as the card wrote it."""
    def work():
        card = issuance.sign_security_object(tx.rt, tx.session, tx.actor, card_id, body.dg5)
        return PersonalisationOut(card=CardOut.of(card), files={n: b64(d) for n, d in
                                                                issuance.personalisation_files(card).items()},
                                  chip_cose=b64(card.chip_cose), security_object=b64(card.security_object))
    return tx.run(work)


@router.post("/{card_id}/personalised", response_model=CardOut)
def personalised(card_id: int, tx: Station):
    """The station wrote the chip (files, EF.SO) and locked it."""
    return tx.run(lambda: CardOut.of(lifecycle.advance(tx.session, tx.actor, card_id, "personalised")))


@router.post("/{card_id}/printed", response_model=CardOut)
def printed(card_id: int, tx: Station):
    """The card body is printed (artwork, photo, QR)."""
    return tx.run(lambda: CardOut.of(lifecycle.advance(tx.session, tx.actor, card_id, "printed")))


@router.post("/{card_id}/delivered", response_model=CardOut)
def delivered(card_id: int, tx: Station):
    """Handed over to the holder (an electronic card: provisioned to the app)."""
    return tx.run(lambda: CardOut.of(lifecycle.advance(tx.session, tx.actor, card_id, "delivered")))


@router.post("/{card_id}/renew", status_code=201, response_model=ApplicationOut, responses={422: {"model": Problem}})
def renew(card_id: int, body: RenewIn, tx: Enroller):
    """Apply to renew: a new validity; once approved and issued, the next card sequence."""
    return tx.run(lambda: ApplicationOut.of(applications.renew(tx.session, tx.actor, card_id, body)), 201)


@router.post("/{card_id}/modify", status_code=201, response_model=ApplicationOut, responses={422: {"model": Problem}})
def modify(card_id: int, body: ModifyIn, tx: Enroller):
    """Apply to change employer, position or work location; the issued card supersedes this one."""
    return tx.run(lambda: ApplicationOut.of(applications.modify(tx.session, tx.actor, card_id, body)), 201)


@router.post("/{card_id}/replace", status_code=201, response_model=ReplaceOut)
def replace(card_id: int, body: ReplaceIn, tx: Enroller):
    """Report the card lost, stolen or damaged: revoked now; a replacement is applied for."""
    def work():
        app = lifecycle.replace(tx.rt, tx.session, tx.actor, card_id, body)
        return ReplaceOut(revoked_card=CardOut.of(tx.session.get(Card, card_id)), application=ApplicationOut.of(app))
    return tx.run(work, 201)


@router.post("/{card_id}/suspend", response_model=CardOut)
def suspend(card_id: int, body: ReasonIn, tx: Enroller):
    return tx.run(lambda: CardOut.of(lifecycle.suspend(tx.rt, tx.session, tx.actor, card_id, body)))


@router.post("/{card_id}/resume", response_model=CardOut)
def resume(card_id: int, tx: Enroller):
    return tx.run(lambda: CardOut.of(lifecycle.resume(tx.rt, tx.session, tx.actor, card_id)))


@router.post("/{card_id}/cancel", response_model=CardOut)
def cancel(card_id: int, body: ReasonIn, tx: Enroller):
    """The work permit is cancelled: every card of the holder is revoked."""
    return tx.run(lambda: CardOut.of(lifecycle.cancel(tx.rt, tx.session, tx.actor, card_id, body)))
