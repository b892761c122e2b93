"""The e-card (docs/spec.md §12.6, issue 7): activation codes, activation on a phone, the
e-card credential, revocation.

    officer: code for a delivered card ──> holder's phone: key pair, activate(code, key, proof)
    ──> issuer: e-card credential (own serial, card's number, kind electronic, the phone key)

- An **activation code** is one-time (used once, and a new code for the card closes the
  old one), expires (``ecard_code_minutes``), and is kept only as an HMAC-SHA256 under the
  service's token secret (a database dump reveals no code, and a code cannot be guessed
  offline). 12 characters of Crockford base32: 60 bits.
- **Throttling**: failed activations are counted per holder identifier and per client
  address in ``ecard_window_seconds``; after ``ecard_max_failures`` (×10 per address) the
  service answers 429 until the window has passed — a code cannot be guessed online either.
- **Proof of possession**: the phone signs the code's digest and its key
  (crypto.ecard.activation_to_be_signed); a key it does not hold is refused.
- **Revocation**: an e-card has its own serial, taken from the centre's card serials. It is
  listed in the trust list when it is revoked itself (the phone lost, a newer activation)
  *or* when its card is listed (revoked, superseded, suspended): the e-card follows the card
  through every lifecycle step without a step of its own (:func:`listed_serials`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from crypto import SscError, cose, parse_credential
from crypto.claims import end_of_day
from crypto.device_key import load_device_key
from crypto.ecard import BASE32, activation_to_be_signed, normalise_code, sign_ecard_credential
from issuer import audit
from issuer.db.ecard_models import Ecard, EcardActivation, EcardAttempt, EcardStatus
from issuer.db.models import Card, CardStatus, Person
from issuer.services import counters, publication
from issuer.services.errors import Conflict, Invalid, ServiceError
from issuer.services.issuance import credential_record
from issuer.services.registry import get_or_404
from issuer.services.runtime import Runtime

CODE_LENGTH = 12
_MAC_CONTEXT = b"sscard e-card activation code v1\x00"


class ActivationRefused(ServiceError):
    """The activation code is wrong, or not this holder's (the answer does not say which)."""

    status = 403


class ActivationExpired(ServiceError):
    """The activation code has expired: the holder needs a new one."""

    status = 410


class ActivationUsed(ServiceError):
    """The activation code was used already."""

    status = 409


class ActivationThrottled(ServiceError):
    """Too many failed activations for this holder or from this address."""

    status = 429

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed activations: try again in {retry_after} s")
        self.retry_after = retry_after


# The failures that count towards the throttle; the caller commits the attempt it recorded.
COUNTED = (ActivationRefused, ActivationExpired, ActivationUsed)


