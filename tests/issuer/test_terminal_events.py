"""Terminals forward their event logs to the issuer: API key (role terminal), batches
stored once, only the policy-allowed fields, and every rejection a clear 4xx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from issuer.services import terminal_events
from terminal.eventlog import EventLog

URL = "/api/terminal-events"


@pytest.fixture
def terminal_key(runtime) -> str:
    with runtime.db.session() as session:
        _, key = terminal_events.create_terminal(session, "admin:test", "pharmacy-counter-1")
        session.commit()
    return key


def _log(tmp_path: Path, n: int) -> EventLog:
    log = EventLog(tmp_path / "events.db", terminal_id="pharmacy-counter-1")
    for i in range(n):
        log.append(site="pharmacy", input_kind="qr", outcome="VALID" if i % 2 else "INVALID",
                   reasons=[] if i % 2 else ["REVOKED"], fields={"name": f"HOLDER {i}"})
    return log


def test_a_terminal_forwards_its_log_and_a_resend_is_stored_once(client, staff, terminal_key, tmp_path):
    log = _log(tmp_path, 5)
    report = log.forward(URL, client=client, api_key=terminal_key, batch_size=2)
    assert report.error is None and report.sent == 5 and report.batches == 3
    assert not log.rows(unforwarded=True)  # every row marked forwarded after the 2xx
    stored = client.get(URL, headers=staff["audrey"]).json()
    assert len(stored) == 5
    assert {e["outcome"] for e in stored} == {"VALID", "INVALID"}
    assert any(e["reasons"] == ["REVOKED"] for e in stored)
    # the same batch again (a lost 2xx): counted as duplicates, stored once
    again = [{k: r[k] for k in ("event_id", "at", "terminal", "site", "input", "outcome", "reasons", "fields")}
             for r in log.rows()[:2]]
    body = client.post(URL, json={"events": again}, headers={"X-API-Key": terminal_key}).json()
    assert body == {"received": 2, "stored": 0, "duplicates": 2}


def test_forwarding_needs_a_terminal_key(client, staff, terminal_key, tmp_path):
    log = _log(tmp_path, 1)
    assert "401" in (log.forward(URL, client=client, api_key=None).error or "")
    event = log.rows()[0]
    event = {k: event[k] for k in ("event_id", "at", "site", "input", "outcome", "reasons", "fields")}
    assert client.post(URL, json={"events": [event]}, headers=staff["station"]).status_code == 403
    assert client.post(URL, json={"events": [event]}, headers=staff["ada"]).status_code == 403
    assert client.post(URL, json={"events": [event]}, headers={"X-API-Key": terminal_key + "x"}).status_code == 401
    # reading the events is for auditors and admins, not terminals
    assert client.get(URL, headers={"X-API-Key": terminal_key}).status_code == 403


@pytest.mark.parametrize("change", [
    {"outcome": "MAYBE"}, {"reasons": ["lower case"]}, {"event_id": "x"}, {"at": -1}, {"site": ""},
    {"unexpected": 1}, {"fields": {"big": "x" * 5000}},
])
def test_bad_events_are_refused_with_422(client, terminal_key, change):
    event = {"event_id": "e" * 16, "at": 1, "site": "pharmacy", "input": "qr", "outcome": "VALID",
             "reasons": [], "fields": {}} | change
    r = client.post(URL, json={"events": [event]}, headers={"X-API-Key": terminal_key})
    assert r.status_code == 422, r.text


def test_empty_oversized_and_self_duplicated_batches(client, terminal_key):
    headers = {"X-API-Key": terminal_key}
    assert client.post(URL, json={"events": []}, headers=headers).status_code == 422
    event = {"event_id": "f" * 16, "at": 1, "site": "bureau", "input": "chip", "outcome": "VALID",
             "reasons": [], "fields": {}}
    assert client.post(URL, json={"events": [event] * 501}, headers=headers).status_code == 422
    assert client.post(URL, json={"events": [event, event]}, headers=headers).status_code == 422


def test_terminals_add_prints_a_key_once(runtime, tmp_path):
    if not runtime.settings.database.startswith("sqlite"):
        pytest.skip("the CLI is exercised on SQLite; the service is the same on both")
    env = {"SSC_ISSUER_DATABASE_URL": runtime.settings.database, "SSC_VAR": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([str(Path(sys.executable).parent / "ssc-issuer"), "terminals", "add", "bureau-7"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    key = proc.stdout.strip()
    assert key.startswith("ssk_") and "shown once" in proc.stderr
    with runtime.db.session() as session:
        from issuer.db.models import Terminal
        stored = session.query(Terminal).filter_by(name="bureau-7").one()
        assert key.encode() not in stored.key_sha256 and len(stored.key_sha256) == 32
