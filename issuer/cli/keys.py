"""ssc-issuer keys init|list|rotate, sign, trust-list: keys and offline signing."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from crypto import Algorithm, build_trust_list, parse_credential, sign_credential
from crypto.claims import Profile
from crypto.qrtext import encode_qr_text
from issuer import keyring
from issuer.qr_image import write_png
from issuer.settings import Settings


def _passphrase(settings: Settings) -> bytes:
    if settings.key_passphrase is None:
        print("note: SSC_KEY_PASSPHRASE is not set; using the development passphrase", file=sys.stderr)
    return settings.passphrase()


def _pin(settings: Settings) -> str | None:
    return settings.pkcs11_pin.get_secret_value() if settings.pkcs11_pin else None


def _load(args: argparse.Namespace, settings: Settings) -> keyring.Keyring:
    return keyring.load(Path(args.dir), args.issuer_code, _passphrase(settings), pin=_pin(settings),
                        module=settings.pkcs11_module)


def _fmt(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def keys_init(args: argparse.Namespace, settings: Settings) -> int:
    folder = Path(args.dir)
    if keyring.exists(folder, args.issuer_code) and not args.force:
        print(f"keys already exist in {folder} (use --force to replace them)")
        return 0
    algorithm = Algorithm[args.algorithm]
    if args.pkcs11:
        pin = _pin(settings)
        if pin is None:
            print("error: --pkcs11 needs the token's user PIN in SSC_ISSUER_PKCS11_PIN", file=sys.stderr)
            return 2
        keys = keyring.init_pkcs11(folder, args.issuer_code, _passphrase(settings), token_label=args.pkcs11,
                                   pin=pin, module=settings.pkcs11_module, algorithm=algorithm)
        where = f"HSM token {args.pkcs11!r}"
    else:
        keys = keyring.init_software(folder, args.issuer_code, _passphrase(settings), algorithm)
        where = "encrypted PKCS#8 files"
    print(f"created root CA, issuer {args.issuer_code} signing key ({args.algorithm}) and trust-list signer "
          f"in {folder} (private keys: {where})")
    print(f"issuer kid {keys.issuer.kid.hex()}")
    keys.close()
    return 0


def keys_list(args: argparse.Namespace, settings: Settings) -> int:
    keys = _load(args, settings)
    try:
        root = keys.root
        print(f"root CA            {root.subject.rfc4514_string()}  until {root.not_valid_after_utc:%Y-%m-%d}")
        for info in keys.describe():
            mark = "current" if info.kid == keys.issuer.kid else "retired"
            print(f"issuer {info.issuer_code:<11} kid {info.kid.hex()}  {info.algorithm.name}  signs "
                  f"{_fmt(info.usage_not_before)} .. {_fmt(info.usage_not_after)}, certificate until "
                  f"{_fmt(info.not_after)}  ({mark})")
        print(f"trust-list signer  kid {keys.trust_list_signer.kid.hex()}")
        print(f"signing back-end   {type(keys.issuer).__name__}")
    finally:
        keys.close()
    return 0


def keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    info = keyring.rotate(Path(args.dir), args.issuer_code, _passphrase(settings), pin=_pin(settings),
                          module=settings.pkcs11_module)
    print(f"new issuer {info.issuer_code} signing key kid {info.kid.hex()}, signs "
          f"{_fmt(info.usage_not_before)} .. {_fmt(info.usage_not_after)}; earlier certificates stay in the "
          "trust list (publish a new one)")
    return 0


def sign(args: argparse.Namespace, settings: Settings) -> int:
    args.dir = args.keys
    keys = _load(args, settings)
    try:
        record = json.loads(Path(args.record).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.record}: {exc}", file=sys.stderr)
        return 1
    credential = parse_credential(record)
    iat = int(time.time())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / Path(args.record).stem
    qr_cose = sign_credential(credential, keys.issuer, iat=iat, profile=Profile.QR)
    chip_cose = sign_credential(credential, keys.issuer, iat=iat, profile=Profile.CHIP, cti=os.urandom(8))
    keys.close()
    text = encode_qr_text(qr_cose)
    Path(f"{stem}.qr.txt").write_text(text + "\n", encoding="ascii")
    Path(f"{stem}.chip.cose").write_bytes(chip_cose)
    version = write_png(text, Path(f"{stem}.qr.png"))
    print(f"signed card {credential.card.card_number} for {credential.holder.family_name}, "
          f"{credential.holder.given_names}")
    print(f"QR: {len(qr_cose)} COSE bytes, {len(text)} characters, version {version}-Q -> {stem}.qr.png")
    print(f"chip: {len(chip_cose)} COSE bytes -> {stem}.chip.cose")
    return 0


def trust_list(args: argparse.Namespace, settings: Settings) -> int:
    args.dir = args.keys
    keys = _load(args, settings)
    now = int(time.time())
    try:
        data = build_trust_list(version=args.version or now, issued_at=now, next_update=now + args.hours * 3600,
                                issuer_certificates=keys.issuer_certificates,
                                revoked={args.issuer_code: args.revoked} if args.revoked else {},
                                signer=keys.trust_list_signer)
    finally:
        keys.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    print(f"trust list version {args.version or now}: {len(keys.issuer_certificates)} issuer certificate(s), "
          f"{len(args.revoked)} revoked, valid {args.hours} h -> {out}")
    return 0


def add_parsers(sub: argparse._SubParsersAction, settings: Settings) -> None:
    keys_default, code = str(settings.keys), settings.issuer_code
    keys = sub.add_parser("keys", help="manage the root CA, issuer signing keys and trust-list signer")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    init = keys_sub.add_parser("init", help="create the root CA, an issuer signing key and the trust-list signer")
    init.add_argument("--algorithm", choices=["ES256", "EDDSA"], default="ES256")
    init.add_argument("--force", action="store_true", help="replace existing keys")
    init.add_argument("--pkcs11", metavar="TOKEN", help="make the signing keys inside this HSM token "
                      "(PIN from SSC_ISSUER_PKCS11_PIN, module SSC_ISSUER_PKCS11_MODULE)")
    init.set_defaults(func=keys_init)
    lst = keys_sub.add_parser("list", help="show the certificates, current and retired, and their periods")
    lst.set_defaults(func=keys_list)
    rot = keys_sub.add_parser("rotate", help="a new issuer signing key; cards signed by the old one keep verifying")
    rot.set_defaults(func=keys_rotate)
    for p in (init, lst, rot):
        p.add_argument("--dir", default=keys_default, help="key folder (default: %(default)s)")
        p.add_argument("--issuer-code", default=code, help="issuing centre code (default: %(default)s)")

    sign_p = sub.add_parser("sign", help="sign a credential record (JSON) into QR text, a QR PNG and chip COSE")
    sign_p.add_argument("record", help="JSON file with holder, identifiers, permit, insurance, card")
    sign_p.add_argument("--out", default=str(settings.var / "out"), help="output folder (default: %(default)s)")
    sign_p.set_defaults(func=sign)

    tl = sub.add_parser("trust-list", help="sign a trust list with the given revocations, outside the service")
    tl.add_argument("--out", default=str(settings.var / "trust" / "trustlist.cose"))
    tl.add_argument("--version", type=int, default=0, help="version number (default: the current time)")
    tl.add_argument("--hours", type=int, default=24, help="hours until next_update (default: %(default)s)")
    tl.add_argument("--revoked", type=int, nargs="*", default=[], metavar="SERIAL", help="revoked card serials")
    tl.set_defaults(func=trust_list)
    for p in (sign_p, tl):
        p.add_argument("--keys", default=keys_default)
        p.add_argument("--issuer-code", default=code)
