"""Revocation data through publication (issue 8; docs/spec.md §11): every list is format 2
over the centre's serial universe, every version comes with a signed delta from the one
before while the issuer certificates stay, served at /trust-list/deltas and written by
`ssc-issuer publish DIR`; a terminal catches up by deltas from the service (uvicorn on
127.0.0.1) and from the folder, and falls back to the full list; expired cards leave the
universe."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from crypto import Outcome, TrustStore, cbor, load_trust_list, verify_credential
from crypto.revocation import RevocationSet
from crypto.revocation_delta import apply_revocation_deltas
from crypto.trustlist import same_content
from issuer import keyring
from issuer.api import create_app
from issuer.cli import main as cli_main
from issuer.db.models import Card, CardStatus, PublishedDelta
from issuer_env import add_staff, make_runtime
from issuer_flow import ALL_DOCUMENTS, PASSPHRASE, ensure_employer, issue_card, ok, permit_body, person_body, photo
from terminal.trust import TrustState
from clock_support import CLOCK

DAY = 86_400


def revoke(client, staff, card) -> None:
    ok(client.post(f"/api/cards/{card['id']}/cancel", json={"reason": "permit cancelled"}, headers=staff["erin"]))


def published(client, keys):
    response = client.get("/trust-list")
    return load_trust_list(response.content, keys.root), response.content


def verdict(card, trust_list, keys, now=None):
    return verify_credential(card["qr_text"], TrustStore(keys.root, trust_list), now=int(now or CLOCK.now()))


@contextlib.contextmanager
def served(app):
    """The app under uvicorn on 127.0.0.1, in a thread of this process."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture
def root_pem(tmp_path, keys):
    path = tmp_path / "root-ca.pem"
    path.write_bytes(keys.root.public_bytes(serialization.Encoding.PEM))
    return path


def test_format_2_and_the_delta_urls(client, staff, keys):
    cards = [issue_card(client, staff) for _ in range(4)]
    v1 = ok(client.post("/api/trust-list/publish", headers=staff["ada"]), 201)["version"]
    first, first_bytes = published(client, keys)
    entry = first.revoked["SH01"]
    assert isinstance(entry, RevocationSet) and len(entry) == 0
    assert (entry.base, entry.end) == (cards[0]["serial"], cards[-1]["serial"] + 1)
    for card in cards[:3]:
        revoke(client, staff, card)
    latest, latest_bytes = published(client, keys)
    assert [latest.is_revoked("SH01", c["serial"]) for c in cards] == [True, True, True, False]
    chain = client.get(f"/trust-list/deltas?since={v1}")
    assert chain.status_code == 200 and chain.headers["content-type"] == "application/cbor"
    assert chain.headers["x-trust-list-version"] == str(latest.version)
    deltas = cbor.loads(chain.content, max_size=1 << 20, what="chain")
    assert len(deltas) == 3
    caught_up = apply_revocation_deltas(first, deltas, keys.root)
    assert caught_up.version == latest.version and same_content(caught_up, latest)
    assert client.get(f"/trust-list/deltas?since={v1}",
                      headers={"If-None-Match": chain.headers["etag"]}).status_code == 304
    one = client.get(f"/trust-list/delta/{v1}")
    assert one.content == deltas[0] and "immutable" in one.headers["cache-control"]
    assert client.get(f"/trust-list/delta/{v1}", headers={"If-None-Match": one.headers["etag"]}).status_code == 304
    empty = client.get(f"/trust-list/deltas?since={latest.version}")
    assert empty.status_code == 200 and cbor.loads(empty.content, max_size=10, what="chain") == []
    for since in (v1 - 1, latest.version + 1):  # unknown, future
        assert client.get(f"/trust-list/deltas?since={since}").status_code == 404
    assert client.get(f"/trust-list/delta/{latest.version}").status_code == 404
    assert client.get("/trust-list/deltas").status_code == 422
    assert client.get(f"/trust-list/{v1}").content == first_bytes  # every full list is kept


def _seed_revoked_cards(rt, person_id: int, serials: range) -> None:
    """National scale in miniature: 20,000 revoked cards spread over a million serials,
    inserted directly (issuing them through the API would take minutes)."""
    today = CLOCK.china_today()
    rows = [{"person_id": person_id, "issuer_code": "SH01", "serial": s, "card_number": f"SYN{s:010d}",
             "kind": 1, "sequence": 1, "status": CardStatus.REVOKED, "issue_date": today,
             "expiry_date": today + dt.timedelta(days=2000)} for s in serials]
    with rt.db.session() as s:
        s.execute(insert(Card), rows)
        s.execute(text("UPDATE counters SET value = :v WHERE name = 'serial:SH01'"), {"v": serials.stop})
        s.commit()


