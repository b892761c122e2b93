"""Idempotency keys, crash safety between signing and commit, unique and dense serials
under concurrent issuers (PostgreSQL, parallel clients)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from issuer.api import create_app
from issuer.db.models import Application, Card, Counter
from issuer_flow import enrol, ok, person_body


def test_retried_issue_never_makes_a_second_card(client, staff, runtime):
    _, app_id = enrol(client, staff)
    ok(client.post(f"/api/applications/{app_id}/approve", headers=staff["alan"]))
    key = {"Idempotency-Key": "issue-7f1c2a"}
    first = client.post(f"/api/applications/{app_id}/issue", headers={**staff["erin"], **key})
    second = client.post(f"/api/applications/{app_id}/issue", headers={**staff["erin"], **key})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and second.headers["idempotent-replayed"] == "true"
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Card)) == 1
    # without the key, a second attempt is refused by the state machine, not a second card
    assert client.post(f"/api/applications/{app_id}/issue", headers=staff["erin"]).status_code == 409


def test_idempotency_key_rules(client, staff):
    key = {"Idempotency-Key": "person-1"}
    body = person_body()
    a = ok(client.post("/api/persons", json=body, headers={**staff["erin"], **key}), 201)
    b = ok(client.post("/api/persons", json=body, headers={**staff["erin"], **key}), 201)
    assert a == b
    other = client.post("/api/persons", json=person_body(), headers={**staff["erin"], **key})
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    # keys are per caller: another officer's identical key is a new request
    c = client.post("/api/persons", json=person_body(), headers={**staff["emma"], **key})
    assert c.status_code == 201 and c.json()["id"] != a["id"]
    # a refused request stores nothing: after fixing the cause, the same key goes through
    k2 = {"Idempotency-Key": "employer-1"}
    from issuer_flow import employer_body, photo

    bad = client.post("/api/employers", json={**employer_body(), "name": ""}, headers={**staff["erin"], **k2})
    assert bad.status_code == 422
    assert client.post("/api/employers", json=employer_body(), headers={**staff["erin"], **k2}).status_code == 201
    # multipart uploads are covered too
    k3 = {"Idempotency-Key": "photo-1"}
    files = {"photo": ("p.jpg", photo(), "image/jpeg")}
    p1 = client.put(f"/api/persons/{a['id']}/photo", files=files, headers={**staff["erin"], **k3})
    p2 = client.put(f"/api/persons/{a['id']}/photo", files=files, headers={**staff["erin"], **k3})
    assert p1.status_code == p2.status_code == 200 and p2.headers.get("idempotent-replayed") == "true"
    assert client.post("/api/persons", json=body, headers={**staff["erin"], "Idempotency-Key": ""}
                       ).status_code == 422


def test_crash_between_signing_and_commit_leaves_nothing(client, staff, runtime):
    _, app_id = enrol(client, staff)
    ok(client.post(f"/api/applications/{app_id}/approve", headers=staff["alan"]))

    def crash():
        raise ConnectionError("database connection lost")
    runtime.after_signing = crash
    r = client.post(f"/api/applications/{app_id}/issue", headers=staff["erin"])
    assert r.status_code == 500 and "ConnectionError" not in r.text and "Traceback" not in r.text
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Card)) == 0
        assert s.get(Application, app_id).status.value == "approved"
        assert s.get(Counter, "serial:SH01") is None or s.get(Counter, "serial:SH01").value == 0
    runtime.after_signing = lambda: None
    card = ok(client.post(f"/api/applications/{app_id}/issue", headers=staff["erin"]), 201)
    assert card["serial"] == 1  # the serial of the failed attempt was given back: still dense


KILL_SCRIPT = r"""
import os, sys
sys.path.insert(0, {support!r})
from issuer.services.runtime import Runtime
from issuer.services import issuance
from issuer.settings import Settings
rt = Runtime(Settings(var={var!r}, database_url={url!r}, key_dir={keys!r}, key_passphrase={pp!r}))
rt.after_signing = lambda: os._exit(9)   # the process dies with the signed card in memory
with rt.db.session() as s:
    issuance.issue(rt, s, "user:erin", {app_id})
    s.commit()