class ActivationIn(BaseModel):
    """What the holder's wallet sends: one identifier, the code, its public key and the proof."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    work_permit_number: Annotated[str, Field(pattern=r"^[0-9]{18}$")] | None = None
    social_security_number: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{6,24}$")] | None = None
    code: Annotated[str, Field(min_length=12, max_length=20)]
    device_key: Annotated[bytes, Field(min_length=33, max_length=33)]
    proof: Annotated[bytes, Field(min_length=64, max_length=64)]

    @field_validator("device_key", "proof", mode="before")
    @classmethod
    def _base64(cls, value: object) -> object:
        import base64
        import binascii

        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("base64 (RFC 4648) expected") from None
        return value

    @model_validator(mode="after")
    def _one_identifier(self) -> ActivationIn:
        if (self.work_permit_number is None) == (self.social_security_number is None):
            raise ValueError("give the work permit number or the social security number (one of them)")
        return self

    @property
    def identifier(self) -> str:
        if self.work_permit_number is not None:
            return f"wp:{self.work_permit_number}"
        return f"ssn:{self.social_security_number.upper()}"


def code_mac(key: bytes, code: str) -> bytes:
    return hmac.new(key, _MAC_CONTEXT + normalise_code(code).encode(), hashlib.sha256).digest()


def _new_code() -> str:
    raw = "".join(secrets.choice(BASE32) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def _at(rt: Runtime, offset: float = 0) -> dt.datetime:
    return dt.datetime.fromtimestamp(rt.now() + offset, dt.timezone.utc)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)  # SQLite drops the zone


# ---------------------------------------------------------------- the officer's side

def create_code(rt: Runtime, session: Session, actor: str, card_id: int) -> tuple[EcardActivation, str]:
    """A new activation code for a delivered card; earlier unused codes of the card close."""
    card = get_or_404(session, Card, card_id, lock=True)
    if card.status is not CardStatus.DELIVERED or card.serial is None:
        raise Conflict(f"card {card.id} is {card.status.value}: an e-card is activated for a card in use (delivered)")
    now = _at(rt)
    for old in session.execute(select(EcardActivation).where(EcardActivation.card_id == card.id,
                                                             EcardActivation.used_at.is_(None),
                                                             EcardActivation.expires_at > now)).scalars():
        old.expires_at = now
    code = _new_code()
    activation = EcardActivation(card_id=card.id, code_mac=code_mac(rt.settings.token_key, code), created_by=actor,
                                 created_at=now, expires_at=_at(rt, rt.settings.ecard_code_minutes * 60))
    session.add(activation)
    session.flush()
    audit.append(session, actor, "ecard.code", "card", card.id, {"activation": activation.id,
                                                                 "expires_at": activation.expires_at.isoformat()})
    return activation, code


def revoke(rt: Runtime, session: Session, actor: str, ecard_id: int, reason: str) -> Ecard:
    ecard = get_or_404(session, Ecard, ecard_id, lock=True)
    if ecard.status is EcardStatus.REVOKED:
        raise Conflict(f"e-card {ecard.id} is revoked already")
    ecard.status, ecard.status_reason = EcardStatus.REVOKED, reason
    session.flush()
    publication.publish(rt, session, actor)
    audit.append(session, actor, "ecard.revoke", "ecard", ecard.id, {"serial": ecard.serial, "reason": reason})
    return ecard


def for_card(session: Session, card_id: int) -> list[Ecard]:
    get_or_404(session, Card, card_id)
    return list(session.execute(select(Ecard).where(Ecard.card_id == card_id).order_by(Ecard.id)).scalars())


def effective_status(ecard: Ecard) -> str:
    """What a terminal sees: revoked itself, or following its card."""
    if ecard.status is EcardStatus.REVOKED:
        return "revoked"
    if ecard.card.status in publication.LISTED:
        return f"revoked with its card ({ecard.card.status.value})"
    return "active"


def listed_serials(session: Session, issuer_code: str, not_before: int) -> list[int]:
    """The e-card serials the trust list carries: revoked e-cards and the e-cards of listed
    cards, while their credentials have not expired (`not_before`: epoch seconds)."""
    rows = session.execute(select(Ecard.serial).join(Card, Ecard.card_id == Card.id).where(
        Ecard.issuer_code == issuer_code, Ecard.exp >= not_before,
        or_(Ecard.status == EcardStatus.REVOKED, Card.status.in_(publication.LISTED)))).scalars()
    return list(rows)


# ---------------------------------------------------------------- the holder's side

def _throttle(rt: Runtime, session: Session, identifier: str, client: str) -> None:
    s = rt.settings
    since = _at(rt, -s.ecard_window_seconds)
    for column, value, limit in ((EcardAttempt.identifier, identifier, s.ecard_max_failures),
                                 (EcardAttempt.client, client, s.ecard_max_failures * 10)):
        count, first = session.execute(select(func.count(), func.min(EcardAttempt.at)).where(
            column == value, EcardAttempt.success.is_(False), EcardAttempt.at >= since)).one()
        if count >= limit:
            retry = _aware(first) + dt.timedelta(seconds=s.ecard_window_seconds) - _at(rt)
            raise ActivationThrottled(max(1, int(retry.total_seconds()) + 1))


def _attempt(rt: Runtime, session: Session, data: ActivationIn, client: str, success: bool) -> None:
    session.add(EcardAttempt(identifier=data.identifier[:64], client=client[:64], success=success, at=_at(rt)))
    session.flush()


def _find(rt: Runtime, session: Session, data: ActivationIn) -> tuple[EcardActivation, Card]:
    """The activation the code opens, for this holder; raises one of COUNTED otherwise."""
    activation = session.execute(select(EcardActivation).where(
        EcardActivation.code_mac == code_mac(rt.settings.token_key, data.code)).with_for_update()).scalar_one_or_none()
    card = session.get(Card, activation.card_id) if activation is not None else None
    person = session.get(Person, card.person_id) if card is not None else None
    if person is None or (person.work_permit_number if data.work_permit_number else
                          person.social_security_number) != (data.work_permit_number or
                                                             data.social_security_number.upper()):
        raise ActivationRefused("the activation code is not valid for this holder")
    if activation.used_at is not None:
        raise ActivationUsed("this activation code was used already: ask the issuing centre for a new one")
    if _aware(activation.expires_at) <= _at(rt):
        raise ActivationExpired("this activation code has expired: ask the issuing centre for a new one")
    return activation, card


def activate(rt: Runtime, session: Session, data: ActivationIn, client: str) -> Ecard:
    """Bind the holder's phone key to an e-card of the code's card and sign its credential.

    On a refused code the attempt is recorded and one of :data:`COUNTED` raised: the caller
    commits (the attempt must count) and answers with its status. Any other failure leaves
    nothing behind."""
    _throttle(rt, session, data.identifier, client)
    try:
        activation, card = _find(rt, session, data)
    except COUNTED:
        _attempt(rt, session, data, client, False)
        raise
    try:
        load_device_key(data.device_key)
    except SscError as exc:
        raise Invalid(f"the device key is not usable: {exc.message}",
                      [{"field": "device_key", "message": exc.message}]) from None
    proof = activation_to_be_signed(data.code, data.device_key)
    if not cose.verify_signature(cose.Algorithm.ES256, load_device_key(data.device_key), proof, data.proof):
        raise Invalid("the proof does not verify with the device key: the phone must sign with the key it registers",
                      [{"field": "proof", "message": "ES256 signature over crypto.ecard.activation_to_be_signed"}])
    if card.status is not CardStatus.DELIVERED:
        raise Conflict(f"card {card.id} is {card.status.value}: an e-card is activated for a card in use")
    replaced = []
    for old in session.execute(select(Ecard).where(Ecard.card_id == card.id, Ecard.status == EcardStatus.ACTIVE)
                               .with_for_update()).scalars():
        old.status, old.status_reason = EcardStatus.REVOKED, "replaced: activated on another phone"
        replaced.append(old.id)
    ecard = _sign(rt, session, card, data.device_key)
    activation.used_at, activation.ecard_id = _at(rt), ecard.id
    _attempt(rt, session, data, client, True)
    if replaced:
        publication.publish(rt, session, "holder")  # the old phone's e-card stops verifying now
    audit.append(session, "holder", "ecard.activate", "ecard", ecard.id,
                 {"card": card.id, "serial": ecard.serial, "activation": activation.id, "replaces": replaced,
                  "device_key_sha256": hashlib.sha256(data.device_key).hexdigest()[:16]})
    return ecard


def _sign(rt: Runtime, session: Session, card: Card, device_key: bytes) -> Ecard:
    person = session.get(Person, card.person_id)
    serial = counters.next_serial(session, card.issuer_code)  # locked until commit, as a card's
    record = credential_record(person, person.permit, person.insurance, card)
    record["card"].update(serial=serial, kind=2)
    try:
        credential = parse_credential(record)
    except SscError as exc:
        raise Invalid(f"the card data is not valid: {exc.message}", getattr(exc, "errors", [])) from None
    iat = rt.now()
    exp = end_of_day(card.expiry_date)
    if rt.settings.ecard_validity_days:
        exp = min(exp, iat + rt.settings.ecard_validity_days * 86_400)
    keys = rt.keys
    cose_bytes = sign_ecard_credential(credential, keys.issuer, device_key=device_key, iat=iat, exp=exp)
    rt.after_signing()
    ecard = Ecard(card_id=card.id, issuer_code=card.issuer_code, serial=serial, device_key=device_key,
                  status=EcardStatus.ACTIVE, kid=keys.issuer.kid, iat=iat, exp=exp, credential=cose_bytes)
    session.add(ecard)
    session.flush()
    return ecard