def test_terminal_catches_up_by_deltas_from_the_service(sqlite_runtime, sqlite_staff, sqlite_client, keys, tmp_path,
                                                        root_pem):
    client, staff, rt = sqlite_client, sqlite_staff, sqlite_runtime
    base_card = issue_card(client, staff)
    _seed_revoked_cards(rt, person_id=1, serials=range(2, 1_000_000, 50))
    cards = [issue_card(client, staff) for _ in range(4)]
    assert cards[0]["serial"] == 1_000_001
    ok(client.post("/api/trust-list/publish", headers=staff["ada"]), 201)
    terminal = TrustState(tmp_path / "terminal", root_pem)
    fresh = TrustState(tmp_path / "fresh", root_pem)
    with served(create_app(rt)) as base:
        source = f"{base}/trust-list"
        full = terminal.sync(source)
        assert (full.path, full.fallback) == ("full", None) and full.bytes_fetched > 17_000
        for card in cards[:3]:
            revoke(client, staff, card)
        result = terminal.sync(source)
        assert (result.status, result.path, result.deltas) == ("updated", "delta", 3)
        assert result.bytes_fetched < full.bytes_fetched / 5, (result.bytes_fetched, full.bytes_fetched)
        held = terminal.held()
        assert held.version == published(client, keys)[0].version and len(held.revoked["SH01"]) == 20_003
        assert verdict(cards[1], held, keys).reasons[0].value == "REVOKED"
        assert verdict(cards[3], held, keys).outcome is Outcome.VALID
        assert verdict(base_card, held, keys).outcome is Outcome.VALID
        assert terminal.sync(source).status == "unchanged"
        fresh_result = fresh.sync(source)  # a terminal with no list: the full list
        assert (fresh_result.path, fresh_result.version) == ("full", held.version)
        # a delta lost on the server: the chain is broken, the terminal falls back to the full list
        behind = held.version
        revoke(client, staff, cards[3])
        with rt.db.session() as s:
            s.execute(text("DELETE FROM trust_list_deltas WHERE base_version = :v"), {"v": behind})
            s.commit()
        result = terminal.sync(source)
        assert (result.path, result.status) == ("full", "updated") and "404" in result.fallback
        assert terminal.held().is_revoked("SH01", cards[3]["serial"]) and terminal.held().deltas == ()
        revoke(client, staff, base_card)  # after the fallback: deltas again
        assert terminal.sync(source).path == "delta" and terminal.held().is_revoked("SH01", base_card["serial"])


def _apply_soon_expiring(client, staff, days: int) -> dict:
    """A card whose permit (and so the card) ends in `days` days."""
    ensure_employer(client, staff["erin"])
    person = ok(client.post("/api/persons", json=person_body(), headers=staff["erin"]), 201)
    ok(client.put(f"/api/persons/{person['id']}/photo", files={"photo": ("p.jpg", photo(), "image/jpeg")},
                  headers=staff["erin"]))
    until = (CLOCK.china_today() + dt.timedelta(days=days)).isoformat()
    app = ok(client.post("/api/applications", headers=staff["erin"],
                         json={"person_id": person["id"], "card_kind": 1, "permit": permit_body(until),
                               "documents": ALL_DOCUMENTS}), 201)
    ok(client.post(f"/api/applications/{app['id']}/approve", headers=staff["alan"]))
    return ok(client.post(f"/api/applications/{app['id']}/issue", headers=staff["erin"]), 201)


