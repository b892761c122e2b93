"""`ssc-issuer serve` for real: uvicorn on 127.0.0.1, migrations at start, login, enrol,
approve, issue and publication over HTTP; stopped by its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from issuer.db import Database
from issuer_flow import ALL_DOCUMENTS, PASSPHRASE, employer_body, ok, permit_body, person_body, photo
from pg_cluster import free_port

BIN = Path(sys.executable).parent


@pytest.fixture
def server(tmp_path, key_dir):
    port = free_port()
    env = dict(os.environ, SSC_VAR=str(tmp_path), SSC_ISSUER_KEY_DIR=str(key_dir), SSC_KEY_PASSPHRASE=PASSPHRASE,
               SSC_ISSUER_NEW_PASSWORD="long enough password")
    for name, role in (("erin", "enroller"), ("alan", "approver"), ("ada", "admin")):
        subprocess.run([str(BIN / "ssc-issuer"), "users", "add", name, "--role", role], env=env, check=True,
                       capture_output=True, timeout=120)
    proc = subprocess.Popen([str(BIN / "ssc-issuer"), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
        yield base, tmp_path
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def test_serve_issues_over_http(server):
    base, var = server
    with httpx.Client(base_url=base, timeout=30) as c:
        tokens = {}
        for name in ("erin", "alan", "ada"):
            tokens[name] = {"Authorization": "Bearer " + ok(c.post("/api/auth/token", data={
                "username": name, "password": "long enough password"}))["access_token"]}
        ok(c.post("/api/employers", json=employer_body(), headers=tokens["erin"]), 201)
        person = ok(c.post("/api/persons", json=person_body(), headers=tokens["erin"]), 201)
        ok(c.put(f"/api/persons/{person['id']}/photo", files={"photo": ("p.jpg", photo(), "image/jpeg")},
                 headers=tokens["erin"]))
        app = ok(c.post("/api/applications", json={"person_id": person["id"], "permit": permit_body(),
                                                   "documents": ALL_DOCUMENTS}, headers=tokens["erin"]), 201)
        ok(c.post(f"/api/applications/{app['id']}/approve", headers=tokens["alan"]))
        card = ok(c.post(f"/api/applications/{app['id']}/issue", headers={**tokens["erin"],
                                                                         "Idempotency-Key": "k1"}), 201)
        assert card["serial"] == 1
        ok(c.post("/api/trust-list/publish", headers=tokens["ada"]), 201)
        first = c.get("/trust-list")
        assert c.get("/trust-list", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        assert c.get("/api/cards/1").status_code == 401
        assert c.get("/openapi.json").json()["info"]["title"] == "sscard issuer"
    # serve ran the migrations on the embedded default database, $SSC_VAR/issuer.db
    db = Database(f"sqlite:///{var / 'issuer.db'}")
    assert "alembic_version" in inspect(db.engine).get_table_names()
    db.dispose()
