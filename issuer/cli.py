"""ssc-issuer: the issuing side's command line.

Exit codes: 0 done, 1 the operation was refused (bad data, bad key), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from crypto import Algorithm, SscError, build_trust_list, parse_credential, sign_credential
from crypto.certs import IssuerCertificate
from crypto.claims import Profile
from crypto.pki import DevelopmentPki
from crypto.qrtext import encode_qr_text
from issuer.qr_image import write_png

DEV_PASSPHRASE = "sscard-development-only"


def var_dir() -> Path:
    return Path(os.environ.get("SSC_VAR", "var"))


def passphrase() -> bytes:
    value = os.environ.get("SSC_KEY_PASSPHRASE")
    if value is None:
        print("note: SSC_KEY_PASSPHRASE is not set; using the development passphrase", file=sys.stderr)
        value = DEV_PASSPHRASE
    return value.encode()


def _keys_init(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if DevelopmentPki.exists(folder, args.issuer_code) and not args.force:
        print(f"keys already exist in {folder} (use --force to replace them)")
        return 0
    pki = DevelopmentPki.create(folder, passphrase(), issuer_code=args.issuer_code,
                                algorithm=Algorithm[args.algorithm])
    print(f"created root CA, issuer {args.issuer_code} signing key ({args.algorithm}) and trust-list signer in {folder}")
    print(f"issuer kid {pki.issuer.kid.hex()}")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    pki = DevelopmentPki.load(Path(args.dir), passphrase(), issuer_code=args.issuer_code)
    info = IssuerCertificate.from_certificate(pki.issuer.certificate, pki.root)
    fmt = "%Y-%m-%d"
    print(f"root CA            {pki.root.subject.rfc4514_string()}  until {pki.root.not_valid_after_utc:{fmt}}")
    print(f"issuer {info.issuer_code:<11} kid {info.kid.hex()}  {info.algorithm.name}  signs "
          f"{time.strftime('%Y-%m-%d', time.gmtime(info.usage_not_before))} .. "
          f"{time.strftime('%Y-%m-%d', time.gmtime(info.usage_not_after))}, certificate until "
          f"{time.strftime('%Y-%m-%d', time.gmtime(info.not_after))}")
    print(f"trust-list signer  kid {pki.trust_list_signer.kid.hex()}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    pki = DevelopmentPki.load(Path(args.keys), passphrase(), issuer_code=args.issuer_code)
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
    qr_cose = sign_credential(credential, pki.issuer, iat=iat, profile=Profile.QR)
    chip_cose = sign_credential(credential, pki.issuer, iat=iat, profile=Profile.CHIP, cti=os.urandom(8))
    text = encode_qr_text(qr_cose)
    Path(f"{stem}.qr.txt").write_text(text + "\n", encoding="ascii")
    Path(f"{stem}.chip.cose").write_bytes(chip_cose)
    version = write_png(text, Path(f"{stem}.qr.png"))
    print(f"signed card {credential.card.card_number} for {credential.holder.family_name}, {credential.holder.given_names}")
    print(f"QR: {len(qr_cose)} COSE bytes, {len(text)} characters, version {version}-Q -> {stem}.qr.png")
    print(f"chip: {len(chip_cose)} COSE bytes -> {stem}.chip.cose")
    return 0


def _trust_list(args: argparse.Namespace) -> int:
    pki = DevelopmentPki.load(Path(args.keys), passphrase(), issuer_code=args.issuer_code)
    now = int(time.time())
    data = build_trust_list(version=args.version or now, issued_at=now, next_update=now + args.hours * 3600,
                            issuer_certificates=[pki.issuer.certificate],
                            revoked={args.issuer_code: args.revoked} if args.revoked else {},
                            signer=pki.trust_list_signer)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    print(f"trust list version {args.version or now}: 1 issuer, {len(args.revoked)} revoked, "
          f"valid {args.hours} h -> {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssc-issuer", description="Issue social security cards: keys, "
                                     "signing and trust-list publication.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    keys_default = str(var_dir() / "keys")

    keys = sub.add_parser("keys", help="manage the root CA, issuer signing key and trust-list signer")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    init = keys_sub.add_parser("init", help="create development keys (encrypted PKCS#8 files)")
    init.add_argument("--dir", default=keys_default, help="where to write keys (default: %(default)s)")
    init.add_argument("--issuer-code", default="SH01", help="issuing centre code (default: %(default)s)")
    init.add_argument("--algorithm", choices=["ES256", "EDDSA"], default="ES256")
    init.add_argument("--force", action="store_true", help="replace existing keys")
    init.set_defaults(func=_keys_init)
    lst = keys_sub.add_parser("list", help="show the certificates and their periods")
    lst.add_argument("--dir", default=keys_default)
    lst.add_argument("--issuer-code", default="SH01")
    lst.set_defaults(func=_keys_list)

    sign = sub.add_parser("sign", help="sign a credential record (JSON) into QR text, a QR PNG and chip COSE")
    sign.add_argument("record", help="JSON file with holder, identifiers, permit, insurance, card")
    sign.add_argument("--out", default=str(var_dir() / "out"), help="output folder (default: %(default)s)")
    sign.add_argument("--keys", default=keys_default)
    sign.add_argument("--issuer-code", default="SH01")
    sign.set_defaults(func=_sign)

    tl = sub.add_parser("trust-list", help="build and sign the trust list with revocation data")
    tl.add_argument("--out", default=str(var_dir() / "trust" / "trustlist.cose"))
    tl.add_argument("--keys", default=keys_default)
    tl.add_argument("--issuer-code", default="SH01")
    tl.add_argument("--version", type=int, default=0, help="version number (default: the current time)")
    tl.add_argument("--hours", type=int, default=24, help="hours until next_update (default: %(default)s)")
    tl.add_argument("--revoked", type=int, nargs="*", default=[], metavar="SERIAL", help="revoked card serials")
    tl.set_defaults(func=_trust_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SscError as exc:
        print(f"error: {exc.reason.value}: {exc.message}", file=sys.stderr)
        for err in getattr(exc, "errors", [])[:20]:
            print(f"  {err['field']}: {err['message']}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
