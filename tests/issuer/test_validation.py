"""Bad input gets a 4xx with field-level messages, never a 500."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from crypto import samples
from issuer_flow import employer_body, enrol, issue_card, ok, permit_body, person_body, photo


def fields(response) -> set[str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"] and all(e["message"] for e in body["errors"])
    return {e["field"] for e in body["errors"]}


def test_employer_fields(client, staff):
    bad = employer_body("91310115MA1K4LQ3X0")  # wrong GB 32100 check character
    bad["name"] = ""
    assert fields(client.post("/api/employers", json=bad, headers=staff["erin"])) == {"uscc", "name"}
    assert fields(client.post("/api/employers", json={**employer_body(), "extra": 1},
                              headers=staff["erin"])) == {"extra"}
    ok(client.post("/api/employers", json=employer_body(), headers=staff["erin"]), 201)
    dup = client.post("/api/employers", json=employer_body(), headers=staff["erin"])
    assert dup.status_code == 409 and "already registered" in dup.json()["detail"]


def test_person_fields(client, staff):
    body = person_body()
    body["holder"].update(nationality="XYZ", family_name="müller", birth_date="2999-01-01", sex=7)
    body["identifiers"].update(work_permit_number="12345", permanent_residence_id="912345678901234567")
    got = fields(client.post("/api/persons", json=body, headers=staff["erin"]))
    assert got == {"holder.nationality", "holder.family_name", "holder.birth_date", "holder.sex",
                   "identifiers.work_permit_number", "identifiers.permanent_residence_id"}
    digest = person_body()
    digest["holder"]["photo_digest"] = "00" * 32  # the digest comes from the upload, never the client
    assert "holder.photo_digest" in fields(client.post("/api/persons", json=digest, headers=staff["erin"]))
    assert client.post("/api/persons", content=b"{not json", headers={**staff["erin"],
                       "Content-Type": "application/json"}).status_code == 422
    first = person_body()
    ok(client.post("/api/persons", json=first, headers=staff["erin"]), 201)
    assert client.post("/api/persons", json=first, headers=staff["erin"]).status_code == 409


def test_application_and_lifecycle_fields(client, staff):
    person_id, _ = enrol(client, staff)
    bad = permit_body()
    bad.update(category="D", work_location="999999", valid_until="2025-01-01", employer_uscc="X")
    got = fields(client.post("/api/applications", json={"person_id": person_id, "permit": bad,
                                                         "documents": {"diploma": "provided"}}, headers=staff["erin"]))
    assert {"permit.category", "permit.work_location", "permit.employer_uscc"} <= got
    assert any(f.startswith("documents") for f in got)
    unknown = client.post("/api/applications", headers=staff["erin"],
                          json={"person_id": 424242, "permit": permit_body()})
    assert fields(unknown) == {"person_id"}
    card = issue_card(client, staff)
    assert fields(client.post(f"/api/cards/{card['id']}/renew", json={"valid_until": "2020-01-01"},
                              headers=staff["erin"])) == {"valid_until"}
    assert client.post(f"/api/cards/{card['id']}/modify", json={}, headers=staff["erin"]).status_code == 422
    assert fields(client.post(f"/api/cards/{card['id']}/modify", json={"employer_uscc": samples.SAMPLE_USCC[:-1] + "0"},
                              headers=staff["erin"])) == {"employer_uscc"}
    assert fields(client.post(f"/api/cards/{card['id']}/replace", json={"reason": "bored"},
                              headers=staff["erin"])) == {"reason"}
    assert fields(client.post(f"/api/cards/{card['id']}/suspend", json={}, headers=staff["erin"])) == {"reason"}
    assert fields(client.post("/api/cards/abc/suspend", json={"reason": "x"}, headers=staff["erin"])) == {"card_id"}
    assert fields(client.put("/api/applications/1/documents/diploma", json={"status": "provided"},
                             headers=staff["erin"])) == {"document"}
    for dg5 in ("not base64!", "AAAA", "ZmFrZQ=="):
        r = client.post(f"/api/cards/{card['id']}/security-object", json={"dg5": dg5}, headers=staff["station"])
        assert r.status_code == 422 and fields(r) == {"dg5"}, r.text
    assert fields(client.post("/api/users", json={"username": "X", "password": "short", "roles": ["god"]},
                              headers=staff["ada"])) == {"username", "password", "roles.0"}
    assert fields(client.post("/api/legacy/import", json={"records": []}, headers=staff["erin"])) == {"records"}
    assert fields(client.get("/api/employers?limit=0", headers=staff["erin"])) == {"limit"}


def test_insurance_fields(client, staff):
    person = ok(client.post("/api/persons", json=person_body(), headers=staff["erin"]), 201)
    entries = [{"type": t, "status": 1, "since": "2026-01-01", "paid_through": "2026-10-01"} for t in range(1, 6)]
    ok(client.put(f"/api/persons/{person['id']}/insurance", json={"enrolments": entries}, headers=staff["erin"]))
    assert fields(client.put(f"/api/persons/{person['id']}/insurance", json={"enrolments": entries[:4]},
                             headers=staff["erin"])) == {"enrolments"}
    wrong = [dict(e) for e in entries]
    wrong[1].update(status=0)
    assert fields(client.put(f"/api/persons/{person['id']}/insurance", json={"enrolments": wrong},
                             headers=staff["erin"])) == {"enrolments.1"}


def _png_bomb() -> bytes:
    """A small PNG that claims 30000 x 30000 pixels."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 30001 * 10)) + \
        chunk(b"IEND", b"")


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 400)).save(out, "GIF")
    return out.getvalue()


