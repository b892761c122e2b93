"""``ssc-card``: the chip side at a station - readers, APDUs, card dumps, the virtual card.

Exit codes (for scripts): 0 ok; 1 card error (no card, an unexpected status word, a script
mismatch, an unreadable card image); 2 usage; 3 PC/SC unavailable (pcscd not running).
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import logging
import re
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from firmware_tools.console import quiet_on_broken_pipe
from firmware_tools.iso7816.sw import StatusWord
from firmware_tools.link import LinkError, PcscUnavailableError
from firmware_tools.pcsc import PcscLink, list_readers

EXIT_OK, EXIT_CARD, EXIT_USAGE, EXIT_PCSC = 0, 1, 2, 3

DESCRIPTION = """\
Talk to smart cards through PC/SC (pcscd), and run the reference card as a virtual card
in the vpcd reader ("Virtual PCD 00 00" / "Virtual PCD 00 01").

Typical station checks:
  ssc-card readers                          which readers pcscd sees, and their cards
  ssc-card dump                             read and decode every readable file of a card
  ssc-card personalise --record R.json --photo P.jpg --keys DIR   personalise a blank card
  ssc-card apdu "00 A4 04 0C 08 F0 53 53 43 41 52 44 01"
  ssc-card script checks.apdu               run an APDU script, stop at the first mismatch
Without a physical card:
  ssc-card vcard new --image card.cbor      make a blank card image
  ssc-card vcard run --image card.cbor      put it into the virtual reader (Ctrl-C removes it)
"""
EPILOG = "exit codes: 0 ok, 1 card error or mismatch, 2 usage, 3 PC/SC unavailable"


class UsageError(Exception):
    """The command line or an input file is wrong (exit 2)."""


class CardError(Exception):
    """The card answered something other than what was expected (exit 1)."""


def parse_hex(text: str) -> bytes:
    """Bytes from hex written together or with spaces, colons or dashes between bytes."""
    cleaned = re.sub(r"[\s:\-]", "", text)
    if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})*", cleaned):
        raise UsageError(f"not hexadecimal bytes: {text!r}")
    return bytes.fromhex(cleaned)


def describe(response: bytes) -> str:
    """'<data hex> | 9000 OK: normal processing'."""
    status = StatusWord.decode(response[-2:])
    data = response[:-2].hex(" ").upper()
    return f"{data + ' | ' if data else ''}{status}"


def _link(args: argparse.Namespace) -> PcscLink:
    # Exclusive: a command sequence (a script, a dump, a personalisation) must not be
    # interleaved with another PC/SC client's APDUs, which would change the selected file.
    link = PcscLink(args.reader, exclusive=True)
    if args.wait and not link.wait_for_card(args.wait):
        raise LinkError(f"no card within {args.wait:g} s")
    link.connect()
    return link


# -- readers / apdu / script -----------------------------------------------------------------

def cmd_readers(args: argparse.Namespace) -> int:
    names = list_readers()
    if not names:
        print("no PC/SC reader found (is the reader plugged in, or the vpcd driver installed?)")
        return EXIT_CARD
    for name in names:
        link = PcscLink(name)
        try:
            link.connect()
            print(f"{name}: card present, ATR {link.atr.hex(' ').upper()}")
        except LinkError as exc:
            print(f"{name}: no card ({type(exc).__name__})")
        finally:
            link.disconnect()
    return EXIT_OK


def cmd_apdu(args: argparse.Namespace) -> int:
    commands = [parse_hex(text) for text in args.apdu]
    for text, command in zip(args.apdu, commands):
        if len(command) < 4:
            raise UsageError(f"{text!r} is shorter than an APDU header (4 bytes); "
                             "quote an APDU typed with spaces")
    worst = EXIT_OK
    with _link(args) as link:
        for command in commands:
            response = link.transmit(command)
            print(f"> {command.hex(' ').upper()}")
            print(f"< {describe(response)}")
            if response[-2:] != b"\x90\x00":
                worst = EXIT_CARD
    return worst


SCRIPT_HELP = """\
Run the APDUs of FILE in order and check their status words. One APDU per line, in hex
(bytes together or separated by spaces), optionally followed by the expected status
word as the last word: four hex digits, X for any digit. "reset" resets the card.
"#" starts a comment. The run stops at the first mismatch (exit 1). Example:

  # is the sscard application there, and is the card issued?
  00 A4 04 0C 08 F0 53 53 43 41 52 44 01   9000
  00 CA 00 8A 00                           9000
  00 B0 00 00 00                           6XXX
