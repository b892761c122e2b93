"""ssc-issuer ecard code | list | revoke: the officer's side of the e-card (docs/spec.md
§12.6), against the service's database, as the officer (``--user``) - the same roles and
audit as the API. The holder activates with ``ssc-card wallet activate``."""

from __future__ import annotations

import argparse
import hashlib

from issuer.cli import lifecycle
from issuer.db.models import Role
from issuer.services import ecard as service
from issuer.settings import Settings

E, A = Role.ENROLLER, Role.APPROVER

HELP = """\
The electronic card on the holder's phone:
  ssc-issuer ecard code CARD_ID --user erin      a one-time activation code for a delivered card
  ssc-card wallet activate --work-permit N --code CODE --issuer URL    (the holder, on the phone)
  ssc-issuer ecard list CARD_ID --user erin      the card's e-cards and their status
  ssc-issuer ecard revoke ECARD_ID --reason lost --user erin      phone lost: revoke the e-card only
Replacing or cancelling the card revokes its e-cards with it.
"""


def _ecard_view(e) -> dict:
    return {"id": e.id, "card_id": e.card_id, "card_number": e.card.card_number, "serial": e.serial,
            "status": service.effective_status(e), "status_reason": e.status_reason,
            "device_key_sha256": hashlib.sha256(e.device_key).hexdigest()[:16], "iat": e.iat, "exp": e.exp}


def _code(rt, session, actor, args) -> dict:
    activation, code = service.create_code(rt, session, actor, args.card_id)
    return {"card_id": args.card_id, "code": code, "expires_at": activation.expires_at.isoformat(),
            "valid_minutes": rt.settings.ecard_code_minutes}


COMMANDS = {
    "code": ((E,), "make a one-time activation code for a delivered card (printed once)",
             [("card_id", {"type": int})], _code),
    "list": ((E, A, Role.AUDITOR), "list a card's e-cards", [("card_id", {"type": int})],
             lambda rt, s, actor, a: [_ecard_view(e) for e in service.for_card(s, a.card_id)]),
    "revoke": ((E,), "revoke an e-card (the phone is lost): the card stays valid",
               [("ecard_id", {"type": int}), ("--reason", {"required": True})],
               lambda rt, s, actor, a: _ecard_view(service.revoke(rt, s, actor, a.ecard_id, a.reason))),
}


def add_parsers(sub: argparse._SubParsersAction, settings: Settings) -> None:
    parser = sub.add_parser("ecard", help="the e-card: activation codes, list, revoke", description=HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="ecard_command", required=True, metavar="ACTION")
    for name, (roles, help_text, arguments, work) in COMMANDS.items():
        p = actions.add_parser(name, help=f"{help_text} [{'/'.join(r.value for r in roles)}]")
        for flag, options in arguments:
            p.add_argument(flag, **options)
        p.add_argument("--user", help="the officer acting (password: SSC_ISSUER_PASSWORD or a prompt)")
        p.set_defaults(func=lifecycle.run, roles=roles, work=work)
