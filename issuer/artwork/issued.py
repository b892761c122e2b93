"""The artwork of a card issued through the service, by its id: the same record the issuance
stations get (issuer.services.station.package: the card's rows and the holder's photo), its
signed QR text, rendered to the card's front and back (PNG, PDF) and the QR code as a PNG.
Nothing is printed: `ssc-issuer station run --printer` prints.

The record is checked against the signed QR before anything is drawn
(issuer.artwork.card.check_qr_matches): a card whose data changed since it was signed
(a later modification) is refused, not drawn with data it does not carry.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from crypto import SscError, parse_credential
from crypto.qrtext import encode_qr_text
from issuer import qr_image
from issuer.artwork.card import render_card
from issuer.artwork.errors import ArtworkError
from issuer.db.models import Card, Person
from issuer.services.errors import Conflict
from issuer.services.issuance import credential_record
from issuer.services.registry import get_or_404


def render_issued_card(session: Session, card_id: int, out: Path) -> dict:
    """Write the card's files into `out`; what was written, for the command's JSON answer."""
    card = get_or_404(session, Card, card_id)
    if card.qr_cose is None:
        raise Conflict(f"card {card_id} ({card.card_number}) was imported from the previous system: "
                       "it has no credential of ours to draw")
    person = session.get(Person, card.person_id)
    record = credential_record(person, person.permit, person.insurance, card)
    qr_text = encode_qr_text(card.qr_cose)
    out = Path(out)
    qr_png = out / f"{card.card_number}.qr.png"
    version = qr_image.write_png(qr_text, qr_png)
    files = [qr_png]
    if card.kind == 1:  # a physical card; an electronic one has only its QR code
        try:
            art = render_card(parse_credential(record), qr_text, person.photo_jpeg)
        except (ArtworkError, SscError) as exc:
            raise Conflict(f"card {card_id} ({card.card_number}): {getattr(exc, 'message', exc)}") from None
        files[:0] = art.write(out)
    return {"card": card.id, "card_number": card.card_number, "status": card.status.value, "qr_version": version,
            "files": [str(f) for f in files]}