@pytest.mark.parametrize("data,status,words", [
    (b"", 422, "empty"),
    (b"%PDF-1.4 not an image" * 10, 415, "JPEG or PNG"),
    (None, 415, "JPEG or PNG"),                       # a GIF
    (photo("JPEG", (100, 120)), 422, "at least"),
    (photo("PNG")[:200], 422, "cannot be decoded"),   # truncated
    (_png_bomb(), 422, "pixels"),
    (b"\xff\xd8" + b"\x00" * (2 * 1024 * 1024 + 10), 413, "larger than"),
], ids=["empty", "pdf", "gif", "small", "truncated", "bomb", "oversize"])
def test_bad_photos_are_clear_4xx(sqlite_client, sqlite_staff, data, status, words):
    person = ok(sqlite_client.post("/api/persons", json=person_body(), headers=sqlite_staff["erin"]), 201)
    data = _gif() if data is None else data
    r = sqlite_client.put(f"/api/persons/{person['id']}/photo", files={"photo": ("p.jpg", data, "image/jpeg")},
                          headers=sqlite_staff["erin"])
    assert r.status_code == status and words in r.json()["detail"], r.text


def test_photo_is_normalised_for_the_chip(sqlite_client, sqlite_staff):
    person = ok(sqlite_client.post("/api/persons", json=person_body(), headers=sqlite_staff["erin"]), 201)
    big = io.BytesIO()
    Image.effect_noise((900, 1200), 40).convert("RGB").save(big, "JPEG", quality=95)
    assert len(big.getvalue()) < 2 * 1024 * 1024
    ok(sqlite_client.put(f"/api/persons/{person['id']}/photo", files={"photo": ("p.jpg", big.getvalue(), "image/jpeg")},
                         headers=sqlite_staff["erin"]))
    r = sqlite_client.get(f"/api/persons/{person['id']}/photo", headers=sqlite_staff["station"])
    assert r.headers["content-type"] == "image/jpeg" and len(r.content) <= 16 * 1024
    image = Image.open(io.BytesIO(r.content))
    assert image.format == "JPEG" and image.size[0] <= 240 and image.size[1] <= 320 and not image.info.get("exif")
    assert sqlite_client.put(f"/api/persons/{person['id']}/photo", files={"other": ("p.png", b"x", "image/png")},
                             headers=sqlite_staff["erin"]).status_code == 422
    assert sqlite_client.put("/api/persons/424242/photo", files={"photo": ("p.jpg", photo(), "image/jpeg")},
                             headers=sqlite_staff["erin"]).status_code == 404


def test_not_found_and_oversized_bodies(sqlite_client, sqlite_staff):
    for url in ("/api/persons/5", "/api/cards/5", "/api/applications/5", "/trust-list/5", "/trust-list"):
        headers = sqlite_staff["audrey"] if url.startswith("/api") else {}
        assert sqlite_client.get(url, headers=headers).status_code == 404
    huge = sqlite_client.post("/api/employers", content=b"{" + b" " * (5 * 1024 * 1024) + b"}",
                              headers={**sqlite_staff["erin"], "Content-Type": "application/json"})
    assert huge.status_code == 413


def test_fuzzed_bodies_never_500(sqlite_client, sqlite_staff):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                               lambda children: st.lists(children, max_size=4) |
                               st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=12)
    targets = ["/api/persons", "/api/applications", "/api/employers", "/api/legacy/import"]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(targets), json_values)
    def check(url, body):
        r = sqlite_client.post(url, json=body, headers=sqlite_staff["erin"])
        assert r.status_code < 500, r.text
    check()
