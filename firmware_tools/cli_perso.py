"""``ssc-card personalise``, and the chip verdict of ``ssc-card dump --root --trust-list``.

Registered by :mod:`firmware_tools.cli` (same exit codes: 0 ok, 1 card error, 2 usage,
3 PC/SC unavailable).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware_tools.cli import EXIT_CARD, EXIT_OK, UsageError, _link
from firmware_tools.link import CardLink

DEV_PASSPHRASE = "sscard-development-only"
PASSPHRASE_ENV = "SSC_KEY_PASSPHRASE"
DEFAULT_TRANSPORT_PIN = "123456"  # what `ssc-card vcard new` and the reference card's blanks use

PERSONALISE_HELP = """\
Personalise a blank sscard card in a PC/SC reader (docs/pcsc.md, "Personalisation"):
START PERSONALISATION, the chip makes its key (EF.DG5), EF.CardInfo and EF.DG1-DG4 are
written from RECORD and PHOTO, the security object is signed with the issuer key in
--keys (a development PKI folder: crypto.pki.DevelopmentPki) and written, everything is
read back and compared, and ACTIVATE FILE locks the card.

The key passphrase comes from $SSC_KEY_PASSPHRASE (development default:
"sscard-development-only"). RECORD is a credential record as JSON (crypto.schema);
holder.photo_digest, when present, must be the SHA-256 of PHOTO; when absent it is
taken from PHOTO.

