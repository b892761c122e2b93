"""A card's dates follow one rule (issuer/services/validity.py) on every path that makes a
card: issue and renew through the API, and batch issue. Tested on 29 February and on the
year's end, where the date in China (UTC+8) is not the date in UTC.

Each test signs at a fixed moment: the PKI is made at that moment and the service's clock
(`Runtime.clock`) stands still there, so what verifies is checked at the same `now`."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crypto import Algorithm, Outcome, TrustStore, verify_credential
from crypto.claims import end_of_day
from crypto.pki import DevelopmentPki
from issuer import keyring
from issuer.api import create_app
from issuer.batch import batches
from issuer.batch.importer import import_file
from issuer.batch.issuing import issue_batch
from issuer.db.models import Card
from issuer.services.validity import card_expiry, china_date, years_later
from issuer_env import add_staff, make_runtime
from issuer_flow import ALL_DOCUMENTS, PASSPHRASE, ensure_employer, ok, permit_body, person_body, photo

import batch_data

D = dt.date
UTC = dt.timezone.utc


def at(*args) -> int:
    return int(dt.datetime(*args, tzinfo=UTC).timestamp())


@pytest.mark.parametrize("issued, years, last_day", [
    (D(2028, 2, 29), 5, D(2033, 2, 28)),   # no 29 February in 2033: the month's last day
    (D(2028, 2, 28), 5, D(2033, 2, 27)),
    (D(2028, 3, 1), 5, D(2033, 2, 28)),
    (D(2024, 2, 29), 4, D(2028, 2, 28)),   # leap year to leap year: the day before 29 February
    (D(2026, 12, 31), 5, D(2031, 12, 30)),
    (D(2027, 1, 1), 5, D(2031, 12, 31)),
])
def test_the_card_runs_to_the_day_before_its_anniversary(issued, years, last_day):
    assert card_expiry(issued, years, D(2099, 12, 31)) == last_day


def test_the_work_permit_ends_the_card_when_it_ends_first():
    assert card_expiry(D(2028, 2, 29), 5, D(2029, 6, 30)) == D(2029, 6, 30)
    assert years_later(D(2028, 2, 29), 4) == D(2032, 2, 29)
    assert years_later(D(2028, 2, 29), 1) == D(2029, 3, 1)


def test_the_issue_date_is_the_date_in_china():
    assert china_date(at(2026, 12, 31, 15, 59, 59)) == D(2026, 12, 31)   # 23:59:59 in Shanghai
    assert china_date(at(2026, 12, 31, 16, 0, 0)) == D(2027, 1, 1)       # midnight in Shanghai, still 2026 in UTC


# (the signing moment, UTC), the issue date and the 5-year expiry that follow from it
MOMENTS = {
    "29-february": (at(2028, 2, 29, 4, 0), D(2028, 2, 29), D(2033, 2, 28)),
    "31-december-utc-1-january-china": (at(2026, 12, 31, 16, 30), D(2027, 1, 1), D(2031, 12, 31)),
    "31-december-23-59-china": (at(2026, 12, 31, 15, 59), D(2026, 12, 31), D(2031, 12, 30)),
}


@pytest.fixture(params=list(MOMENTS), ids=list(MOMENTS))
def moment(request):
    return MOMENTS[request.param]


@pytest.fixture
def dated(tmp_path, moment):
    """A service whose PKI was made at the moment and whose clock stands there."""
    now, _, _ = moment
    key_dir = tmp_path / "keys"
    DevelopmentPki.create(key_dir, PASSPHRASE.encode(), issuer_code="SH01", algorithm=Algorithm.ES256,
                          now=dt.datetime.fromtimestamp(now, UTC))
    keys = keyring.load(key_dir, "SH01", PASSPHRASE.encode())
    rt = make_runtime(tmp_path, f"sqlite:///{tmp_path / 'issuer.db'}", key_dir, keys)
    rt.clock = lambda: now
    yield rt
    rt.close()


def verdict_at(client, rt, staff, qr_text: str, now: int):
    ok(client.post("/api/trust-list/publish", headers=staff["ada"]), 201)
    store = TrustStore(rt.keys.root)
    store.update(client.get("/trust-list").content)
    return verify_credential(qr_text, store, now=now)


def test_issue_and_renew_through_the_api_use_the_rule(dated, moment, password_hash):
    now, issue_date, expiry = moment
    staff = add_staff(dated, password_hash)
    with TestClient(create_app(dated), raise_server_exceptions=False) as client:
        ensure_employer(client, staff["erin"])
        person = ok(client.post("/api/persons", json=person_body(), headers=staff["erin"]), 201)
        ok(client.put(f"/api/persons/{person['id']}/photo", files={"photo": ("p.jpg", photo(), "image/jpeg")},
                      headers=staff["erin"]))
        app = ok(client.post("/api/applications", headers=staff["erin"], json={
            "person_id": person["id"], "card_kind": 2, "permit": permit_body("2040-12-31"),
            "documents": ALL_DOCUMENTS}), 201)
        ok(client.post(f"/api/applications/{app['id']}/approve", headers=staff["alan"]))
        card = ok(client.post(f"/api/applications/{app['id']}/issue", headers=staff["erin"]), 201)
        assert (card["issue_date"], card["expiry_date"]) == (issue_date.isoformat(), expiry.isoformat())
        verdict = verdict_at(client, dated, staff, card["qr_text"], now)
        assert verdict.outcome is Outcome.VALID, verdict
        assert verdict.claims.exp == end_of_day(expiry)
        # renew: a new card of the same rule; the permit's new end is later than five years
        ok(client.post(f"/api/cards/{card['id']}/delivered", headers=staff["station"]))
        renewal = ok(client.post(f"/api/cards/{card['id']}/renew", headers=staff["erin"],
                                 json={"valid_until": "2045-12-31", "documents": ALL_DOCUMENTS}), 201)
        ok(client.post(f"/api/applications/{renewal['id']}/approve", headers=staff["alan"]))
        renewed = ok(client.post(f"/api/applications/{renewal['id']}/issue", headers=staff["erin"]), 201)
        assert (renewed["issue_date"], renewed["expiry_date"]) == (issue_date.isoformat(), expiry.isoformat())
        assert verdict_at(client, dated, staff, renewed["qr_text"], now).outcome is Outcome.VALID


def test_batch_issue_uses_the_rule(dated, moment, tmp_path):
    now, issue_date, expiry = moment
    rows = [dict(row, permit=dict(row["permit"], valid_until="2040-12-31")) for row in batch_data.rows(3)]
    path = batch_data.write_jsonl(tmp_path / "batch.jsonl", iter(rows))
    result = import_file(dated, "user:erin", path, chunk=250)
    assert result.committed
    with dated.db.session() as s:
        assert batches.approve(s, "user:alan", result.batch_id) == (3, 0)
        s.commit()
    assert issue_batch(dated, "user:erin", result.batch_id).issued == 3
    with dated.db.session() as s:
        dates = set(s.execute(select(Card.issue_date, Card.expiry_date)).all())
    assert dates == {(issue_date, expiry)}
