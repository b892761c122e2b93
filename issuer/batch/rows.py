"""Batch files (docs/operations.md "Batch issuance"): CSV or JSON Lines, one application per
row, read as a stream and validated row by row with the issuer's input models (which reuse
crypto.schema's field types), so that each error names its line and its field.

A JSON Lines row is the nested record::

    {"person": {"holder": {...}, "identifiers": {...}}, "employer": {"uscc", "name", "address"},
     "permit": {"category", "position", "work_location", "valid_from", "valid_until"},
     "insurance": {"enrolments": [{"type", "status", "since", "paid_through"} x 5]},   (optional)
     "card_kind": 1, "photo": "photos/0001.jpg", "documents": "all" | {"passport": "verified", ...}}

A CSV row has one column per field (CSV_COLUMNS); an error names the column. The photo is
a file name relative to the batch file's folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator

from crypto.schema import CardKind, InsuranceType, field_errors
from issuer.db.models import DocumentStatus, DocumentType
from issuer.services.errors import PhotoRejected
from issuer.services.inputs import EmployerIn, InsuranceIn, PermitIn, PersonIn, _In, today
from issuer.services.photos import normalise_photo

MAX_LINE_BYTES = 64 * 1024

# CSV column -> the field of the nested row.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    **{c: ("person", "holder", c) for c in ("family_name", "given_names", "chinese_name", "nationality",
                                            "birth_date", "sex")},
    **{c: ("person", "identifiers", c) for c in ("social_security_number", "work_permit_number",
                                                 "passport_number", "permanent_residence_id")},
    "employer_uscc": ("employer", "uscc"), "employer_name": ("employer", "name"),
    "employer_address": ("employer", "address"),
    **{c: ("permit", c) for c in ("category", "position", "work_location", "valid_from", "valid_until")},
    "card_kind": ("card_kind",), "photo": ("photo",), "documents": ("documents",),
}
INSURANCE_NAMES = [t.name.lower() for t in InsuranceType]  # pension, medical, work_injury, unemployment, maternity
for _i, _name in enumerate(INSURANCE_NAMES):
    for _part in ("status", "since", "paid_through"):
        CSV_COLUMNS[f"{_name}_{_part}"] = ("insurance", "enrolments", str(_i), _part)
COLUMN_OF = {".".join(path): column for column, path in CSV_COLUMNS.items()}
COLUMN_OF["permit.employer_uscc"] = "employer_uscc"
COLUMN_OF["permit"] = "valid_from"  # the only rule over the permit's fields: valid_from before valid_until
COLUMN_OF.update({f"insurance.enrolments.{i}": f"{name}_paid_through" for i, name in enumerate(INSURANCE_NAMES)})
REQUIRED_COLUMNS = ("family_name", "nationality", "birth_date", "sex", "social_security_number",
                    "work_permit_number", "employer_uscc", "category", "position", "work_location", "valid_from",
                    "valid_until")
SEX_LETTERS = {"M": 1, "F": 2, "X": 9}
STATUS_NAMES = {"not_enrolled": 0, "normal": 1, "suspended": 2, "terminated": 3}


class BatchRowIn(_In):
    """One application of a batch file: a new person, the employer, the permit applied for."""

    person: PersonIn
    employer: EmployerIn
    permit: PermitIn
    insurance: InsuranceIn | None = None
    card_kind: CardKind = CardKind.PHYSICAL
    photo: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    documents: dict[DocumentType, DocumentStatus] = Field(default_factory=dict)

    @field_validator("documents", mode="before")
    @classmethod
    def _all(cls, value: object) -> object:
        if value == "all":  # every supporting document was provided with the batch
            return {d.value: DocumentStatus.PROVIDED.value for d in DocumentType}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BatchRowIn:
        if self.permit.employer_uscc != self.employer.uscc:
            raise ValueError("permit.employer_uscc: must be the employer's uscc")
        if self.card_kind is CardKind.PHYSICAL and self.photo is None:
            raise ValueError("photo: a physical card needs the holder's photo")
        if self.permit.valid_until <= today():
            raise ValueError("permit.valid_until: the permit has ended; no card can be issued for it")
        return self


@dataclass
class Row:
    """A row read from the file: its line, and the nested data (before validation)."""

    line: int
    data: dict


@dataclass
class ValidRow:
    line: int
    value: BatchRowIn
    photo: bytes | None = field(default=None, repr=False)  # normalised chip JPEG
    photo_sha256: bytes | None = None


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 of the file and its number of lines (a streaming pass)."""
    digest, lines = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            lines += block.count(b"\n")
    return digest.hexdigest(), lines