"""
SW_PATTERN = re.compile(r"[0-9A-Fa-f][0-9A-Fa-fXx]{3}")  # 9000, 61XX, 63CX, 6XXX


def parse_script(text: str) -> list[tuple[int, str, bytes | None, str | None]]:
    """(line number, "reset" or "", APDU, expected SW pattern) per step; see SCRIPT_HELP."""
    steps = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.lower() == "reset":
            steps.append((number, "reset", None, None))
            continue
        words = line.split()
        expected = None
        if len(words) > 1 and len(words[-1]) == 4 and SW_PATTERN.fullmatch(words[-1]):
            expected = words.pop().upper()
        try:
            command = parse_hex(" ".join(words))
        except UsageError as exc:
            raise UsageError(f"line {number}: {exc}") from None
        if len(command) < 4:
            raise UsageError(f"line {number}: an APDU has at least 4 bytes")
        steps.append((number, "", command, expected))
    return steps


def sw_matches(sw: bytes, pattern: str) -> bool:
    actual = sw.hex().upper()
    return all(p in "X" or p == a for p, a in zip(pattern.upper(), actual))


def cmd_script(args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    steps = parse_script(text)
    failures = 0
    with _link(args) as link:
        for number, keyword, command, expected in steps:
            if keyword == "reset":
                print(f"[{number}] reset: ATR {link.reset().hex(' ').upper()}")
                continue
            response = link.transmit(command)
            print(f"[{number}] > {command.hex(' ').upper()}")
            print(f"[{number}] < {describe(response)}")
            if expected is not None and not sw_matches(response[-2:], expected):
                failures += 1
                print(f"[{number}] MISMATCH: expected SW {expected}, got {response[-2:].hex().upper()}")
                if not args.keep_going:
                    break
    print(f"{len(steps)} step(s), {failures} mismatch(es)")
    return EXIT_CARD if failures else EXIT_OK


# -- dump ------------------------------------------------------------------------------------

def read_ef(link: PcscLink, ef: Any) -> bytes:
    """An EF's bytes: SELECT by file id, then READ BINARY until the end of the file (6282)."""
    from firmware_tools.card import apdus

    response = link.transmit(apdus.select_file(ef).encode())
    if response[-2:] != b"\x90\x00":
        raise CardError(f"SELECT {ef.name}: {StatusWord.decode(response[-2:])}")
    block = 65535 - 2 if link.extended_length else 256  # a vpcd frame is at most 65535 bytes
    data = b""
    while len(data) < ef.max_size:
        response = link.transmit(apdus.read_binary(len(data), min(block, ef.max_size)).encode())
        sw, chunk = response[-2:], response[:-2]
        data += chunk
        if sw == b"\x62\x82" or (sw == b"\x90\x00" and not chunk):
            break
        if sw == b"\x6b\x00" and data:
            break
        if sw != b"\x90\x00":
            raise CardError(f"READ BINARY {ef.name} at {len(data)}: {StatusWord.decode(sw)}")
    return data


