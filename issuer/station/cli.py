"""`ssc-issuer station run|jobs|spoil`: the issuance station's commands.

The station is its own machine: it talks to the issuer service over HTTP with its API key
(SSC_ISSUER_API_KEY, from `ssc-issuer stations add`), and to the card encoder through PC/SC.

Exit codes: 0 done; 1 the card or the job was refused, or personalisation stopped (the job
is released: put the card back and run again); 2 usage; 3 the API key is not valid; 4
nothing to do (no card within --wait, or no job for it); 5 the issuer or PC/SC cannot be
reached; 6 the card is personalised but its artwork could not be made or printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from crypto import SscError, parse_credential
from firmware_tools.card import apdus
from firmware_tools.link import LinkError, PcscUnavailableError, ReaderGoneError
from issuer.station.client import IssuerClient, IssuerUnreachable, NotAuthorised, StationClientError
from issuer.station.runner import CardNotUsable, JobStopped, NoJob, StationError, inspect, personalise_next

EXIT_OK, EXIT_REFUSED, EXIT_AUTH, EXIT_NOTHING, EXIT_UNREACHABLE, EXIT_ARTWORK = 0, 1, 3, 4, 5, 6
DEFAULT_ISSUER = "http://127.0.0.1:8400"
TRANSPORT_PIN = "123456"  # the PIN the centre's blanks are delivered with (reference card default)

RUN_HELP = """\
Personalise the cards put into the encoder READER, one after another: for each, take the
next job from the issuer (or, for a card whose personalisation stopped, its own job), have
the card make its key, have the issuer sign the security object for it, write every data
group, read everything back, lock the card and report it. With --out or a card printer,
the card's artwork is made (and printed) too.

