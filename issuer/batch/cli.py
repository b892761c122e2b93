"""`ssc-issuer batch import|approve|issue|status|list`: batch issuance on the service's
database, as the named officer (--user; password from SSC_ISSUER_PASSWORD or a prompt).

Exit codes: 0 done; 1 refused (rows with errors: nothing imported; four eyes; a card that
cannot be signed); 2 usage; 3 not authenticated or not allowed.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

from tqdm import tqdm

from issuer import auth
from issuer.batch import batches
from issuer.batch.importer import import_file
from issuer.batch.issuing import BatchIssueError, issue_batch, pending
from issuer.batch.pool import default_workers, usable_cpus
from issuer.db.models import Role
from issuer.services.runtime import Runtime
from issuer.settings import Settings

E, A = Role.ENROLLER, Role.APPROVER
IMPORT_HELP = """\
Import a file of new applications (.csv or .jsonl; docs/operations.md "Batch issuance"):
every row is validated field by field and its photo checked; the rows that fail are listed
(line, field, message) and then NOTHING of the file is imported — fix them and run again.
A clean file becomes one batch of submitted applications, for another officer to approve
(`batch approve`) and then to issue (`batch issue`).
"""
ISSUE_HELP = """\
Issue the approved applications of a batch: sign each card's QR credential and chip profile,
store the cards and queue the physical ones for the issuance stations. Works in chunks, one
transaction each: if it is stopped or killed, run it again — it goes on where it stopped,
without duplicates or gaps in the serials.
"""


def _peak_mib() -> float:
    """This process's peak resident memory: VmHWM (ru_maxrss also counts, on Linux, the pages
    of the process it was started from, up to its exec)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _as(args: argparse.Namespace, settings: Settings, rt: Runtime, roles: tuple[Role, ...]) -> str | None:
    from issuer.cli.lifecycle import _principal

    with rt.db.session() as session:
        try:
            principal = _principal(session, args, settings)
        except auth.AuthError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return None
    if not principal.has(*roles):
        print(f"error: this needs the role {' or '.join(r.value for r in roles)}", file=sys.stderr)
        return None
    return principal.actor


def _bar(args: argparse.Namespace, total: int, initial: int = 0, unit: str = "rows") -> tqdm:
    return tqdm(total=total, initial=initial, unit=unit, disable=args.no_progress, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5)


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    rt = Runtime(settings)
    try:
        actor = _as(args, settings, rt, (E,))
        if actor is None:
            return 3
        shown, report = [0], open(args.report, "w", encoding="utf-8") if args.report else None

        def on_error(error: dict) -> None:
            if report is not None:
                report.write(json.dumps(error, ensure_ascii=False) + "\n")
            if shown[0] < args.max_errors:
                tqdm.write(f"line {error['line']}: {error['field']}: {error['message']}", file=sys.stdout)
            shown[0] += 1
        with open(path, "rb") as fh:
            lines = sum(1 for _ in fh)
        workers = default_workers(lines) if args.workers is None else args.workers
        try:
            with _bar(args, max(lines - (path.suffix.lower() == ".csv"), 0)) as bar:
                result = import_file(rt, actor, path, workers=workers, chunk=args.chunk, on_error=on_error,
                                     progress=bar.update)
        finally:
            if report is not None:
                report.close()
    finally:
        rt.close()
    if not result.committed:
        hidden = max(result.errors - args.max_errors, 0)
        where = f"every error is in {args.report}" if args.report else "--report FILE lists every error"
        print(f"NOT IMPORTED: {result.failed} of {result.rows} rows have errors ({result.errors} in all"
              + (f", {hidden} not shown" if hidden else "") + f"; {where}). Nothing was written.")
        return 1
    print(f"imported {result.rows} rows as batch {result.batch_id}: submitted applications; another officer "
          f"approves them with `ssc-issuer batch approve {result.batch_id}`")
    return 0


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    rt = Runtime(settings)
    try:
        actor = _as(args, settings, rt, (A,))
        if actor is None:
            return 3
        with rt.db.session() as session:
            approved, left = batches.approve(session, actor, args.batch, args.note)
            session.commit()
    finally:
        rt.close()
    print(f"batch {args.batch}: {approved} applications approved"
          + (f"; {left} left submitted (documents or photo missing: decide them one by one)" if left else ""))
    return 0


