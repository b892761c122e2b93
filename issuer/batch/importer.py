"""`batch import`: a file of applications in ONE transaction — every row or none.

The file is read as a stream in chunks of `chunk` rows: each row is validated (field by
field, with the issuer's input models; its photo checked and normalised, in worker
processes when there are several CPUs), checked against the database and the rows before it
(the social security and work permit numbers are unique), and written with bulk inserts:
the person, the five insurances, a new application with its document checklist, and the
batch item naming the line. Errors do not stop the reading: every failing row is reported
(line, field, message). At the end, a file with any error is rolled back — nothing of it
stays in the database — and a clean file is committed as one batch, with one audit row.

Memory stays flat: one chunk of rows is held at a time (the duplicate checks ask the
database, where the earlier rows of the same transaction are visible), and the errors go
to a callback, not into a list.

Trade-off of the one transaction: on SQLite it holds the write lock while the file is
imported (other writers wait up to 30 s, then fail); on PostgreSQL it locks only the new
rows, and the audit head only at the very end. Import large files outside office hours on
SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from issuer import audit
from issuer.batch import rows as batch_rows
from issuer.batch.pool import Workers
from issuer.db.models import (Application, ApplicationKind, ApplicationStatus, DocumentStatus, DocumentType, Employer,
                              InsuranceEnrolment, Person, SupportingDocument)
from issuer.db.production_models import Batch, BatchItem
from issuer.services.applications import REQUIRED
from issuer.services.errors import Conflict
from issuer.services.runtime import Runtime

ErrorSink = Callable[[dict], None]
_NEW_REQUIRED = REQUIRED[ApplicationKind.NEW]


@dataclass
class ImportResult:
    batch_id: int | None     # None when nothing was imported
    rows: int                # rows read
    failed: int              # rows with at least one error
    errors: int              # error messages

    @property
    def committed(self) -> bool:
        return self.batch_id is not None


_worker: dict = {}


def _init_worker(base: str, csv_columns: bool, limits: dict) -> None:
    _worker.update(base=Path(base), csv_columns=csv_columns, limits=limits)


def _validate(row: batch_rows.Row):
    return batch_rows.validate(row, _worker["base"], csv_columns=_worker["csv_columns"], **_worker["limits"])


def import_file(rt: Runtime, actor: str, path: Path, *, workers: int = 0, chunk: int = 500,
                on_error: ErrorSink | None = None, progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import `path` (.csv or .jsonl) as one batch of applications entered by `actor`."""
    path = Path(path)
    digest, _lines = batch_rows.file_digest(path)
    s = rt.settings
    limits = {"max_photo_bytes": s.photo_max_upload_bytes, "min_width": s.photo_min_width,
              "min_height": s.photo_min_height, "max_pixels": s.photo_max_pixels}
    csv_columns = path.suffix.lower() == ".csv"
    with rt.db.session() as session:
        known = session.execute(select(Batch.id).where(Batch.sha256 == digest)).scalar_one_or_none()
        if known is not None:
            raise Conflict(f"this file (sha256 {digest[:16]}...) was imported already, as batch {known}")
        batch = Batch(name=path.name[:200], sha256=digest, created_by=actor)
        session.add(batch)
        session.flush()
        run = _Run(_Writer(session, batch.id, actor), csv_columns, on_error, progress)
        stream = batch_rows.read_rows(path)
        with Workers(workers, _init_worker, (str(path.parent), csv_columns, limits)) as pool:
            ahead = None
            while block := list(islice(stream, chunk)):
                checking = pool.map(_validate, [r for r in block if not isinstance(r, dict)], chunksize=32)
                if ahead is not None:
                    run.finish(*ahead)  # while the workers check this block
                ahead = (block, checking)
            if ahead is not None:
                run.finish(*ahead)
        if run.failed or run.read == 0 or run.writer.rows == 0:
            session.rollback()
            return ImportResult(None, run.read, run.failed, run.errors)
        batch.rows = run.writer.rows
        session.flush()
        audit.append(session, actor, "batch.import", "batch", batch.id,
                     {"rows": batch.rows, "sha256": digest, "employers_created": run.writer.employers_created})
        session.commit()
        return ImportResult(batch.id, run.read, 0, 0)


class _Run:
    """The counts of one import, and what is done with each checked block."""

    def __init__(self, writer: _Writer, csv_columns: bool, on_error: ErrorSink | None,
                 progress: Callable[[int], None] | None):
        self.writer, self.csv_columns = writer, csv_columns
        self.report, self.progress = on_error or (lambda error: None), progress
        self.read = self.failed = self.errors = 0

    def finish(self, block: list, checked) -> None:
        """Report the block's errors (in line order, once each) and write its valid rows."""
        bad: dict[int, list[dict]] = {}
        checked = list(checked)
        for error in [r for r in block if isinstance(r, dict)] + [e for c in checked if isinstance(c, list) for e in c]:
            bad.setdefault(error["line"], []).append(error)
        for error in self.writer.write([c for c in checked if not isinstance(c, list)]):
            if self.csv_columns:
                error["field"] = batch_rows.COLUMN_OF.get(error["field"], error["field"])
            bad.setdefault(error["line"], []).append(error)
        for line in sorted(bad):
            bad[line] = list({(e["field"], e["message"]): e for e in bad[line]}.values())
            for error in bad[line]:
                self.report(error)
        self.read += len(block)
        self.failed += len(bad)
        self.errors += sum(map(len, bad.values()))
        if self.progress is not None:
            self.progress(len(block))


