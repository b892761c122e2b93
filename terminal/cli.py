"""ssc-terminal: verify social security cards offline, as a command or as the counter agent.

Exit codes: 0 VALID (or done), 1 INVALID (or refused), 3 INDETERMINATE, 2 usage or set-up
error, 4 no verdict (card removed, no card, PIN needed: try again) or trust list source
unreachable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from crypto import Outcome, SscError, TrustStore
from crypto.keys import load_certificate
from crypto.ecard import is_presentation
from firmware_tools.console import quiet_on_broken_pipe
from firmware_tools.settings_file import ConfigFileError
from terminal.cli_ecard import _verdict_without_site, add_ecard_commands
from terminal.config import TerminalPaths, TerminalSettings, forward_url, settings, terminal_id, use
from terminal.present import result_lines, verdict_lines
from terminal.qr_image import QrImageError, read_qr_file

EXIT = {Outcome.VALID: 0, Outcome.INVALID: 1, Outcome.INDETERMINATE: 3}
EXIT_BY_NAME = {"VALID": 0, "INVALID": 1, "INDETERMINATE": 3, "NO_VERDICT": 4}
SITE_HELP = "site policy: pharmacy, hospital, bureau, or a policy file (default: $SSC_TERMINAL_SITE)"


def paths() -> TerminalPaths:
    return TerminalPaths.from_env()


def load_store(root: Path, trust_list: Path) -> TrustStore:
    store = TrustStore(load_certificate(root))
    store.update(Path(trust_list).read_bytes())
    return store


def _trust(args: argparse.Namespace):
    from terminal.trust import TrustCache, TrustState

    p = paths()
    return TrustCache(TrustState(p.trust_folder, Path(args.root)), fallback=p.issuer_trust_list,
                      fixed=Path(args.trust_list) if args.trust_list else None)


def _policy(args: argparse.Namespace):
    from terminal.policy import PolicyError, load_policy

    name = args.site or settings().site
    if not name:
        return None
    try:
        return load_policy(name)
    except PolicyError as exc:
        raise SystemExit(_error(str(exc)))


def pin_hint() -> str:
    """How to pin the root (docs/operations.md, "Setting one up", step 1)."""
    own = paths().own_root
    return (f"  to pin the root: get root-ca.pem from the issuing centre, compare its fingerprint "
            f"(openssl x509 -in root-ca.pem -noout -fingerprint -sha256) with the one the centre gives you "
            f"out of band, then copy it to {own} ($SSC_TERMINAL_HOME/root-ca.pem), or name it with --root FILE")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _verifier(policy, trust):
    from terminal.ecard import PresentationStore
    from terminal.eventlog import EventLog
    from terminal.verifier import Verifier

    return Verifier(policy, trust.store, events=EventLog(paths().events, terminal_id=terminal_id()),
                    presentations=PresentationStore(paths().events))


def _print_result(result, as_json: bool) -> int:
    if as_json:
        print(json.dumps(result.to_public(), ensure_ascii=False))
    else:
        print("\n".join(result_lines(result)))
    return EXIT_BY_NAME[result.outcome]


# ---------------------------------------------------------------- verify-qr

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")


class InputFileMissing(Exception):
    """verify-qr was given the path of a picture that is not there."""


def _input_kind(value: str) -> str:
    """"stdin", "text" or "file". A card's or an e-card's QR text always starts with its
    prefix (SSC1: / SSC1E:, docs/spec.md §5, §12), so that is text; so is anything else
    that is neither an existing file nor shaped like a path (a scanned code of another
    kind: INVALID with QR_PREFIX, as at the counter). A path that does not exist is a usage
    error, never an INVALID card."""
    if value == "-":
        return "stdin"
    if value.startswith("SSC1:") or is_presentation(value) or "://" in value:  # a scanned URL is a code too
        return "text"
    path = Path(value)
    if path.is_file():
        return "file"
    if path.exists():
        raise InputFileMissing(f"{value} is a folder, not a picture of a QR code")
    if os.sep in value or "/" in value or path.suffix.lower() in IMAGE_SUFFIXES:
        raise InputFileMissing(f"no such file: {value} (give a PNG/JPEG picture of the QR code, "
                               "its text SSC1:..., or - to read one line from stdin)")
    return "text"


def _verify_qr(args: argparse.Namespace) -> int:
    policy = _policy(args)
    if policy is not None:
        return _verify_qr_at_site(args, policy)
    source = "QR text"
    text, kind = args.input, _input_kind(args.input)
    if kind == "stdin":
        text = sys.stdin.readline()
    elif kind == "file":
        try:
            read = read_qr_file(Path(text))
        except QrImageError as exc:
            print(f"INVALID  (image)\n  [FAIL] format: {exc.reason} - {exc.message}")
            return 1
        text, source = read.text, f"image, decoded by {read.decoder}"
    try:
        store = _trust(args).store()
    except (OSError, SscError) as exc:
        return _error(f"cannot load the trust list: {getattr(exc, 'message', exc)}")
    verdict = _verdict_without_site(text, store)
    if args.json:
        out = verdict.to_dict() | {"source": source}
        if verdict.claims is not None and verdict.valid:
            c = verdict.claims.credential
            out["holder"] = {"family_name": c.holder.family_name, "given_names": c.holder.given_names}
            out["card_number"] = c.card.card_number
        print(json.dumps(out, ensure_ascii=False))
    else:
        print("\n".join(verdict_lines(verdict, source)))
    return EXIT[verdict.outcome]


def _verify_qr_at_site(args: argparse.Namespace, policy) -> int:
    from terminal.inputs import read_wedge_line, verify_image
    from terminal.reasons import TerminalReason

    verifier = _verifier(policy, _trust(args))
    kind = _input_kind(args.input)
    if kind == "stdin":
        text, problem, _ = read_wedge_line(sys.stdin.buffer)
        if problem is not None or text is None:
            result = verifier.input_failure(problem or TerminalReason.SCAN_INCOMPLETE, "no card code on stdin",
                                            "standard input")
        else:
            result = verifier.verify_qr_text(text, "standard input")
    elif kind == "file":
        result = verify_image(verifier, Path(args.input))
    else:
        result = verifier.verify_qr_text(args.input, "QR text")
    return _print_result(result, args.json)


# ---------------------------------------------------------------- read-card

def _read_card(args: argparse.Namespace) -> int:
    from terminal.chip import read_once
    from terminal.policy import load_policy

    policy = _policy(args) or load_policy("bureau")
    verifier = _verifier(policy, _trust(args))
    result = read_once(verifier, reader=args.reader, pin=args.pin, wait=args.wait)
    return _print_result(result, args.json)


# ---------------------------------------------------------------- sync and status

def _sync(args: argparse.Namespace) -> int:
    from terminal.trust import SyncError, TrustState, human_age

    source = args.source or settings().sync_source
    if not source:
        return _error("name the trust list's source (a URL or a folder), or set sync_source in the configuration "
                      "file or SSC_TERMINAL_SYNC_SOURCE")
    state = TrustState(paths().trust_folder, Path(args.root))
    try:
        result = state.sync(source, timeout=args.timeout)
    except SyncError as exc:
        refused = exc.reason.startswith("TL_")  # the list was fetched and refused: the command's answer
        print(f"refused: {exc.reason}: {exc.message}" if refused else f"error: {exc.reason}: {exc.message}",
              file=sys.stdout if refused else sys.stderr)
        held = state.status()
        if held.get("held"):
            print(f"kept trust list version {held['version']} ({held['age']} old)", file=sys.stdout if refused else sys.stderr)
        if exc.reason == "ROOT_MISSING":
            print(pin_hint(), file=sys.stderr)
        return 1 if exc.reason.startswith("TL_") else (2 if exc.reason == "ROOT_MISSING" else 4)
    age = human_age(int(time.time()) - result.issued_at)
    print(f"{result.status}: trust list version {result.version}, issued {age} ago"
          + (f" (was {result.previous_version})" if result.status == "updated" and result.previous_version else ""))
    if result.path == "delta":
        print(f"  path: deltas ({result.deltas} applied), {result.bytes_fetched:,} bytes fetched")
    else:
        print(f"  path: full list, {result.bytes_fetched:,} bytes fetched"
              + (f" (deltas not used: {result.fallback})" if result.fallback else ""))
    return 0


def _status(args: argparse.Namespace) -> int:
    from terminal.eventlog import EventLog

    policy = _policy(args)
    trust = _trust(args)
    info = trust.status(max_age=policy.revocation_max_age if policy else None)
    if policy is not None:
        info["site"] = policy.site
    if paths().events.exists():
        with EventLog(paths().events, terminal_id=terminal_id()) as events:
            info["events"] = events.counts()
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0 if info.get("held") else 3
    if not info.get("held"):
        print(f"trust list: none usable ({info.get('problem')})")
        return 3
    issued = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(info["issued_at"]))
    nxt = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(info["next_update"]))
    print(f"trust list: version {info['version']}, issued {issued}, {info['age']} old; next update due {nxt}"
          + (" (PAST)" if info["past_next_update"] else ""))
    print(f"  {info['issuers']} issuer certificate(s), {info['revoked']} revoked serial(s), revocation format "
          f"{info['revocation_format']}"
          + (f", {info['deltas_applied']} delta(s) applied" if info.get("deltas_applied") else "")
          + f"; from {info.get('source', '?')}")
    for entry in info.get("revocation", []):
        universe = f" among serials [{entry['universe'][0]}, {entry['universe'][1]})" if "universe" in entry else ""
        print(f"  {entry['issuer']}: format {entry['format']}, {entry['revoked']} revoked{universe}")
    if info.get("problem"):
        print(f"  warning: {info['problem']}")
    if "stale_for_site" in info:
        print(f"  site {policy.site}: revocation data may be {policy.revocation_max_age // 3600} h old: "
              + ("STALE - verdicts are INDETERMINATE until the next sync" if info["stale_for_site"] else "current"))
    if "events" in info:
        print(f"event log: {info['events']['total']} event(s), {info['events']['unforwarded']} not yet forwarded")
    return 3 if info.get("stale_for_site") else 0


# ---------------------------------------------------------------- run

def _run(args: argparse.Namespace) -> int:
    from terminal.agent import Agent, AgentOptions
    from terminal.policy import load_policy

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    policy = _policy(args) or load_policy("pharmacy")
    options = AgentOptions(port=args.port, scanners=args.scanner or [], scanner_terminator=args.scanner_terminator,
                           scanner_aim=args.scanner_aim, stdin=args.stdin, readers=not args.no_readers,
                           reader=args.reader, pin=args.pin, forward_url=args.forward_url or forward_url(),
                           forward_interval=args.forward_interval,
                           trust_list=Path(args.trust_list) if args.trust_list else None)
    agent = Agent(policy, paths(), options)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    try:
        agent.start()
    except RuntimeError as exc:
        return _error(str(exc))
    print(f"counter page: {agent.url}  (site {policy.site})", flush=True)
    try:
        agent.wait()
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
    return 0


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    p = paths()
    parser = argparse.ArgumentParser(prog="ssc-terminal", description="Verify social security cards offline "
                                     "against the trust list this terminal holds.", epilog=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file (default: $SSC_TERMINAL_CONFIG); "
                        "the environment wins over it")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def trust_options(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--root", default=str(p.pinned_root), help="pinned root CA certificate (default: %(default)s)")
        cmd.add_argument("--trust-list", help="use this trust list file instead of the synced one")

    vq = sub.add_parser("verify-qr", help="verify a QR code from an image file, its text, or stdin (-)")
    vq.add_argument("input", help="PNG/JPEG file, SSC1:... text, or - to read one line from stdin")
    vq.add_argument("--site", help=SITE_HELP + "; without a site only the signature checks run")
    vq.add_argument("--json", action="store_true", help="print the verdict as JSON")
    trust_options(vq)
    vq.set_defaults(func=_verify_qr)

    rc = sub.add_parser("read-card", help="read and verify the card in a PC/SC reader (waits for one)")
    rc.add_argument("--reader", help="reader name or unique prefix (default: the first with a card)")
    rc.add_argument("--site", help=SITE_HELP + " (default here: bureau)")
    rc.add_argument("--pin", help="the holder's PIN, for sites that read the insurance data")
    rc.add_argument("--wait", type=float, default=30.0, help="seconds to wait for a card (default: %(default)s)")
    rc.add_argument("--json", action="store_true")
    trust_options(rc)
    rc.set_defaults(func=_read_card)

    sy = sub.add_parser("sync", help="fetch the revocation deltas or the trust list (URL or folder), verify, install")
    sy.add_argument("source", nargs="?", help="https://issuer/trust-list, https://mirror/.../trust-list.cose, or a "
                    "folder (USB stick) that `ssc-issuer publish` wrote (default: sync_source of the configuration, "
                    "$SSC_TERMINAL_SYNC_SOURCE)")
    sy.add_argument("--root", default=str(p.pinned_root), help="pinned root CA certificate (default: %(default)s)")
    sy.add_argument("--timeout", type=float, default=20.0)
    sy.set_defaults(func=_sync)

    st = sub.add_parser("status", help="the trust list held and its age, the event log")
    st.add_argument("--site", help=SITE_HELP + ": also say whether the data is too old for it")
    st.add_argument("--json", action="store_true")
    trust_options(st)
    st.set_defaults(func=_status)

    run = sub.add_parser("run", help="the counter agent: readers, scanners, and the page on 127.0.0.1")
    run.add_argument("--site", help=SITE_HELP + " (default here: pharmacy)")
    run.add_argument("--port", type=int, default=settings().port,
                     help="page port on 127.0.0.1 (default: %(default)s; $SSC_TERMINAL_PORT)")
    run.add_argument("--scanner", action="append", metavar="DEV", help="serial scanner device (repeatable)")
    run.add_argument("--scanner-terminator", default="CR", choices=["CR", "CRLF", "LF", "none"])
    run.add_argument("--scanner-aim", action="store_true", help="the scanners send AIM symbology identifiers")
    run.add_argument("--stdin", action="store_true", help="read keyboard-wedge scans, one per line, from stdin")
    run.add_argument("--no-readers", action="store_true", help="do not watch PC/SC card readers")
    run.add_argument("--reader", help="watch only this PC/SC reader (name or unique prefix)")
    run.add_argument("--pin", help="development only: the PIN used for PIN-protected data")
    run.add_argument("--forward-url", help="issuer endpoint for the event log (default: $SSC_EVENTS_URL)")
    run.add_argument("--forward-interval", type=float, default=30.0, help="seconds between forwarding attempts")
    trust_options(run)
    run.set_defaults(func=_run)
    add_ecard_commands(sub, trust_options)
    return parser


def _load_settings(argv: list[str] | None) -> TerminalSettings:
    """--config FILE (before the command) is read first: the parser's defaults come from it."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    return TerminalSettings.from_config(early.parse_known_args(argv)[0].config)


@quiet_on_broken_pipe
def main(argv: list[str] | None = None) -> int:
    try:
        use(_load_settings(argv))
    except ConfigFileError as exc:
        return _error(str(exc))
    args = build_parser().parse_args(argv)
    from terminal.trust import SyncError

    try:
        return args.func(args)
    except InputFileMissing as exc:
        return _error(str(exc))
    except SyncError as exc:
        code = _error(f"{exc.reason}: {exc.message}")
        if exc.reason == "ROOT_MISSING":
            print(pin_hint(), file=sys.stderr)
        return code
    except SscError as exc:
        return _error(f"{exc.reason.value}: {exc.message}")


if __name__ == "__main__":
    sys.exit(main())