def plain(value: Any) -> Any:
    """A JSON-friendly view of decoded CBOR: bytes as hex (long ones by length and digest)."""
    import cbor2

    if isinstance(value, bytes):
        if len(value) > 64:
            return {"bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()}
        return value.hex()
    if isinstance(value, cbor2.CBORTag):
        return {"tag": value.tag, "value": plain(value.value)}
    if isinstance(value, Mapping):  # cbor2 decodes maps inside tags as FrozenDict
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def decode_ef(ef: Any, raw: bytes) -> Any:
    """The file's CBOR, with field names and ISO dates when it has the shape of
    docs/spec.md §10 (firmware_tools.chip_view), else as generic CBOR."""
    from crypto import cbor
    from firmware_tools.chip_view import readable

    payload = ef.unwrap(raw)
    view = readable(ef, payload)
    return plain(view if view is not None else cbor.loads(payload, max_size=ef.max_size, what=ef.name))


def dump_card(link: PcscLink, pin: str | None) -> dict[str, Any]:
    """Select the application, verify ``pin`` if given, read and decode every file it
    may read (docs/card.md); per file: content, or why it was skipped or failed."""
    from firmware_tools.card import apdus, profile

    def expect_ok(command: Any, what: str) -> bytes:
        response = link.transmit(command.encode())
        if response[-2:] != b"\x90\x00":
            raise CardError(f"{what}: {StatusWord.decode(response[-2:])}")
        return response[:-2]

    report: dict[str, Any] = {"reader": link.reader, "atr": link.atr.hex()}
    expect_ok(apdus.select_application(), f"not an sscard card: SELECT {profile.AID.hex()}")
    lifecycle = expect_ok(apdus.get_lifecycle(), "GET DATA (life cycle)")
    report["lifecycle"] = profile.Lifecycle(lifecycle[-1]).name if lifecycle else None
    if pin:
        expect_ok(apdus.verify(pin), "VERIFY")
    report["files"] = files = {}
    for ef in profile.FILES:
        entry: dict[str, Any] = {"fid": f"{ef.fid:04X}", "sfi": f"{ef.sfi:02X}"}
        if ef.read is profile.Read.PIN and not pin:
            entry["skipped"] = "PIN required (--pin or --ask-pin)"
        else:
            try:
                raw = read_ef(link, ef)
                entry["bytes"], entry["content"] = len(raw), decode_ef(ef, raw) if raw else None
            except CardError as exc:
                entry["error"] = str(exc)
            except ValueError as exc:  # TLV or CBOR layout
                entry["error"] = f"undecodable: {exc}"
        files[ef.name] = entry
    return report


def cmd_dump(args: argparse.Namespace) -> int:
    from firmware_tools.cli_perso import chip_verdict, verdict_lines

    pin = getpass.getpass("PIN: ") if args.ask_pin else args.pin
    with _link(args) as link:
        report = dump_card(link, pin)
        checked = chip_verdict(args, link, pin)
    if checked is not None:
        report["chip_verdict"] = checked.to_dict()
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(f"reader {report['reader']}, ATR {report['atr'].upper()}")
        print(f"lifecycle: {report['lifecycle'] or 'unknown'}")
        for name, entry in report["files"].items():
            head = f"{name} (FID {entry['fid']}, SFI {entry['sfi']})"
            if "content" in entry:
                content = "empty" if entry["content"] is None else \
                    json.dumps(entry["content"], ensure_ascii=False)
                print(f"{head}: {entry['bytes']} bytes\n    {content}")
            else:
                print(f"{head}: {entry.get('skipped') or entry.get('error')}")
        if checked is not None:
            print("\n".join(verdict_lines(checked)))
    if checked is not None and not checked.valid:
        return EXIT_CARD
    return EXIT_CARD if any("error" in e for e in report["files"].values()) else EXIT_OK


# -- vcard -----------------------------------------------------------------------------------

def cmd_vcard_new(args: argparse.Namespace) -> int:
    from firmware_tools.card.emulator import ReferenceCard

    path = Path(args.image)
    if path.exists() and not args.force:
        raise UsageError(f"{path} exists; use --force to replace it")
    if args.example:
        from firmware_tools.card.traces import example_image

        example_image().save(path)
        print(f"wrote the documentation example card (issued, PIN 123456) to {path}")
    else:
        ReferenceCard.blank(path, pin=args.pin, puk=args.puk)
        print(f"wrote a blank card to {path}")
    return EXIT_OK


def cmd_vcard_run(args: argparse.Namespace) -> int:
    from firmware_tools.card.emulator import ReferenceCard
    from firmware_tools.card.image import ImageError
    from firmware_tools.vpcd import VirtualCardSession, VpcdError, reader_name_for_slot

    if args.blank:
        if args.image and Path(args.image).exists() and not args.force:
            raise UsageError(f"{args.image} exists; --blank would replace it (add --force)")
        card = ReferenceCard.blank(args.image, pin=args.pin, puk=args.puk)
    elif args.image:
        try:
            card = ReferenceCard.load(args.image)
        except (ImageError, OSError) as exc:
            print(f"ssc-card: cannot load card image {args.image}: {exc}", file=sys.stderr)
            return EXIT_CARD
    else:
        raise UsageError("give --image FILE, or --blank for a blank card")
    reader = reader_name_for_slot(args.slot)

    def report(event: str) -> None:
        messages = {"waiting": f"waiting for pcscd (vpcd port of slot {args.slot})...",
                    "inserted": f"card inserted in {reader!r}",
                    "removed": "card removed",
                    "fault-removed": "the card left the reader (injected fault)"}
        print(messages.get(event, event), flush=True)

    session = VirtualCardSession(card, slot=args.slot, on_event=report,
                                 reconnect=not args.no_wait)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: session.stop(timeout=0))
    print(f"{card!r} -> {reader}; Ctrl-C or SIGTERM removes it", flush=True)
    try:
        session.run()
    except VpcdError as exc:  # only with --no-wait
        print(f"ssc-card: {exc}", file=sys.stderr)
        return EXIT_PCSC
    print("stopped", flush=True)
    return EXIT_OK


