"""ssc-issuer: the issuing side's command line.

Keys (init, list, rotate), offline signing (sign, trust-list), the service (db upgrade,
serve, users, stations, audit verify, publish) and every lifecycle step against the
service's database (apply, approve, issue, ...). Configuration: the SSC_ISSUER_* environment
(issuer.settings), SSC_VAR for the development folder, SSC_KEY_PASSPHRASE.

Exit codes: 0 done; 1 the operation was refused (bad data, wrong state, bad key, audit log
tampered); 2 usage error; 3 not authenticated or not allowed.
"""

from __future__ import annotations

import argparse
import sys

from crypto import SscError
from firmware_tools.console import quiet_on_broken_pipe
from firmware_tools.settings_file import ConfigFileError
from issuer.artwork.cli import add_artwork_commands
from issuer.batch.cli import add_batch_commands
from issuer.station.cli import add_station_commands
from issuer.cli import ecard, keys, lifecycle, service
from issuer.services.errors import ServiceError
from issuer.settings import Settings


def build_parser(settings: Settings | None = None) -> argparse.ArgumentParser:
    settings = settings or Settings()
    parser = argparse.ArgumentParser(
        prog="ssc-issuer", description="Issue social security cards: keys, signing, the issuer service, the card "
        "lifecycle and trust-list publication.", epilog="exit codes: 0 done, 1 refused, 2 usage, 3 not authorised")
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file (default: $SSC_ISSUER_CONFIG); "
                        "the environment's SSC_ISSUER_* win over it")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    keys.add_parsers(sub, settings)
    service.add_parsers(sub, settings)
    lifecycle.add_parsers(sub, settings)
    ecard.add_parsers(sub, settings)
    add_artwork_commands(sub)  # its commands take (args, settings=None)
    add_station_commands(sub)
    add_batch_commands(sub)
    return parser


def _config_file(argv: list[str] | None) -> str | None:
    """--config FILE (before the command), read before the parser is built: the parser's
    defaults come from the settings."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    return early.parse_known_args(argv)[0].config


@quiet_on_broken_pipe
def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_config(_config_file(argv))
    except ConfigFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = build_parser(settings).parse_args(argv)
    try:
        return args.func(args, settings)
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for err in exc.errors[:20]:
            print(f"  {err['field']}: {err['message']}", file=sys.stderr)
        return 1
    except SscError as exc:
        print(f"error: {exc.reason.value}: {exc.message}", file=sys.stderr)
        for err in getattr(exc, "errors", [])[:20]:
            print(f"  {err['field']}: {err['message']}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