class _Writer:
    """Bulk inserts of validated rows, after the duplicate checks."""

    def __init__(self, session: Session, batch_id: int, actor: str):
        self.session, self.batch_id, self.actor = session, batch_id, actor
        self.rows = self.employers_created = 0

    def write(self, valid: list[batch_rows.ValidRow]) -> list[dict]:
        """Insert the rows that pass the duplicate checks; the errors of the others."""
        errors = list({(e["line"], e["field"]): e for e in self._duplicates(valid)}.values())
        bad_lines = {e["line"] for e in errors}
        rows = [r for r in valid if r.line not in bad_lines]
        if rows:
            self._insert(rows)
        return errors

    def _duplicates(self, valid: list[batch_rows.ValidRow]) -> list[dict]:
        errors, seen = [], {}
        for row in valid:
            ids = row.value.person.identifiers
            for name, value in (("social_security_number", ids.social_security_number),
                                ("work_permit_number", ids.work_permit_number)):
                earlier = seen.setdefault((name, value), row.line)
                if earlier != row.line:
                    errors.append({"line": row.line, "field": f"person.identifiers.{name}",
                                   "message": f"the same as on line {earlier}"})
        if not valid:
            return errors
        ssns = [r.value.person.identifiers.social_security_number for r in valid]
        wpns = [r.value.person.identifiers.work_permit_number for r in valid]
        found = self.session.execute(
            select(Person.social_security_number, Person.work_permit_number, BatchItem.line)
            .outerjoin(Application, Application.person_id == Person.id)
            .outerjoin(BatchItem, (BatchItem.application_id == Application.id) & (BatchItem.batch_id == self.batch_id))
            .where(or_(Person.social_security_number.in_(ssns), Person.work_permit_number.in_(wpns)))).all()
        by_number = {}
        for ssn, wpn, line in found:
            by_number[("social_security_number", ssn)] = line
            by_number[("work_permit_number", wpn)] = line
        for row in valid:
            ids = row.value.person.identifiers
            for name, value in (("social_security_number", ids.social_security_number),
                                ("work_permit_number", ids.work_permit_number)):
                if (name, value) in by_number:
                    line = by_number[(name, value)]
                    where = f"the same as on line {line}" if line else "a person with this number is registered already"
                    errors.append({"line": row.line, "field": f"person.identifiers.{name}", "message": where})
        return errors

    def _employers(self, rows: list[batch_rows.ValidRow]) -> dict[str, int]:
        wanted = {r.value.employer.uscc: r.value.employer for r in reversed(rows)}  # the first row's data wins
        ids = dict(self.session.execute(select(Employer.uscc, Employer.id).where(Employer.uscc.in_(wanted))).all())
        missing = [e for uscc, e in wanted.items() if uscc not in ids]
        if missing:
            made = self.session.execute(insert(Employer).returning(Employer.uscc, Employer.id),
                                        [{"uscc": e.uscc, "name": e.name, "address": e.address} for e in missing])
            ids.update(dict(made.all()))
            self.employers_created += len(missing)
        return ids

    def _insert(self, rows: list[batch_rows.ValidRow]) -> None:
        s, actor = self.session, self.actor
        self._employers(rows)
        people = []
        for r in rows:
            h, i = r.value.person.holder, r.value.person.identifiers
            people.append({"family_name": h.family_name, "given_names": h.given_names, "chinese_name": h.chinese_name,
                           "nationality": h.nationality, "birth_date": h.birth_date, "sex": int(h.sex),
                           "social_security_number": i.social_security_number,
                           "work_permit_number": i.work_permit_number, "passport_number": i.passport_number,
                           "permanent_residence_id": i.permanent_residence_id, "photo_jpeg": r.photo,
                           "photo_sha256": r.photo_sha256, "created_by": actor})
        person_ids = s.execute(insert(Person).returning(Person.id, sort_by_parameter_order=True), people).scalars().all()
        insurance = [{"person_id": pid, "type": int(e.type), "status": int(e.status), "since": e.since,
                      "paid_through": e.paid_through}
                     for pid, r in zip(person_ids, rows) if r.value.insurance for e in r.value.insurance.enrolments]
        if insurance:
            s.execute(insert(InsuranceEnrolment), insurance)
        apps = [{"person_id": pid, "kind": ApplicationKind.NEW, "status": ApplicationStatus.SUBMITTED,
                 "card_kind": int(r.value.card_kind), "created_by": actor,
                 "request": json.dumps(r.value.permit.model_dump(mode="json"), sort_keys=True, default=str)}
                for pid, r in zip(person_ids, rows)]
        app_ids = s.execute(insert(Application).returning(Application.id, sort_by_parameter_order=True),
                            apps).scalars().all()
        documents = []
        for app_id, r in zip(app_ids, rows):
            given = r.value.documents
            documents += [{"application_id": app_id, "type": d, "required": d in _NEW_REQUIRED,
                           "status": given.get(d, DocumentStatus.MISSING), "reference": None,
                           "updated_by": actor if d in given else None} for d in DocumentType]
        s.execute(insert(SupportingDocument), documents)
        s.execute(insert(BatchItem), [{"batch_id": self.batch_id, "line": r.line, "application_id": a}
                                      for a, r in zip(app_ids, rows)])
        self.rows += len(rows)
