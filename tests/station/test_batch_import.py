"""`batch import`: CSV and JSON Lines, field-level errors with the line (and the CSV column),
nothing imported from a file with any error, the same file refused twice; four-eyes
approval of a batch."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from issuer.batch import batches
from issuer.batch.importer import import_file
from issuer.db.models import Application, ApplicationStatus, InsuranceEnrolment, Person, SupportingDocument
from issuer.db.production_models import Batch, BatchItem
from issuer.services.errors import Conflict, FourEyesViolation
from tests.station.station_support import issue_cards

import batch_data


def count(rt, model) -> int:
    with rt.db.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def run_import(rt, path, **kw):
    errors = []
    result = import_file(rt, "user:erin", path, on_error=errors.append, **kw)
    return result, errors


def test_jsonl_rows_become_one_batch_of_submitted_applications(runtime, tmp_path):
    path = batch_data.write_jsonl(tmp_path / "batch.jsonl", batch_data.rows(12))
    result, errors = run_import(runtime, path, chunk=5)
    assert errors == [] and result.committed and result.rows == 12
    with runtime.db.session() as s:
        apps = s.execute(select(Application).join(BatchItem, BatchItem.application_id == Application.id)
                         .where(BatchItem.batch_id == result.batch_id).order_by(BatchItem.line)).scalars().all()
        assert len(apps) == 12 and {a.status for a in apps} == {ApplicationStatus.SUBMITTED}
        assert {a.created_by for a in apps} == {"user:erin"}
        assert s.execute(select(func.count()).select_from(InsuranceEnrolment)).scalar_one() == 60
        assert all(len(a.documents) == 7 and not any(d.status.value == "missing" for d in a.documents) for a in apps)
        people = s.execute(select(Person)).scalars().all()
        assert all(p.photo_jpeg[:2] == b"\xff\xd8" and p.photo_sha256 for p in people)  # normalised JPEG
        assert s.get(Batch, result.batch_id).rows == 12


def test_csv_gives_the_same_rows(sqlite_runtime, tmp_path):
    data = list(batch_data.rows(4))
    data[1]["person"]["holder"].pop("chinese_name", None)
    data[2]["insurance"] = None
    path = batch_data.write_csv(tmp_path / "batch.csv", data)
    result, errors = run_import(sqlite_runtime, path)
    assert errors == [] and result.rows == 4 and result.committed
    assert count(sqlite_runtime, InsuranceEnrolment) == 15  # row 3 has none


def test_rows_with_errors_are_reported_by_line_and_column_and_nothing_is_imported(sqlite_runtime, tmp_path):
    issue_cards(sqlite_runtime, 1)
    with sqlite_runtime.db.session() as s:
        registered = s.execute(select(Person.social_security_number)).scalar_one()
    before = {m: count(sqlite_runtime, m) for m in (Person, Application, SupportingDocument, Batch, BatchItem)}
    data = list(batch_data.rows(8, start=100))
    data[0]["person"]["holder"]["nationality"] = "XYZ"                      # line 2
    data[1]["employer"]["uscc"] = "91310000MA1FL8TQ3X"                      # line 3: check character
    data[2]["photo"] = "photos/missing.jpg"                                 # line 4
    data[4]["person"]["identifiers"] = dict(data[3]["person"]["identifiers"])  # line 6 = line 5
    data[5]["permit"]["valid_from"] = "2031-01-01"                          # line 7: after valid_until
    data[6]["person"]["identifiers"]["social_security_number"] = registered  # line 8: registered
    path = batch_data.write_csv(tmp_path / "batch.csv", data)
    (tmp_path / "photos" / "missing.jpg").unlink(missing_ok=True)
    result, errors = run_import(sqlite_runtime, path, chunk=3)
    assert not result.committed and result.rows == 8 and result.failed == 6
    found = {(e["line"], e["field"]) for e in errors}
    assert {(2, "nationality"), (3, "employer_uscc"), (4, "photo"), (6, "social_security_number"),
            (6, "work_permit_number"), (7, "valid_from"), (8, "social_security_number")} <= found, errors
    by_line = {e["line"]: e["message"] for e in errors}
    assert "line 5" in by_line[6] and "registered already" in by_line[8]
    assert {m: count(sqlite_runtime, m) for m in before} == before  # nothing half-imported


def test_jsonl_errors_name_the_nested_field_and_unreadable_lines(sqlite_runtime, tmp_path):
    data = list(batch_data.rows(3, start=200))
    data[1]["person"]["identifiers"]["work_permit_number"] = "12345"
    path = batch_data.write_jsonl(tmp_path / "batch.jsonl", iter(data))
    with open(path, "a") as fh:
        fh.write("{not json\n\n[1, 2]\n")
    result, errors = run_import(sqlite_runtime, path)
    assert not result.committed
    assert [(e["line"], e["field"]) for e in errors] == [(2, "person.identifiers.work_permit_number"),
                                                          (4, "(row)"), (6, "(row)")]
    assert "18 digits" in errors[0]["message"]


def test_the_same_file_is_imported_once(sqlite_runtime, tmp_path):
    path = batch_data.write_jsonl(tmp_path / "batch.jsonl", batch_data.rows(2, start=300))
    assert run_import(sqlite_runtime, path)[0].committed
    with pytest.raises(Conflict, match="imported already, as batch 1"):
        run_import(sqlite_runtime, path)


def test_a_batch_is_approved_by_another_officer_and_incomplete_applications_wait(sqlite_runtime, tmp_path):
    data = list(batch_data.rows(3, start=400))
    data[2]["documents"] = {"passport": "verified"}  # the rest missing
    path = batch_data.write_jsonl(tmp_path / "batch.jsonl", iter(data))
    batch_id = run_import(sqlite_runtime, path)[0].batch_id
    with sqlite_runtime.db.session() as s:
        with pytest.raises(FourEyesViolation):
            batches.approve(s, "user:erin", batch_id)
        assert batches.approve(s, "user:alan", batch_id) == (2, 1)
        s.commit()
        report = batches.status(s, batch_id)
    assert report.applications == {"approved": 2, "submitted": 1} and report.approved_by == "user:alan"
    assert json.loads(json.dumps(report.to_dict()))["rows"] == 3


def test_import_validates_in_worker_processes(sqlite_runtime, tmp_path):
    path = batch_data.write_jsonl(tmp_path / "batch.jsonl", batch_data.rows(40, start=500))
    result, errors = run_import(sqlite_runtime, path, workers=2, chunk=16)
    assert errors == [] and result.rows == 40 and count(sqlite_runtime, Person) == 40
