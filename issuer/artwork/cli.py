"""`ssc-issuer artwork render|proof`: the card's artwork from a record and its QR text.

Register in issuer/cli/__init__.py's build_parser():

    from issuer.artwork.cli import add_artwork_commands
    add_artwork_commands(sub)

Each command is `func(args, settings=None) -> exit code` (0 done, 1 refused), like the other
ssc-issuer commands. `python -m issuer.artwork.cli` runs them on their own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crypto import SscError, parse_credential
from issuer.artwork.card import CardArtwork, render_card
from issuer.artwork.errors import ArtworkError
from issuer.artwork.printing import CARD_PRINTER_ENV, PROOF_PRINTER_ENV, PrintResult, print_or_write
from issuer.artwork.proof import render_proof_sheet


class _InputError(Exception):
    pass


def _read(path: Path, what: str, binary: bool = False):
    try:
        return path.read_bytes() if binary else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _InputError(f"cannot read the {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _card(record: Path, qr_file: Path, photo: Path | None, check_photo: bool) -> CardArtwork:
    try:
        data = json.loads(_read(record, "record"))
    except ValueError as exc:
        raise _InputError(f"the record {record} is not JSON: {exc}") from None
    credential = parse_credential(data)
    qr_text = _read(qr_file, "QR text file").strip()
    photo_bytes = _read(photo, "photo", binary=True) if photo else None
    return render_card(credential, qr_text, photo_bytes, check_photo=check_photo)


def _report(result: PrintResult) -> None:
    for path in result.files:
        print(f"wrote {path}")
    if result.printed:
        print(f"sent to printer {result.printer}" + (f" as job {result.job_id}" if result.job_id else ""))


def _run(body) -> int:
    try:
        return body()
    except (_InputError, ArtworkError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SscError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for err in getattr(exc, "errors", [])[:20]:
            print(f"  {err['field']}: {err['message']}", file=sys.stderr)
        return 1


def cmd_render(args: argparse.Namespace, settings=None) -> int:
    def body() -> int:
        art = _card(args.record, args.qr_text_file, args.photo, not args.skip_photo_check)
        for warning in art.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"card {art.card_number}: QR version {art.qr_version}-Q, module {art.module_mm:.3f} mm "
              f"({art.module_px} px at 300 dpi)")
        _report(print_or_write(art, args.out, printer=args.printer, options=args.lp_option, copies=args.copies))
        return 0
    return _run(body)


def cmd_proof(args: argparse.Namespace, settings=None) -> int:
    def body() -> int:
        cards = []
        for spec in args.card:
            parts = spec.split(",")
            if len(parts) not in (2, 3) or not all(parts):
                raise _InputError(f"--card {spec!r}: give RECORD.json,QR.txt or RECORD.json,QR.txt,PHOTO")
            photo = Path(parts[2]) if len(parts) == 3 else None
            cards.append(_card(Path(parts[0]), Path(parts[1]), photo, not args.skip_photo_check))
        sheet = render_proof_sheet(cards)
        print(f"proof sheet: {sheet.cards} card(s) on {sheet.pages} A4 page(s)")
        _report(print_or_write(sheet, args.out, printer=args.printer, options=args.lp_option))
        return 0
    return _run(body)


def _common(parser: argparse.ArgumentParser, env: str, what: str) -> None:
    parser.add_argument("--out", required=True, type=Path, help="folder for the PNG and PDF files")
    parser.add_argument("--printer", help=f"CUPS queue of the {what} (default: ${env}); with none set, the "
                                          "files are only written")
    parser.add_argument("--lp-option", action="append", default=[], metavar="NAME=VALUE",
                        help="an option for `lp -o` (repeatable), e.g. sides=two-sided-long-edge")
    parser.add_argument("--skip-photo-check", action="store_true",
                        help="print a photo whose SHA-256 differs from the credential's photo digest")


def add_artwork_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `artwork render` and `artwork proof` to an ssc-issuer subparsers object."""
    art = subparsers.add_parser("artwork", help="render the card's artwork (300 dpi PNG, PDF), proof sheets; "
                                                "print through CUPS")
    sub = art.add_subparsers(dest="artwork_command", required=True, metavar="ACTION")
    render = sub.add_parser("render", help="front and back of one card as PNG and PDF; print it if a card "
                                           "printer is configured",
                            epilog="files: CARD-front.png, CARD-back.png, CARD.pdf (page 1 front, page 2 back). "
                                   "A card issued through the service: ssc-issuer card-artwork CARD_ID --out DIR")
    render.add_argument("--record", required=True, type=Path, help="the credential record (JSON, as for `sign`)")
    render.add_argument("--qr-text-file", required=True, type=Path,
                        help="the card's QR text (the .qr.txt that `ssc-issuer sign` writes)")
    render.add_argument("--photo", type=Path, help="the holder's photo, JPEG or PNG (default: a 'no photo' "
                                                   "placeholder)")
    render.add_argument("--copies", type=int, default=1, help="copies to print (default 1)")
    _common(render, CARD_PRINTER_ENV, "card printer")
    render.set_defaults(func=cmd_render)
    proof = sub.add_parser("proof", help="many cards, front and back, on A4 pages (PNG, PDF) with crop marks, "
                                         "for quality checks", epilog="files: proof-1.png, proof-2.png, ..., proof.pdf")
    proof.add_argument("--card", action="append", required=True, metavar="RECORD.json,QR.txt[,PHOTO]",
                       help="one card (repeatable)")
    _common(proof, PROOF_PRINTER_ENV, "A4 printer")
    proof.set_defaults(func=cmd_proof)
    return art


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ssc-issuer", description="The card's artwork.")
    add_artwork_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    return args.func(args, None)


if __name__ == "__main__":
    sys.exit(main())