If it stops (card pulled, reader gone), the card is left personalising and is refused
by every terminal: put it back and run the same command with --restart.
"""


def add_commands(sub: Any, card_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("personalise", help="personalise a blank card from a record, a photo and the issuer key",
                       description=PERSONALISE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    card_options(p)
    p.add_argument("--record", metavar="RECORD.json", required=True, help="the credential record (JSON)")
    p.add_argument("--photo", metavar="PHOTO.jpg", required=True, help="the holder's photo, JPEG of at most 16 KiB")
    p.add_argument("--keys", metavar="DIR", required=True, help="development PKI folder with the issuer key")
    p.add_argument("--issuer", metavar="CODE", help="issuing centre code (default: the record's)")
    p.add_argument("--pin", default=DEFAULT_TRANSPORT_PIN,
                   help="the card's transport PIN, to read EF.DG4 back (default: %(default)s)")
    p.add_argument("--restart", action="store_true",
                   help="the card is personalising (an earlier run stopped): erase and write it again")
    p.add_argument("--new-chip-key", action="store_true", help="with --restart: make a new chip key")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def add_dump_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", metavar="ROOT.pem", help="with --trust-list: verify the card (passive and active "
                                                      "authentication) against this root")
    p.add_argument("--trust-list", metavar="FILE", help="a signed trust list (as published by the issuer)")


def _load_record(path: str, photo: bytes) -> Any:
    from crypto import SscError, parse_credential

    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the record {path}: {exc}") from None
    if not isinstance(record, dict):
        raise UsageError(f"{path} is not a JSON object")
    holder = record.get("holder")
    if isinstance(holder, dict) and not holder.get("photo_digest"):
        holder["photo_digest"] = hashlib.sha256(photo).hexdigest()
    try:
        return parse_credential(record)
    except SscError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}"
                           for e in getattr(exc, "errors", []))
        raise UsageError(f"the record is not valid: {exc.message}" + (f" ({detail})" if detail else "")) from None


def cmd_personalise(args: argparse.Namespace) -> int:
    from crypto import SscError
    from crypto.chip import build_security_object
    from crypto.claims import end_of_day
    from crypto.pki import DevelopmentPki
    from firmware_tools.personalise import CardContent, PersonalisationError, Step, personalise

    try:
        photo = Path(args.photo).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the photo {args.photo}: {exc.strerror}") from None
    credential = _load_record(args.record, photo)
    issuer_code = args.issuer or credential.card.issuing_centre
    passphrase = os.environ.get(PASSPHRASE_ENV, DEV_PASSPHRASE).encode()
    try:
        content = CardContent.from_credential(credential, photo)
        pki = DevelopmentPki.load(Path(args.keys), passphrase, issuer_code=issuer_code)
    except SscError as exc:
        raise UsageError(exc.message) from None
    except ValueError as exc:  # a file over its size
        raise UsageError(str(exc)) from None

    def sign(files: dict) -> bytes:
        card = credential.card
        return build_security_object(card_number=card.card_number, serial=card.serial, issuer_code=issuer_code,
                                     iat=int(time.time()), exp=end_of_day(card.expiry_date), files=files,
                                     signer=pki.issuer)

    steps = list(Step)

    def progress(step: Step, ef: Any) -> None:
        if not args.json:
            what = step.value + (f" {ef.name}" if ef is not None else "")
            print(f"[{steps.index(step) + 1:2}/{len(steps)}] {what}", flush=True)

    with _link(args) as link:
        try:
            result = personalise(link, content, sign, pin=args.pin, allow_restart=args.restart,
                                 new_chip_key=args.new_chip_key, on_step=progress)
        except PersonalisationError as exc:
            print(f"ssc-card: personalisation stopped at {exc}", file=sys.stderr)
            print(f"  {_advice(exc)}", file=sys.stderr)
            return EXIT_CARD
    if args.json:
        print(json.dumps({"card_number": credential.card.card_number, **result.to_dict()}, indent=2))
    else:
        t = result.traffic
        print(f"card {credential.card.card_number} issued and locked; chip id {result.chip_id}")
        print(f"ATR {result.atr.hex(' ').upper()}")
        print(f"{t.apdus} APDUs, {t.bytes_sent} bytes sent, {t.bytes_received} received, "
              f"{result.seconds:.2f} s" + (" (restarted)" if result.restarted else ""))
    return EXIT_OK


def _advice(exc: Exception) -> str:
    from firmware_tools.card.profile import Lifecycle
    from firmware_tools.personalise import CardNotBlankError, PersonalisationLinkError, Step

    if isinstance(exc, CardNotBlankError):
        if exc.lifecycle is Lifecycle.PERSONALISING:
            return "an earlier personalisation stopped: run again with --restart"
        return "use a blank card"
    if isinstance(exc, PersonalisationLinkError) and exc.step is Step.ACTIVATE:
        return "the card may be locked already: check it with `ssc-card dump`; if it is personalising, --restart"
    return "the card is not issued and no terminal accepts it: put it back and run again with --restart"


def chip_verdict(args: argparse.Namespace, link: CardLink, pin: str | None) -> Any:
    """For ``dump --root R --trust-list T``: read_card with every group the PIN allows
    (a ChipReadResult), or None without those options."""
    from crypto import SscError, TrustStore
    from crypto.chip import Group
    from crypto.keys import load_certificate
    from firmware_tools.reader import read_card

    if not (args.root and args.trust_list):
        if args.root or args.trust_list:
            raise UsageError("--root and --trust-list go together")
        return None
    try:
        store = TrustStore(load_certificate(Path(args.root)))
        store.update(Path(args.trust_list).read_bytes())
    except SscError as exc:
        raise UsageError(f"cannot use the trust list: {exc.message}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {args.trust_list}: {exc.strerror}") from None
    groups = [g for g in Group if g is not Group.CHIP_KEY and (pin or g is not Group.INSURANCE)]
    return read_card(link, groups, store, int(time.time()), pin)


def verdict_lines(result: Any) -> list[str]:
    if result.verdict is None:
        return [f"chip verdict: none ({result.message})"]
    lines = [f"chip verdict: {result.verdict.outcome.value} (chip id {result.chip_id or 'unknown'})"]
    for check in result.verdict.checks:
        reason = f" {check.reason.value}" if check.reason else ""
        message = f": {check.message}" if check.message else ""
        lines.append(f"  {check.check.value:<20}{check.status.value}{reason}{message}")
    return lines


COMMANDS = {"personalise": cmd_personalise}
