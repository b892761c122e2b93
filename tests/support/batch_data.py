"""Batch files for the tests and the benchmark: realistic rows (crypto.samples' typical
record, each with its own identifiers), a few distinct photos, written as JSON Lines or CSV
as a stream (a 100,000-row file is never held in memory)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageDraw

from crypto import samples

PHOTOS = 8


def photo(k: int, size: tuple[int, int] = (240, 320)) -> bytes:
    """A passport-style JPEG, a different one for each k. At the chip's 240 x 320 the issuer
    re-encodes it without scaling (fast, for tests); the benchmark passes a larger size."""
    w, h = size
    img = Image.new("RGB", size, (214, 226, 240 - 9 * (k % 8)))
    draw = ImageDraw.Draw(img)
    draw.ellipse((w * 0.28 + k % 5, h * 0.12, w * 0.72, h * 0.58), fill=(224, 188 - 7 * (k % 6), 160))
    draw.rectangle((w * 0.2, h * 0.65, w * 0.8, h), fill=(40 + 11 * (k % 9), 60, 110))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def row(n: int, *, photo_name: str | None = "photos/0.jpg", card_kind: int = 1) -> dict:
    """Row n: the typical sample person with identifiers of their own."""
    record = samples.typical_record()
    holder = {k: v for k, v in record["holder"].items() if k != "photo_digest"}
    ids = dict(record["identifiers"], social_security_number=f"F310000DEU{n:08d}",
               work_permit_number=f"15600001988{n:07d}")
    ids.pop("passport_number", None)
    permit = record["permit"]
    return {"person": {"holder": holder, "identifiers": ids},
            "employer": {**permit["employer"], "address": "88 Keyuan Road, Pudong, Shanghai"},
            "permit": {"category": "B", "employer_uscc": permit["employer"]["uscc"], "position": permit["position"],
                       "work_location": permit["work_location"], "valid_from": "2026-01-01",
                       "valid_until": "2030-12-31"},
            "insurance": {"enrolments": record["insurance"]}, "card_kind": card_kind,
            **({"photo": photo_name} if photo_name else {}), "documents": "all"}


def rows(count: int, start: int = 1) -> Iterator[dict]:
    for n in range(start, start + count):
        yield row(n, photo_name=f"photos/{n % PHOTOS}.jpg")


def write_photos(folder: Path, size: tuple[int, int] = (240, 320)) -> None:
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    for k in range(PHOTOS):
        (folder / "photos" / f"{k}.jpg").write_bytes(photo(k, size))


def write_jsonl(path: Path, data: Iterator[dict], photo_size: tuple[int, int] = (240, 320)) -> Path:
    write_photos(path.parent, photo_size)
    with open(path, "w", encoding="utf-8") as fh:
        for item in data:
            fh.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
    return path


def write_csv(path: Path, data: list[dict]) -> Path:
    from issuer.batch.rows import csv_text

    write_photos(path.parent)
    path.write_text(csv_text(data), encoding="utf-8")
    return path
