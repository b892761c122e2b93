"""``ssc-terminal challenge``: challenge mode for e-card presentations (docs/spec.md §12.5),
and the verdict of an e-card presentation without a site (``verify-qr SSC1E:...``).

A terminal whose clock cannot be trusted shows a challenge (a QR code and a short code to
type); the holder's phone signs it into its presentation (``ssc-card wallet respond``); the
terminal accepts the answer once, within the challenge's lifetime. Registered by
:mod:`terminal.cli` (same exit codes).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

from crypto.ecard import challenge_code, challenge_text, is_presentation
from crypto.ecard_verify import verify_presentation

CHALLENGE_HELP = """\
Show a challenge for the holder's e-card app to answer (challenge mode, for a terminal
whose clock cannot be trusted): the QR code below, or the short code typed into the app
(ssc-card wallet respond CODE). The answer is accepted once, within the challenge's
lifetime (the site policy's ecard_challenge_seconds, 120 s by default), by this terminal:
scan it with --wait, or later with `ssc-terminal verify-qr ANSWER --site SITE`.
"""


def _verdict_without_site(text: str, store):
    """The crypto verdict of a scanned text: a credential, or an e-card presentation (checked
    against this terminal's replay cache and open challenges, with the default rules)."""
    from crypto import verify_credential
    from terminal.cli import paths
    from terminal.ecard import PresentationStore

    if not is_presentation(text):
        return verify_credential(text, store, now=int(time.time()))
    with PresentationStore(paths().events) as seen:
        return verify_presentation(text, store, now=int(time.time()), replay=seen, challenges=seen)


def qr_ascii(text: str) -> str:
    """A QR code drawn with half-block characters (two modules per character cell)."""
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(text)
    qr.make(fit=True)
    out = io.StringIO()
    qr.print_ascii(out=out, tty=False, invert=True)
    return out.getvalue()


def _challenge(args: argparse.Namespace) -> int:
    from terminal.cli import _policy, _print_result, _trust, _verifier, paths
    from terminal.inputs import read_wedge_line
    from terminal.policy import load_policy
    from terminal.reasons import TerminalReason

    policy = _policy(args) or load_policy("bureau")
    verifier = _verifier(policy, _trust(args))
    challenge = verifier.presentations.issue_challenge(policy.ecard_challenge_seconds)
    text, code = challenge_text(challenge), challenge_code(challenge)
    if args.png:
        import qrcode

        qrcode.make(text, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8).save(args.png)
    if args.json:
        print(json.dumps({"challenge": code, "qr_text": text, "expires_in": policy.ecard_challenge_seconds,
                          "site": policy.site, "terminal": str(paths().home)}), flush=True)
    else:
        print(f"challenge {code}  (valid {policy.ecard_challenge_seconds} s at {policy.site}): the holder "
              f"scans the code below or types {code} into the e-card app")
        if not args.no_qr:
            print(qr_ascii(text), end="")
        if args.png:
            print(f"QR code written to {args.png}")
        print("then scan the app's answer" + (" now" if args.wait else f": ssc-terminal verify-qr ANSWER "
                                                                       f"--site {policy.site}"), flush=True)
    if not args.wait:
        return 0
    line, problem, _ = read_wedge_line(sys.stdin.buffer)
    if problem is not None or not line or not line.strip("\r\n"):
        result = verifier.input_failure(problem or TerminalReason.SCAN_INCOMPLETE, "no answer was scanned",
                                        "standard input")
    else:
        result = verifier.verify_qr_text(line, "standard input")
    return _print_result(result, args.json)


def add_ecard_commands(sub, trust_options) -> None:
    from terminal.cli import SITE_HELP

    ch = sub.add_parser("challenge", help="show a challenge for an e-card to answer (terminals without a trusted "
                                          "clock)", description=CHALLENGE_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ch.add_argument("--site", help=SITE_HELP + " (default here: bureau)")
    ch.add_argument("--png", type=Path, metavar="FILE", help="also write the challenge QR code as a PNG")
    ch.add_argument("--no-qr", action="store_true", help="print the short code only")
    ch.add_argument("--wait", action="store_true", help="then read the scanned answer from stdin and verify it")
    ch.add_argument("--json", action="store_true", help="print JSON")
    trust_options(ch)
    ch.set_defaults(func=_challenge)