# -- the parser ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssc-card", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def card_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--reader", metavar="NAME",
                       help="reader name or unique prefix (default: the first with a card)")
        p.add_argument("--wait", type=float, metavar="SECONDS", default=0,
                       help="wait this long for a card to be inserted")

    sub.add_parser("readers", help="list PC/SC readers and the cards in them",
                   description="List the PC/SC readers and the ATR of each card.")
    p = sub.add_parser("apdu", help="send APDUs and show the responses",
                       description="Send each APDU (hex; quote one typed with spaces) and print "
                                   "the response and the status word. 61xx and 6Cxx are "
                                   "handled. Exit 1 unless every answer is 9000.")
    card_options(p)
    p.add_argument("apdu", nargs="+", metavar="HEX")
    p = sub.add_parser("script", help="run an APDU script and check status words",
                       description=SCRIPT_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    card_options(p)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--keep-going", action="store_true", help="continue after a mismatch")
    p = sub.add_parser("dump", help="read and decode every readable file of an sscard card",
                       description="Select the sscard application and print each file, "
                                   "decoded. EF.DG4 (insurance) needs the holder's PIN.")
    card_options(p)
    p.add_argument("--pin", help="the holder's PIN, to read PIN-protected files")
    p.add_argument("--ask-pin", action="store_true", help="prompt for the PIN")
    p.add_argument("--json", action="store_true", help="print JSON")
    from firmware_tools import cli_perso
    cli_perso.add_dump_options(p)
    cli_perso.add_commands(sub, card_options)
    from firmware_tools.wallet.cli import add_wallet_commands
    add_wallet_commands(sub, COMMANDS)

    vcard = sub.add_parser("vcard", help="the virtual (reference) card in the vpcd reader",
                           description="Run the reference card in the virtual reader.")
    vsub = vcard.add_subparsers(dest="vcard_command", required=True, metavar="ACTION")
    p = vsub.add_parser("run", help="insert a card image into a vpcd slot until Ctrl-C",
                        description="Attach a card image to pcscd through vpcd; every change "
                                    "the card makes is saved to the image.")
    p.add_argument("--slot", type=int, choices=(0, 1), default=0,
                   help="0: 'Virtual PCD 00 00' (default), 1: 'Virtual PCD 00 01'")
    p.add_argument("--image", metavar="FILE", help="card image (.cbor, or .json)")
    p.add_argument("--blank", action="store_true",
                   help="start from a blank card (written to --image if given)")
    p.add_argument("--force", action="store_true", help="with --blank: replace --image")
    p.add_argument("--no-wait", action="store_true",
                   help="exit (code 3) if pcscd's vpcd is not listening, instead of waiting "
                        "for it and reconnecting when pcscd restarts")
    p.add_argument("--pin", default="123456", help="PIN of a --blank card")
    p.add_argument("--puk", default="12345678", help="unblocking code of a --blank card")
    p = vsub.add_parser("new", help="write a new card image",
                        description="Write a blank card image (or, with --example, the "
                                    "issued example card of docs/card.md).")
    p.add_argument("--image", metavar="FILE", required=True)
    p.add_argument("--pin", default="123456")
    p.add_argument("--puk", default="12345678")
    p.add_argument("--example", action="store_true", help="the issued example card instead")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    return parser


COMMANDS = {"readers": cmd_readers, "apdu": cmd_apdu, "script": cmd_script, "dump": cmd_dump,
            ("vcard", "run"): cmd_vcard_run, ("vcard", "new"): cmd_vcard_new}


@quiet_on_broken_pipe
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    key = (args.command, args.vcard_command) if args.command == "vcard" else args.command
    from firmware_tools.cli_perso import COMMANDS as PERSONALISATION_COMMANDS
    try:
        return {**COMMANDS, **PERSONALISATION_COMMANDS}[key](args)
    except UsageError as exc:
        parser.error(str(exc))  # exits 2
    except PcscUnavailableError as exc:
        print(f"ssc-card: PC/SC is not available: {exc}\n"
              "  start the PC/SC daemon (systemctl start pcscd, or pcscd -f)", file=sys.stderr)
        return EXIT_PCSC
    except (LinkError, CardError) as exc:
        print(f"ssc-card: {exc}", file=sys.stderr)
        return EXIT_CARD
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
