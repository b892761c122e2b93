"""Helpers for the issuer's tests: request bodies and the enrol → approve → issue flow
through the HTTP API (TestClient or httpx against a real server)."""

from __future__ import annotations

import io
import itertools

from PIL import Image

from crypto import samples

_people = itertools.count(1)
PASSPHRASE = "issuer-test-passphrase"
PASSWORD = "correct horse battery"
TOKEN_SECRET = "test-token-secret-0123456789abcdef"
# The officers of every test database, and their roles.
ROLES = {"erin": "enroller", "emma": "enroller", "alan": "approver", "abby": "approver enroller",
         "audrey": "auditor", "ada": "admin", "sam": "station"}


def photo(fmt: str = "JPEG", size: tuple[int, int] = (300, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (180, 150, 120)).save(out, fmt)
    return out.getvalue()


def person_body(n: int | None = None) -> dict:
    n = next(_people) if n is None else n
    record = samples.typical_record()
    holder = {k: v for k, v in record["holder"].items() if k != "photo_digest"}
    ids = dict(record["identifiers"])
    ids["social_security_number"] = f"F310000DEU{n:08d}"
    ids["work_permit_number"] = f"15600001988{n:07d}"
    return {"holder": holder, "identifiers": ids}


def employer_body(uscc: str = samples.SAMPLE_USCC) -> dict:
    return {"uscc": uscc, "name": "Shanghai Example Tech Co., Ltd.", "address": "88 Keyuan Road, Pudong, Shanghai"}


def permit_body(valid_until: str = "2029-12-31") -> dict:
    return {"category": "B", "employer_uscc": samples.SAMPLE_USCC, "position": "Software Engineer",
            "work_location": "310115", "valid_from": "2026-01-01", "valid_until": valid_until}


ALL_DOCUMENTS = {d: "provided" for d in ("past_employment", "education", "criminal_record", "medical_examination",
                                          "contract", "passport", "photo")}


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    return response.json()


def ensure_employer(client, headers) -> None:
    r = client.post("/api/employers", json=employer_body(), headers=headers)
    assert r.status_code in (201, 409), r.text


def enrol(client, staff, *, card_kind: int = 1, documents: dict | None = None) -> tuple[int, int]:
    """Register employer (once), person, photo; apply. Returns (person id, application id)."""
    ensure_employer(client, staff["erin"])
    person = ok(client.post("/api/persons", json=person_body(), headers=staff["erin"]), 201)
    ok(client.put(f"/api/persons/{person['id']}/photo", files={"photo": ("p.jpg", photo(), "image/jpeg")},
                  headers=staff["erin"]))
    app = ok(client.post("/api/applications", headers=staff["erin"],
                         json={"person_id": person["id"], "card_kind": card_kind, "permit": permit_body(),
                               "documents": ALL_DOCUMENTS if documents is None else documents}), 201)
    return person["id"], app["id"]


def issue_card(client, staff, *, card_kind: int = 1, headers_key: str | None = None) -> dict:
    """Enrol, approve (another officer) and issue; returns the card."""
    _, app_id = enrol(client, staff, card_kind=card_kind)
    ok(client.post(f"/api/applications/{app_id}/approve", headers=staff["alan"]))
    return ok(client.post(f"/api/applications/{app_id}/issue", headers=staff["erin"]), 201)


def chip_dg5() -> tuple[bytes, object]:
    """A chip key made 'in the card' and EF.DG5 as the card writes it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from firmware_tools.card import profile

    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return profile.DG5.wrap(profile.chip_key_payload(point)), key