def test_expired_cards_leave_the_universe(sqlite_runtime, sqlite_staff, sqlite_client, keys, tmp_path, root_pem,
                                          monkeypatch):
    client, staff, rt = sqlite_client, sqlite_staff, sqlite_runtime
    short = _apply_soon_expiring(client, staff, days=3)
    revoked, valid = issue_card(client, staff), issue_card(client, staff)
    revoke(client, staff, short)
    revoke(client, staff, revoked)
    before, _ = published(client, keys)
    assert (before.revoked["SH01"].base, sorted(before.revoked["SH01"])) == \
        (short["serial"], [short["serial"], revoked["serial"]])
    monkeypatch.setenv("SSC_VAR", str(tmp_path))
    later = CLOCK.seconds() + 10 * DAY  # the short card expired a week ago
    rt.clock = lambda: later
    ok(client.post("/api/trust-list/publish", headers=staff["ada"]), 201)
    after, _ = published(client, keys)
    entry = after.revoked["SH01"]
    assert (entry.base, entry.end, sorted(entry)) == (revoked["serial"], valid["serial"] + 1, [revoked["serial"]])
    assert short["serial"] not in entry and not after.is_revoked("SH01", short["serial"])
    chain = cbor.loads(client.get(f"/trust-list/deltas?since={before.version}").content, max_size=1 << 20, what="c")
    assert same_content(apply_revocation_deltas(before, chain, keys.root), after)
    # below the universe a card is not "revoked": it has expired, and validity fails first
    expired = verdict(short, after, keys, now=later)
    assert expired.outcome is Outcome.INVALID and [r.value for r in expired.reasons] == ["CREDENTIAL_EXPIRED"]
    assert verdict(revoked, after, keys, now=later).reasons[0].value == "REVOKED"
    assert verdict(valid, after, keys, now=later).outcome is Outcome.VALID


def test_publish_dir_writes_the_deltas_and_a_terminal_syncs_from_it(sqlite_runtime, sqlite_staff, sqlite_client,
                                                                    keys, tmp_path, monkeypatch, root_pem):
    s = sqlite_runtime.settings
    for name, value in (("SSC_ISSUER_DATABASE_URL", s.database), ("SSC_ISSUER_KEY_DIR", str(s.keys)),
                        ("SSC_KEY_PASSPHRASE", PASSPHRASE), ("SSC_VAR", str(tmp_path))):
        monkeypatch.setenv(name, value)
    out, terminal = tmp_path / "usb", TrustState(tmp_path / "terminal", root_pem)
    cards = [issue_card(sqlite_client, sqlite_staff) for _ in range(3)]
    assert cli_main(["publish", str(out)]) == 0
    assert terminal.sync(str(out)).path == "full"
    revoke(sqlite_client, sqlite_staff, cards[0])
    assert cli_main(["publish", str(out)]) == 0
    index = json.loads((out / "deltas" / "index.json").read_text())
    assert index["latest"] == load_trust_list((out / "trust-list.cose").read_bytes(), keys.root).version
    assert [e["file"] for e in index["deltas"]] == sorted(p.name for p in (out / "deltas").glob("*.cose"))
    assert len(index["deltas"]) == 2
    result = terminal.sync(str(out))
    assert (result.path, result.deltas, result.version) == ("delta", 2, index["latest"])
    assert terminal.held().is_revoked("SH01", cards[0]["serial"])
    assert result.bytes_fetched < len((out / "trust-list.cose").read_bytes()) * 2  # a tiny list; sizes in docs
    revoke(sqlite_client, sqlite_staff, cards[1])
    assert cli_main(["publish", str(out)]) == 0
    index = json.loads((out / "deltas" / "index.json").read_text())
    (out / "deltas" / index["deltas"][-1]["file"]).write_bytes(b"\xd2\x84")  # damaged on the stick
    result = terminal.sync(str(out))
    assert (result.path, result.version) == ("full", index["latest"]) and "digest" in result.fallback
    assert terminal.held().is_revoked("SH01", cards[1]["serial"])


def test_new_issuer_certificates_need_the_full_list(tmp_path, sqlite_url, password_hash):
    folder = tmp_path / "keys"
    keyring.init_software(folder, "SH01", PASSPHRASE.encode(), keyring.Algorithm.ES256).close()
    rt = make_runtime(tmp_path, sqlite_url, folder)
    staff = add_staff(rt, password_hash)
    with TestClient(create_app(rt)) as c:
        v1 = ok(c.post("/api/trust-list/publish", headers=staff["ada"]), 201)["version"]
        v2 = ok(c.post("/api/trust-list/publish", headers=staff["ada"]), 201)["version"]
        keyring.rotate(folder, "SH01", PASSPHRASE.encode())
        rt._keys = None
        v3 = ok(c.post("/api/trust-list/publish", headers=staff["ada"]), 201)["version"]
        with rt.db.session() as s:
            assert [(d.base_version, d.new_version) for d in s.query(PublishedDelta)] == [(v1, v2)]
        assert c.get(f"/trust-list/deltas?since={v1}").status_code == 404
        assert c.get(f"/trust-list/deltas?since={v3}").status_code == 200
    rt.close()
