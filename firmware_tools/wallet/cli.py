"""``ssc-card wallet``: the holder's e-card, as a command (docs/spec.md §12).

Exit codes: 0 done; 1 refused (the issuer refused the activation, no e-card, wrong
passphrase, a challenge that cannot be read); 2 usage; 4 the issuer cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from crypto.ecard import PresentationError, Purpose, parse_challenge
from firmware_tools.console import ask_secret
from firmware_tools.wallet.store import Wallet, WalletError, WalletStore, default_folder, new_device_key

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 4
PASSPHRASE_ENV = "SSC_WALLET_PASSPHRASE"

HELP = """\
The e-card on the holder's phone. The wallet keeps the phone's private key encrypted
(passphrase from $SSC_WALLET_PASSPHRASE, or asked) in its folder ($SSC_WALLET_HOME, else
$SSC_VAR/wallet, or --wallet DIR).

  ssc-card wallet activate --work-permit 156000019880314021 --code ABCD-EFGH-JKMN --issuer URL
  ssc-card wallet show                    a fresh QR code now (valid about a minute)
  ssc-card wallet show --every 60         a new one every 60 s until Ctrl-C
  ssc-card wallet show --png code.png     also write it as a PNG
  ssc-card wallet respond 7K2M-Q9XD       answer a terminal's challenge (its QR text or short code)
  ssc-card wallet status                  what the wallet holds
"""


def _passphrase(confirm: bool = False) -> bytes:
    value = ask_secret("wallet passphrase: ", PASSPHRASE_ENV, confirm=confirm)
    if len(value) < 8:
        raise WalletError("the wallet passphrase must have at least 8 characters")
    return value.encode()


def _store(args: argparse.Namespace) -> WalletStore:
    return WalletStore(Path(args.wallet) if args.wallet else default_folder())


def cmd_activate(args: argparse.Namespace) -> int:
    from firmware_tools.wallet.client import activate

    store = _store(args)
    if store.has_ecard() and not args.force:
        raise WalletError(f"{store.folder} holds an e-card already (card {store.meta()['card_number']}): "
                          "--force to activate again (the issuer then revokes the old one)")
    passphrase = _passphrase(confirm=True)
    key = new_device_key()  # made on the phone; only its public half leaves
    meta = activate(store, args.issuer, key, passphrase, code=args.code, work_permit=args.work_permit, ssn=args.ssn)
    if args.json:
        print(json.dumps(meta, ensure_ascii=False))
    else:
        expires = time.strftime("%Y-%m-%d", time.gmtime(meta["exp"]))
        print(f"e-card activated: card {meta['card_number']} ({meta['holder']}), e-card serial {meta['serial']}, "
              f"valid until {expires}; key and credential in {store.folder}")
    return EXIT_OK


def _show_one(wallet: Wallet, args: argparse.Namespace, challenge: bytes | None = None) -> None:
    from firmware_tools.wallet.qr import terminal_text, write_png

    text = wallet.present(purpose=Purpose[args.purpose.upper()], challenge=challenge)
    version = None
    if args.png:
        version = write_png(text, Path(args.png))
    if args.json:
        print(json.dumps({"qr_text": text, "chars": len(text), "png": args.png, "qr_version": version,
                          "made_at": int(time.time())}), flush=True)
        return
    if not args.no_qr:
        print(terminal_text(text), end="")
    print(text, flush=True)


def cmd_show(args: argparse.Namespace) -> int:
    wallet = Wallet.open(_store(args), _passphrase())
    if wallet.meta["exp"] < time.time():
        raise WalletError("the e-card credential has expired: activate again with a new code")
    shown = 0
    while True:
        _show_one(wallet, args)
        shown += 1
        if not args.every or (args.count and shown >= args.count):
            return EXIT_OK
        try:
            time.sleep(args.every)
        except KeyboardInterrupt:
            return EXIT_OK


def cmd_respond(args: argparse.Namespace) -> int:
    try:
        challenge = parse_challenge(args.challenge)
    except PresentationError as exc:
        raise WalletError(f"not a terminal's challenge: {exc.message}") from None
    _show_one(Wallet.open(_store(args), _passphrase()), args, challenge)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    store = _store(args)
    if not store.has_ecard():
        print(f"no e-card in {store.folder}")
        return EXIT_REFUSED
    meta = store.meta()
    print(json.dumps(meta, indent=2, ensure_ascii=False) if args.json else
          f"card {meta['card_number']} ({meta.get('holder', '?')}), e-card serial {meta['serial']} from "
          f"{meta['issuer_code']} ({meta['issuer_url']}), valid until "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(meta['exp']))}")
    return EXIT_OK


ACTIONS = {"activate": cmd_activate, "show": cmd_show, "respond": cmd_respond, "status": cmd_status}


def run(args: argparse.Namespace) -> int:
    from firmware_tools.wallet.client import ActivationFailed

    try:
        return ACTIONS[args.wallet_command](args)
    except ActivationFailed as exc:
        print(f"ssc-card wallet: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE if exc.status is None else EXIT_REFUSED
    except WalletError as exc:
        print(f"ssc-card wallet: {exc}", file=sys.stderr)
        return EXIT_REFUSED


def add_wallet_commands(sub, commands: dict) -> None:
    """Register ``ssc-card wallet ...`` on the parser and its handler in `commands`."""
    wallet = sub.add_parser("wallet", help="the holder's e-card: activate, show the QR code, answer a challenge",
                            description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = wallet.add_subparsers(dest="wallet_command", required=True, metavar="ACTION")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wallet", metavar="DIR", help="the wallet folder (default: $SSC_WALLET_HOME or "
                                                       "$SSC_VAR/wallet)")
        p.add_argument("--json", action="store_true", help="print JSON")

    def showing(p: argparse.ArgumentParser) -> None:
        p.add_argument("--purpose", default="any", choices=[x.name.lower() for x in Purpose],
                       help="what the e-card is shown for: a counter accepts 'any' and its own (default: any)")
        p.add_argument("--png", metavar="FILE", help="also write the QR code as a PNG (replaced each time)")
        p.add_argument("--no-qr", action="store_true", help="print the QR text only, not the QR code")

    p = actions.add_parser("activate", help="make the phone key, activate the e-card with a one-time code")
    ident = p.add_mutually_exclusive_group(required=True)
    ident.add_argument("--work-permit", metavar="N", help="the 18-digit work permit number")
    ident.add_argument("--ssn", metavar="S", help="the social security number")
    p.add_argument("--code", required=True, help="the activation code the issuing centre handed out")
    p.add_argument("--issuer", required=True, metavar="URL", help="the issuer service, e.g. https://issuer.example")
    p.add_argument("--force", action="store_true", help="activate again (a new phone key) over an e-card held")
    common(p)
    p = actions.add_parser("show", help="show a fresh e-card QR code (once, or every N seconds)")
    p.add_argument("--every", type=float, metavar="SECONDS", help="make a new one every SECONDS (60 is usual)")
    p.add_argument("--count", type=int, metavar="N", help="with --every: stop after N codes")
    showing(p)
    common(p)
    p = actions.add_parser("respond", help="answer a terminal's challenge (challenge mode)")
    p.add_argument("challenge", help="the challenge: its QR text (SSC1C:...) or the short code (7K2M-Q9XD)")
    showing(p)
    common(p)
    p = actions.add_parser("status", help="what the wallet holds")
    common(p)
    commands["wallet"] = run