def cmd_issue(args: argparse.Namespace, settings: Settings) -> int:
    rt = Runtime(settings)
    try:
        actor = _as(args, settings, rt, (E, A))
        if actor is None:
            return 3
        with rt.db.session() as session:
            batches.status(session, args.batch)  # 404 for an unknown batch
            issued, waiting = pending(session, args.batch)
        workers = default_workers(waiting, min_cpus=4) if args.workers is None else args.workers
        try:
            with _bar(args, issued + waiting, issued, unit="cards") as bar:
                result = issue_batch(rt, actor, args.batch, chunk=args.chunk, workers=workers,
                                     progress=bar.update)
        except BatchIssueError as exc:
            print(f"error: {exc}; the chunk was not kept, nothing else changed", file=sys.stderr)
            return 1
    finally:
        rt.close()
    rate = result.issued / result.seconds if result.seconds else 0.0
    print(f"batch {args.batch}: {result.issued} cards issued in {result.seconds:.2f} s ({rate:.0f} cards/s, "
          f"{workers} signing workers), {issued + result.issued} of {issued + waiting} in all; "
          f"peak memory {_peak_mib():.0f} MiB")
    for reason in result.reasons:
        print(f"  not issued: {reason}")
    return 1 if result.skipped else 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    rt = Runtime(settings)
    try:
        with rt.db.session() as session:
            report = batches.status(session, args.batch)
    finally:
        rt.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"batch {report.batch_id} ({report.name}): {report.rows} rows, imported by {report.created_by}"
              + (f", approved by {report.approved_by}" if report.approved_by else ", not approved"))
        print("  applications: " + (", ".join(f"{k} {v}" for k, v in sorted(report.applications.items())) or "none"))
        print("  cards: " + (", ".join(f"{k} {v}" for k, v in sorted(report.cards.items())) or "none"))
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    rt = Runtime(settings)
    try:
        with rt.db.session() as session:
            for b in batches.list_batches(session, args.limit):
                print(f"batch {b.id:>5}  {b.rows:>7} rows  {b.name}  imported by {b.created_by} at "
                      f"{b.created_at:%Y-%m-%d %H:%M}" + (f", approved by {b.approved_by}" if b.approved_by else ""))
    finally:
        rt.close()
    return 0


def add_batch_commands(sub: argparse._SubParsersAction) -> None:
    bt = sub.add_parser("batch", help="batch issuance: import a file of applications, approve, issue")
    bt_sub = bt.add_subparsers(dest="batch_command", required=True, metavar="ACTION")

    imp = bt_sub.add_parser("import", help="import a .csv or .jsonl file of new applications (all rows or none)",
                            description=IMPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    imp.add_argument("file")
    imp.add_argument("--report", metavar="ERRORS.jsonl", help="write every error here, one JSON object a line")
    imp.add_argument("--max-errors", type=int, default=50, help="errors printed (default %(default)s)")
    imp.set_defaults(func=cmd_import)

    app = bt_sub.add_parser("approve", help="approve a batch's complete applications (not your own import)")
    app.add_argument("batch", type=int)
    app.add_argument("--note")
    app.set_defaults(func=cmd_approve)

    iss = bt_sub.add_parser("issue", help="issue a batch's approved applications (resumable)", description=ISSUE_HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    iss.add_argument("batch", type=int)
    iss.set_defaults(func=cmd_issue)

    st = bt_sub.add_parser("status", help="a batch's applications and cards by status")
    st.add_argument("batch", type=int)
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    ls = bt_sub.add_parser("list", help="the latest batches")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=cmd_list)

    for parser, what, cpus in ((imp, "checking photos", 2), (iss, "signing", 4)):
        parser.add_argument("--workers", type=int,
                            help=f"worker processes {what} (default: one per CPU from {cpus} CPUs and 2,000 rows; "
                                 f"this machine has {usable_cpus()}; 0: all in this process)")
        parser.add_argument("--chunk", type=int, default=500, help="rows per database round (default %(default)s)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    for parser in (imp, app, iss):
        parser.add_argument("--user", help="the officer (password: SSC_ISSUER_PASSWORD or a prompt)")