"""


def test_killed_process_between_signing_and_commit(sqlite_client, sqlite_staff, sqlite_runtime, tmp_path):
    from issuer_flow import PASSPHRASE

    _, app_id = enrol(sqlite_client, sqlite_staff)
    ok(sqlite_client.post(f"/api/applications/{app_id}/approve", headers=sqlite_staff["alan"]))
    s = sqlite_runtime.settings
    script = KILL_SCRIPT.format(support=os.path.join(os.path.dirname(__file__), "..", "support"), var=str(tmp_path),
                                url=s.database, keys=str(s.keys), pp=PASSPHRASE, app_id=app_id)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    with sqlite_runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Card)) == 0
    card = ok(sqlite_client.post(f"/api/applications/{app_id}/issue", headers=sqlite_staff["erin"]), 201)
    assert card["serial"] == 1


def test_parallel_clients_get_unique_dense_serials_on_postgresql(postgres, tmp_path, key_dir, keys, password_hash):
    from issuer_env import add_staff, make_runtime, new_postgres_database

    rt = make_runtime(tmp_path, new_postgres_database(postgres), key_dir, keys)
    staff = add_staff(rt, password_hash)
    app = create_app(rt)
    n_clients, per_client = 8, 5
    approved = []
    with TestClient(app) as c:
        for _ in range(n_clients * per_client):
            _, app_id = enrol(c, staff)
            ok(c.post(f"/api/applications/{app_id}/approve", headers=staff["alan"]))
            approved.append(app_id)
    start = threading.Barrier(n_clients)
    results, errors = [], []

    def worker(chunk):
        with TestClient(app) as c:  # its own connection pool checkout, its own thread
            start.wait()
            for app_id in chunk:
                key = {"Idempotency-Key": f"issue-{app_id}"}
                r = c.post(f"/api/applications/{app_id}/issue", headers={**staff["erin"], **key})
                # a retry of every request, as a client would after a timeout
                r2 = c.post(f"/api/applications/{app_id}/issue", headers={**staff["erin"], **key})
                (results if r.status_code == 201 and r2.json() == r.json() else errors).append(r.json())
    chunks = [approved[i::n_clients] for i in range(n_clients)]
    with ThreadPoolExecutor(n_clients) as pool:
        list(pool.map(worker, chunks))
    assert not errors, errors[:3]
    serials = sorted(card["serial"] for card in results)
    numbers = {card["card_number"] for card in results}
    assert serials == list(range(1, n_clients * per_client + 1))  # unique and dense
    assert len(numbers) == len(results)
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Card)) == n_clients * per_client
    rt._keys = None
    rt.close()


@pytest.mark.parametrize("processes", [3])
def test_parallel_processes_on_postgresql(postgres, tmp_path, key_dir, keys, password_hash, processes):
    """Several service processes (as several issuer instances would be) on one database."""
    from issuer_env import add_staff, make_runtime, new_postgres_database
    from issuer_flow import PASSPHRASE

    url = new_postgres_database(postgres)
    rt = make_runtime(tmp_path, url, key_dir, keys)
    staff = add_staff(rt, password_hash)
    apps = []
    with TestClient(create_app(rt)) as c:
        for _ in range(processes * 4):
            _, app_id = enrol(c, staff)
            ok(c.post(f"/api/applications/{app_id}/approve", headers=staff["alan"]))
            apps.append(app_id)
    script = ("import sys\nfrom issuer.services.runtime import Runtime\nfrom issuer.services import issuance\n"
              "from issuer.settings import Settings\n"
              f"rt = Runtime(Settings(var={str(tmp_path)!r}, database_url={url!r}, key_dir={str(key_dir)!r}, "
              f"key_passphrase={PASSPHRASE!r}))\n"
              "for app_id in map(int, sys.argv[1:]):\n"
              "    with rt.db.session() as s:\n"
              "        issuance.issue(rt, s, 'user:erin', app_id)\n"
              "        s.commit()\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, *map(str, apps[i::processes])])
             for i in range(processes)]
    assert [p.wait(timeout=120) for p in procs] == [0] * processes
    with rt.db.session() as s:
        serials = sorted(s.scalars(select(Card.serial)))
    assert serials == list(range(1, len(apps) + 1))
    rt._keys = None
    rt.close()
