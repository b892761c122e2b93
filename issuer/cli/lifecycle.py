"""ssc-issuer employer-add, person-add, photo, insurance, apply, document, approve, reject, issue,
security-object, personalised, printed, delivered, renew, modify, replace, suspend, resume,
cancel, import-legacy, card: every lifecycle step against the database, as its officer.

The officer logs in like on the API (``--user NAME``, password from SSC_ISSUER_PASSWORD or a
prompt; throttled), or a station uses its key (SSC_ISSUER_API_KEY); roles and four eyes are
the same. The answer is printed as JSON, as the API gives it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from fastapi.encoders import jsonable_encoder
from pydantic import ValidationError

from firmware_tools.console import ask_secret
from issuer import auth
from issuer.api import schemas as out
from issuer.db.models import Card, Role
from issuer.services import applications, issuance, legacy, lifecycle, registry
from issuer.services import inputs as i
from issuer.services.runtime import Runtime
from issuer.settings import Settings

EXIT_REFUSED, EXIT_AUTH = 1, 3
E, A, S = Role.ENROLLER, Role.APPROVER, Role.STATION


def _json_file(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read {path}: {exc}") from None


def _principal(session, args: argparse.Namespace, settings: Settings) -> auth.Principal:
    key = os.environ.get("SSC_ISSUER_API_KEY")
    if args.user is None and key:
        return auth.principal_from_api_key(session, key)
    if args.user is None:
        raise auth.AuthError("name the officer with --user (or set SSC_ISSUER_API_KEY for a station)")
    password = ask_secret(f"password for {args.user}: ", "SSC_ISSUER_PASSWORD")
    try:
        user = auth.authenticate_password(session, args.user, password, "cli",
                                          max_failures=settings.login_max_failures,
                                          window=settings.login_window_seconds)
    finally:
        session.commit()  # the attempt counts towards the throttle either way
    return auth.Principal("user", user.id, user.username, auth.parse_roles(user.roles))


def run(args: argparse.Namespace, settings: Settings) -> int:
    roles, work = args.roles, args.work
    rt = Runtime(settings)
    try:
        with rt.db.session() as session:
            try:
                principal = _principal(session, args, settings)
            except auth.AuthError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_AUTH
            if not principal.has(*roles):
                print(f"error: this needs the role {' or '.join(r.value for r in roles)}", file=sys.stderr)
                return EXIT_AUTH
            try:
                result = jsonable_encoder(work(rt, session, principal.actor, args))
            except ValidationError as exc:
                session.rollback()
                for err in exc.errors(include_url=False):
                    print(f"error: {'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
                return EXIT_REFUSED
            session.commit()
    finally:
        rt.close()
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def _card(args) -> int:
    return args.card_id


Work = Callable[..., object]
COMMANDS: dict[str, tuple[tuple[Role, ...], str, list[tuple], Work]] = {
    "employer-add": ((E,), "register an employer", [("--uscc", {"required": True}), ("--name", {"required": True}),
                                                    ("--address", {"default": ""})],
                     lambda rt, s, actor, a: out.EmployerOut.of(registry.create_employer(
                         s, actor, i.EmployerIn(uscc=a.uscc, name=a.name, address=a.address)))),
    "person-add": ((E,), "register a person from a JSON file {holder, identifiers}", [("file", {})],
                   lambda rt, s, actor, a: out.PersonOut.of(registry.create_person(
                       s, actor, i.PersonIn.model_validate(_json_file(a.file))))),
    "photo": ((E,), "upload a person's photo (JPEG or PNG)", [("person_id", {"type": int}), ("file", {})],
              lambda rt, s, actor, a: out.PersonOut.of(registry.set_photo(
                  s, actor, rt.settings, a.person_id, Path(a.file).read_bytes()))),
    "insurance": ((E,), "set a person's five insurances from a JSON file {enrolments: [...]}",
                  [("person_id", {"type": int}), ("file", {})],
                  lambda rt, s, actor, a: out.PersonOut.of(registry.set_insurance(
                      s, actor, a.person_id, i.InsuranceIn.model_validate(_json_file(a.file))))),
    "apply": ((E,), "enter an application from a JSON file {person_id, card_kind, permit, documents}",
              [("file", {})],
              lambda rt, s, actor, a: out.ApplicationOut.of(applications.apply(
                  s, actor, i.ApplicationIn.model_validate(_json_file(a.file))))),
    "document": ((E,), "set a supporting document's status on an application",
                 [("application_id", {"type": int}), ("type", {"choices": [d.value for d in i.DocumentType]}),
                  ("status", {"choices": [d.value for d in i.DocumentStatus]}), ("--reference", {})],
                 lambda rt, s, actor, a: out.ApplicationOut.of(applications.set_document(
                     s, actor, a.application_id, i.DocumentType(a.type),
                     i.DocumentIn(status=a.status, reference=a.reference)))),
    "approve": ((A,), "approve an application (not your own: four eyes)",
                [("application_id", {"type": int}), ("--note", {})],
                lambda rt, s, actor, a: out.ApplicationOut.of(applications.approve(
                    s, actor, a.application_id, i.DecisionIn(note=a.note)))),
    "reject": ((A,), "reject an application", [("application_id", {"type": int}), ("--note", {})],
               lambda rt, s, actor, a: out.ApplicationOut.of(applications.reject(
                   s, actor, a.application_id, i.DecisionIn(note=a.note)))),
    "issue": ((E, A), "issue the card of an approved application (signs QR, chip profile, data groups)",
              [("application_id", {"type": int})],
              lambda rt, s, actor, a: out.CardOut.of(issuance.issue(rt, s, actor, a.application_id))),
    "security-object": ((S,), "sign a card's security object, given EF.DG5 as the card wrote it",
                        [("card_id", {"type": int}), ("dg5_file", {"help": "file with EF.DG5's bytes"})],
                        lambda rt, s, actor, a: {"security_object": base64.b64encode(issuance.sign_security_object(
                            rt, s, actor, a.card_id, Path(a.dg5_file).read_bytes()).security_object).decode()}),
    "personalised": ((S,), "report a card's chip written", [("card_id", {"type": int})],
                     lambda rt, s, actor, a: out.CardOut.of(lifecycle.advance(s, actor, a.card_id, "personalised"))),
    "printed": ((S,), "report a card printed", [("card_id", {"type": int})],
                lambda rt, s, actor, a: out.CardOut.of(lifecycle.advance(s, actor, a.card_id, "printed"))),
    "delivered": ((S,), "report a card handed over", [("card_id", {"type": int})],
                  lambda rt, s, actor, a: out.CardOut.of(lifecycle.advance(s, actor, a.card_id, "delivered"))),
    "renew": ((E,), "apply to renew a card's permit", [("card_id", {"type": int}), ("--valid-until", {"required": True}),
                                                        ("--valid-from", {})],
              lambda rt, s, actor, a: out.ApplicationOut.of(applications.renew(
                  s, actor, a.card_id, i.RenewIn(valid_until=a.valid_until, valid_from=a.valid_from)))),
    "modify": ((E,), "apply to change employer, position or work location",
               [("card_id", {"type": int}), ("--employer-uscc", {}), ("--position", {}), ("--work-location", {})],
               lambda rt, s, actor, a: out.ApplicationOut.of(applications.modify(s, actor, a.card_id, i.ModifyIn(
                   employer_uscc=a.employer_uscc, position=a.position, work_location=a.work_location)))),
    "replace": ((E,), "report a card lost/stolen/damaged: revoke it, apply for a replacement",
                [("card_id", {"type": int}), ("--reason", {"required": True, "choices": ["lost", "stolen", "damaged"]})],
                lambda rt, s, actor, a: out.ApplicationOut.of(lifecycle.replace(
                    rt, s, actor, a.card_id, i.ReplaceIn(reason=a.reason)))),
    "suspend": ((E,), "suspend a delivered card", [("card_id", {"type": int}), ("--reason", {"required": True})],
                lambda rt, s, actor, a: out.CardOut.of(lifecycle.suspend(rt, s, actor, a.card_id,
                                                                         i.ReasonIn(reason=a.reason)))),
    "resume": ((E,), "resume a suspended card", [("card_id", {"type": int})],
               lambda rt, s, actor, a: out.CardOut.of(lifecycle.resume(rt, s, actor, a.card_id))),
    "cancel": ((E,), "cancel the holder's permit: every card of theirs is revoked",
               [("card_id", {"type": int}), ("--reason", {"required": True})],
               lambda rt, s, actor, a: out.CardOut.of(lifecycle.cancel(rt, s, actor, a.card_id,
                                                                       i.ReasonIn(reason=a.reason)))),
    "import-legacy": ((E,), "import permit records of the previous system from a JSON file {records: [...]}",
                      [("file", {})],
                      lambda rt, s, actor, a: legacy.import_records(
                          s, actor, rt.settings.issuer_code, i.LegacyImportIn.model_validate(_json_file(a.file)))),
    "card": ((E, A, Role.AUDITOR, S), "show a card", [("card_id", {"type": int})],
             lambda rt, s, actor, a: out.CardOut.of(registry.get_or_404(s, Card, a.card_id))),
    "card-artwork": ((E, A, S), "render an issued card by its id: front and back (PNG, PDF) and its QR code "
                     "(PNG), from the database", [("card_id", {"type": int}),
                                                  ("--out", {"required": True, "type": Path,
                                                             "help": "folder for CARD-front.png, CARD-back.png, "
                                                                     "CARD.pdf and CARD.qr.png"})],
                     lambda rt, s, actor, a: _artwork(s, a)),
}


def _artwork(session, args) -> dict:
    from issuer.artwork.issued import render_issued_card  # Pillow, reportlab and the fonts: only when asked

    return render_issued_card(session, args.card_id, args.out)


def add_parsers(sub: argparse._SubParsersAction, settings: Settings) -> None:
    for name, (roles, help_text, arguments, work) in COMMANDS.items():
        p = sub.add_parser(name, help=f"{help_text} [{'/'.join(r.value for r in roles)}]")
        for flag, options in arguments:
            p.add_argument(flag, **options)
        p.add_argument("--user", help="the officer acting (password: SSC_ISSUER_PASSWORD or a prompt); "
                       "a station may use SSC_ISSUER_API_KEY instead")
        p.set_defaults(func=run, roles=roles, work=work)
