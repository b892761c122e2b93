"""ssc-terminal: verify a card offline.

Exit codes: 0 VALID, 1 INVALID, 3 INDETERMINATE, 2 usage or set-up error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from crypto import Outcome, SscError, TrustStore, verify_credential
from crypto.keys import load_certificate
from crypto.verdict import Status
from terminal.qr_image import QrImageError, read_qr_file

EXIT = {Outcome.VALID: 0, Outcome.INVALID: 1, Outcome.INDETERMINATE: 3}
COLOURS = {Outcome.VALID: "\033[1;32m", Outcome.INVALID: "\033[1;31m", Outcome.INDETERMINATE: "\033[1;33m"}


def var_dir() -> Path:
    return Path(os.environ.get("SSC_VAR", "var"))


def load_store(root: Path, trust_list: Path) -> TrustStore:
    store = TrustStore(load_certificate(root))
    store.update(Path(trust_list).read_bytes())
    return store


def print_verdict(verdict, source: str, as_json: bool) -> None:
    if as_json:
        out = verdict.to_dict() | {"source": source}
        if verdict.claims is not None and verdict.valid:
            c = verdict.claims.credential
            out["holder"] = {"family_name": c.holder.family_name, "given_names": c.holder.given_names}
            out["card_number"] = c.card.card_number
        print(json.dumps(out, ensure_ascii=False))
        return
    tty = sys.stdout.isatty()
    colour, reset = (COLOURS[verdict.outcome], "\033[0m") if tty else ("", "")
    print(f"{colour}{verdict.outcome.value}{reset}  ({source})")
    for check in verdict.checks:
        mark = {Status.PASSED: "ok ", Status.FAILED: "FAIL", Status.INDETERMINATE: "??? ",
                Status.NOT_CHECKED: " -  "}[check.status]
        line = f"  [{mark}] {check.check.value}"
        if check.reason:
            line += f": {check.reason.value} - {check.message}"
        print(line)
    if verdict.claims is not None and verdict.outcome is not Outcome.INVALID:
        c = verdict.claims.credential
        print(f"  holder: {c.holder.family_name}, {c.holder.given_names}  ({c.holder.nationality})")
        print(f"  card:   {c.card.card_number}, expires {c.card.expiry_date}")


def _verify_qr(args: argparse.Namespace) -> int:
    source = "QR text"
    text = args.input
    if text == "-":
        text = sys.stdin.readline()
    elif not text.startswith("SSC1:") and Path(text).exists():
        try:
            read = read_qr_file(Path(text))
        except QrImageError as exc:
            print(f"INVALID  (image)\n  [FAIL] format: {exc.reason} - {exc.message}")
            return 1
        text, source = read.text, f"image, decoded by {read.decoder}"
    try:
        store = load_store(Path(args.root), Path(args.trust_list))
    except (OSError, SscError) as exc:
        print(f"error: cannot load the trust list: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    verdict = verify_credential(text, store, now=int(time.time()))
    print_verdict(verdict, source, args.json)
    return EXIT[verdict.outcome]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssc-terminal", description="Verify social security cards offline "
                                     "against the trust list this terminal holds.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    vq = sub.add_parser("verify-qr", help="verify a QR code from an image file, its text, or stdin (-)")
    vq.add_argument("input", help="PNG/JPEG file, SSC1:... text, or - to read one line from stdin")
    vq.add_argument("--root", default=str(var_dir() / "keys" / "root-ca.pem"), help="pinned root CA certificate")
    vq.add_argument("--trust-list", default=str(var_dir() / "trust" / "trustlist.cose"))
    vq.add_argument("--json", action="store_true", help="print the verdict as JSON")
    vq.set_defaults(func=_verify_qr)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