When a card is pulled out or refused half-way, the job goes back to the queue and the card
is left unusable for any terminal: put the same card back and run again to resume it.
"""


def _client(args: argparse.Namespace) -> IssuerClient:
    key = os.environ.get("SSC_ISSUER_API_KEY")
    if not key:
        raise _Usage("set SSC_ISSUER_API_KEY to the station's API key (from `ssc-issuer stations add NAME`)")
    return IssuerClient.connect(args.issuer, key)


class _Usage(Exception):
    pass


def _link(reader: str):
    from firmware_tools.pcsc import PcscLink

    # Exclusive: no other PC/SC client may slip an APDU between the station's commands.
    return PcscLink(reader, exclusive=True, removal_grace=2.0)


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        print(text, flush=True)


def _one_card(args: argparse.Namespace, client: IssuerClient, link) -> int:
    line: list = []  # the step being shown and its files

    def show_step(step=None, ef=None) -> None:
        if line and line[0] is not step:
            _say(args, "  " + " ".join([line[0].value, *line[1:]]))
            line.clear()
        if step is not None:
            if not line:
                line.append(step)
            if ef is not None:
                line.append(ef.name)

    def on_job(job, card) -> None:
        how = ("resumes the job of its chip" if job.resumed else "takes the next job" if card.chip_id is None
               else "its chip has no security object yet: takes the next job")
        _say(args, f"card in {args.reader}: {card.lifecycle.name.lower()}, ATR {card.atr.hex(' ').upper()}; {how}")
        _say(args, f"job {job.id}: card {job.card_number} (serial {job.serial}), attempt {job.attempts}")

    try:
        result = personalise_next(link, client, pin=args.pin, on_step=show_step, on_job=on_job)
    finally:
        show_step()
    t = result.traffic
    if result.already_done:
        _say(args, f"card {result.card_number}: already personalised and reported (job {result.job_id})")
    else:
        _say(args, f"card {result.card_number} personalised and locked: chip id {result.chip_id}; {t.apdus} APDUs, "
                   f"{t.bytes_sent} bytes sent, {t.bytes_received} received, {result.seconds:.2f} s "
                   f"({result.issuer_seconds:.2f} s waiting for the issuer)")
        _say(args, f"reported to the issuer: job {result.job_id} done, card {result.card_id} personalised")
    code, artwork = _artwork(args, client, result) if (args.out or args.printer) else (EXIT_OK, None)
    if args.json:
        print(json.dumps({**result.to_dict(), "artwork": artwork}))
    return code


def _artwork(args: argparse.Namespace, client: IssuerClient, result) -> tuple[int, dict | None]:
    """Render the card (issuer.artwork), write it to --out and print it if a printer is set."""
    from issuer.artwork import ArtworkError, render_card
    from issuer.artwork.printing import print_or_write

    job = result.job
    out = Path(args.out) if args.out else Path(os.environ.get("SSC_VAR", "var")) / "out"
    try:
        art = render_card(parse_credential(job.record), job.qr_text, job.photo)
        done = print_or_write(art, out, printer=args.printer, options=args.lp_option)
    except (ArtworkError, SscError) as exc:
        print(f"error: card {result.card_number} is personalised, but its artwork failed: {exc}", file=sys.stderr)
        return EXIT_ARTWORK, None
    for path in done.files:
        _say(args, f"artwork: wrote {path}")
    if done.printed:
        client.printed(result.card_id)
        _say(args, f"artwork: sent to printer {done.printer}" + (f" as job {done.job_id}" if done.job_id else "")
                   + "; card reported printed")
    return EXIT_OK, {"files": [str(p) for p in done.files], "printer": done.printer, "print_job": done.job_id}


def _wait_removed(link) -> None:
    while link.wait_for_card(0):
        time.sleep(0.2)


def cmd_run(args: argparse.Namespace, settings=None) -> int:
    client = _client(args)
    link = _link(args.reader)
    done, code = 0, EXIT_OK
    try:
        while args.count == 0 or done < args.count:
            if not link.wait_for_card(args.wait):
                print(f"no card in {args.reader} within {args.wait:g} s", file=sys.stderr)
                return EXIT_NOTHING if done == 0 else code
            link.connect()
            try:
                code = _one_card(args, client, link)
            except (CardNotUsable, JobStopped, NoJob) as exc:
                print(f"error: {exc}", file=sys.stderr)
                code = exc.exit_code
            finally:
                link.disconnect()
            done += 1
            if args.count != 1 and (args.count == 0 or done < args.count):
                _say(args, "take the card out")
                _wait_removed(link)
        return code
    finally:
        link.disconnect()
        client.close()


def cmd_jobs(args: argparse.Namespace, settings=None) -> int:
    client = _client(args)
    try:
        rows = client.jobs(args.state, args.limit)
    finally:
        client.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        state = row["state"] if row["card_status"] in ("issued", None) or row["state"] == "done" else \
            f"{row['state']} (card {row['card_status']}: not handed out)"
        print(f"job {row['id']:>6}  card {row['card_id']:>6}  {state:<8} attempts {row['attempts']}  "
              f"chip {row['chip_id'] or '-':<16}  {row['station'] or ''}"
              + (f"  last error: {row['last_error']}" if row["last_error"] else ""))
    print(f"{len(rows)} job(s)")
    return EXIT_OK


def cmd_spoil(args: argparse.Namespace, settings=None) -> int:
    """Unbind a spoiled chip from its job: the card in --reader (terminated with --terminate),
    or, for a chip that is lost or broken, --job ID."""
    client = _client(args)
    try:
        if args.job is not None:
            client.spoil(args.job, lease=None, chip_id=None, reason=args.reason, terminated=False)
            print(f"job {args.job}: its chip is recorded spoiled; the job takes a new blank now")
            return EXIT_OK
        link = _link(args.reader)
        link.connect()
        try:
            card = inspect(link)
            job = client.claim(chip_id=card.chip_id, locked=True) if card.chip_id else None
            if job is None or not job.resumed or job.state == "done":
                print("error: the card in the reader has no open job bound to its chip: nothing to spoil",
                      file=sys.stderr)
                return EXIT_NOTHING
            if args.terminate:
                response = link.send(apdus.terminate())
                if response.sw != 0x9000:
                    print(f"error: TERMINATE CARD USAGE answered {response.sw:04X}", file=sys.stderr)
                    return EXIT_REFUSED
            client.spoil(job.id, lease=job.lease, chip_id=card.chip_id, reason=args.reason,
                         terminated=args.terminate)
        finally:
            link.disconnect()
        print(f"job {job.id}: chip {card.chip_id} recorded spoiled" + (" and terminated" if args.terminate else "")
              + "; the job takes a new blank now")
        return EXIT_OK
    finally:
        client.close()


def _guarded(command):
    def run(args: argparse.Namespace, settings=None) -> int:
        try:
            return command(args, settings)
        except _Usage as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except NotAuthorised as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_AUTH
        except IssuerUnreachable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except (PcscUnavailableError, ReaderGoneError) as exc:
            print(f"error: PC/SC: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except (StationError, StationClientError, LinkError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return getattr(exc, "exit_code", EXIT_REFUSED)
    return run


def add_station_commands(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser("station", help="the issuance station: personalise cards through a PC/SC encoder, print them")
    st_sub = st.add_subparsers(dest="station_command", required=True, metavar="ACTION")
    issuer = os.environ.get("SSC_ISSUER_URL", DEFAULT_ISSUER)

    run = st_sub.add_parser("run", help="personalise the cards put into the encoder", description=RUN_HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            epilog="exit codes: 0 done, 1 refused or stopped (job released), 2 usage, 3 API key, "
                                   "4 nothing to do, 5 issuer or PC/SC unreachable, 6 artwork or printing failed")
    run.add_argument("--reader", required=True, help="the encoder's PC/SC reader name (or a unique prefix)")
    run.add_argument("--pin", default=TRANSPORT_PIN, help="the blanks' transport PIN, to read EF.DG4 back "
                                                          "(default: %(default)s)")
    count = run.add_mutually_exclusive_group()
    count.add_argument("--once", dest="count", action="store_const", const=1, help="one card, then stop")
    count.add_argument("--count", type=int, default=0, help="stop after N cards (default: run until stopped)")
    run.add_argument("--wait", type=float, default=3600.0, help="seconds to wait for a card (default: an hour)")
    run.add_argument("--out", help="write each card's artwork (PNG, PDF) into this folder")
    run.add_argument("--printer", default=os.environ.get("SSC_ISSUER_CARD_PRINTER"),
                     help="CUPS queue of the card printer (default: $SSC_ISSUER_CARD_PRINTER); the card is "
                          "reported printed once lp took the job")
    run.add_argument("--lp-option", action="append", default=[], metavar="NAME=VALUE", help="for `lp -o`")
    run.add_argument("--json", action="store_true", help="one JSON line per card")
    run.set_defaults(func=_guarded(cmd_run))

    jobs = st_sub.add_parser("jobs", help="the queue: jobs, their state, station, chip and last error")
    jobs.add_argument("--state", choices=["queued", "claimed", "done"])
    jobs.add_argument("--limit", type=int, default=100)
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(func=_guarded(cmd_jobs))

    spoil = st_sub.add_parser("spoil", help="a chip bound to a job is spoiled: free the job for a new blank")
    where = spoil.add_mutually_exclusive_group(required=True)
    where.add_argument("--reader", help="the spoiled card is in this reader")
    where.add_argument("--job", type=int, help="the job whose chip is lost or broken")
    spoil.add_argument("--terminate", action="store_true", help="send TERMINATE CARD USAGE to the card first "
                                                                "(irreversible: no terminal accepts it again)")
    spoil.add_argument("--reason", required=True, help="what happened (kept in the audit log)")
    spoil.set_defaults(func=_guarded(cmd_spoil))

    for parser in (run, jobs, spoil):
        parser.add_argument("--issuer", default=issuer, help=f"the issuer service (default: $SSC_ISSUER_URL or "
                                                             f"{DEFAULT_ISSUER})")