def read_rows(path: Path) -> Iterator[Row | dict]:
    """The rows of a .csv or .jsonl file, one at a time; an unreadable row yields an error
    dict {line, field, message} instead."""
    if path.suffix.lower() == ".csv":
        yield from _csv_rows(path)
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from _jsonl_rows(path)
    else:
        raise ValueError(f"{path.name}: a batch file is .csv or .jsonl")


def _jsonl_rows(path: Path) -> Iterator[Row | dict]:
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield {"line": number, "field": "(row)", "message": f"longer than {MAX_LINE_BYTES} bytes"}
                continue
            try:
                data = json.loads(raw)
            except ValueError as exc:
                yield {"line": number, "field": "(row)", "message": f"not JSON: {exc}"}
                continue
            if not isinstance(data, dict):
                yield {"line": number, "field": "(row)", "message": "not a JSON object"}
                continue
            yield Row(number, data)


def _csv_rows(path: Path) -> Iterator[Row | dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in CSV_COLUMNS]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if unknown or missing:
            message = "; ".join(filter(None, [f"unknown columns: {', '.join(unknown)}" if unknown else "",
                                              f"missing columns: {', '.join(missing)}" if missing else ""]))
            yield {"line": 1, "field": "(header)", "message": message}
            return
        for record in reader:
            if None in record:
                yield {"line": reader.line_num, "field": "(row)", "message": "more values than columns"}
                continue
            yield Row(reader.line_num, _nest(record))


def _nest(record: dict[str, str]) -> dict:
    """A CSV record as the nested row (empty cells are absent values)."""
    out: dict = {}
    for column, text in record.items():
        text = (text or "").strip()
        if not text:
            continue
        value: object = text
        if column == "sex":
            value = SEX_LETTERS.get(text.upper(), text)
        elif column.endswith("_status") and text.lower() in STATUS_NAMES:
            value = STATUS_NAMES[text.lower()]
        elif column == "card_kind":
            value = {"physical": 1, "electronic": 2}.get(text.lower(), text)
        elif column == "documents" and text != "all":
            value = {d: DocumentStatus.PROVIDED.value for d in text.replace(",", " ").split()}
        node = out
        *parents, leaf = CSV_COLUMNS[column]
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    if "employer" in out and "uscc" in out["employer"]:
        out.setdefault("permit", {})["employer_uscc"] = out["employer"]["uscc"]
    if "insurance" in out:
        enrolments = out["insurance"]["enrolments"]
        out["insurance"]["enrolments"] = [{"type": i + 1, "status": 0, **enrolments.get(str(i), {})}
                                          for i in range(len(INSURANCE_NAMES))]
    return out


def validate(row: Row, base: Path, *, csv_columns: bool, max_photo_bytes: int, min_width: int, min_height: int,
             max_pixels: int) -> ValidRow | list[dict]:
    """The validated row, with its photo normalised; or its errors [{line, field, message}]."""
    try:
        value = BatchRowIn.model_validate(row.data)
    except ValidationError as exc:
        return [{"line": row.line, **_named(e, csv_columns)} for e in field_errors(exc)]
    if value.photo is None:
        return ValidRow(row.line, value)
    photo_path = base / value.photo
    try:
        with open(photo_path, "rb") as fh:
            upload = fh.read(max_photo_bytes + 1)
        jpeg = normalise_photo(upload, max_bytes=max_photo_bytes, min_width=min_width, min_height=min_height,
                               max_pixels=max_pixels)
    except OSError as exc:
        return [{"line": row.line, "field": "photo", "message": f"cannot read {value.photo}: {exc.strerror}"}]
    except PhotoRejected as exc:
        return [{"line": row.line, "field": "photo", "message": f"{value.photo}: {exc.message}"}]
    return ValidRow(row.line, value, jpeg, hashlib.sha256(jpeg).digest())


def _named(error: dict, csv_columns: bool) -> dict:
    """A field error with the CSV column's name where there is one."""
    name, message = error["field"], error["message"]
    if name == "(credential)" and ": " in message:  # a rule over several fields names the one to fix
        name, message = message.split(": ", 1)
    if csv_columns:
        name = COLUMN_OF.get(name, name)
    return {"field": name, "message": message}


def csv_text(rows: list[dict]) -> str:
    """Nested rows as CSV text (the inverse of _nest, for tests and the benchmark)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for data in rows:
        flat = {}
        for column, path in CSV_COLUMNS.items():
            node: object = data
            for key in path:
                if isinstance(node, list):
                    node = node[int(key)] if int(key) < len(node) else None
                elif isinstance(node, dict):
                    node = node.get(key)
                else:
                    node = None
            if column == "documents" and isinstance(node, dict):
                node = " ".join(node)
            flat[column] = "" if node is None else node
        writer.writerow(flat)
    return out.getvalue()
