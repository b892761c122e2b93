"""The event log (issue 6 item 5): durable local rows with policy-allowed fields only,
forwarded in batches and marked only after a 2xx, nothing lost on kill -9 or offline."""

from __future__ import annotations

import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from crypto import TrustStore
from terminal.eventlog import EventLog
from terminal.policy import load_policy
from terminal.verifier import Verifier
from tests.terminal.support import record


class Collector:
    """The issuer's event endpoint, on 127.0.0.1: answers `status`, keeps what it got."""

    def __init__(self, status: int = 200) -> None:
        self.status, self.batches = status, []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if owner.status < 300:
                    owner.batches.append(json.loads(body))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v1/terminal-events"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


def test_rows_hold_the_verdict_and_only_policy_allowed_fields(tmp_path, pki):
    store = TrustStore(pki.dev.root)
    store.update(pki.trust_list(1, revoked=[9]))
    path = tmp_path / "events.sqlite"
    with EventLog(path, terminal_id="counter-1") as events:
        text = pki.qr()
        Verifier(load_policy("pharmacy"), lambda: store, events=events).verify_qr_text(text, "keyboard wedge")
        Verifier(load_policy("bureau"), lambda: store, events=events).verify_qr_text(text, "serial scanner")
        revoked = pki.qr(record(serial=9))
        Verifier(load_policy("pharmacy"), lambda: store, events=events).verify_qr_text(revoked, "keyboard wedge")
        rows = events.rows()
    assert [(r["site"], r["outcome"], r["reasons"]) for r in rows] == [
        ("pharmacy", "VALID", []), ("bureau", "VALID", []), ("pharmacy", "INVALID", ["REVOKED"])]
    assert set(rows[0]["fields"]) == {"medical_insurance"}
    assert set(rows[1]["fields"]) == {"work_permit_number", "employer", "permit_validity"}
    assert rows[0]["terminal"] == "counter-1" and rows[0]["input"] == "qr: keyboard wedge"
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for never in (text[5:40].encode(), b"MUELLER", b"ANNA", b"Software Engineer", b"F310000DEU880314"):
        assert never not in raw, never


def test_forward_in_batches_marking_only_after_2xx(tmp_path, collector):
    with EventLog(tmp_path / "e.sqlite") as events:
        for i in range(25):
            events.append(site="pharmacy", input_kind="qr: test", outcome="VALID", reasons=[], fields={"n": i})
        collector.status = 503
        report = events.forward(collector.url, batch_size=10)
        assert report.sent == 0 and "503" in report.error and events.counts()["unforwarded"] == 25
        collector.status = 200
        report = events.forward(collector.url, batch_size=10)
        assert (report.sent, report.batches, report.error) == (25, 3, None)
        assert [len(b["events"]) for b in collector.batches] == [10, 10, 5]
        assert events.counts() == {"total": 25, "unforwarded": 0}
        assert events.forward(collector.url).sent == 0
        ids = [e["event_id"] for b in collector.batches for e in b["events"]]
        assert len(set(ids)) == 25 and "seq" not in collector.batches[0]["events"][0]


def test_forward_when_the_issuer_is_unreachable(tmp_path):
    with EventLog(tmp_path / "e.sqlite") as events:
        events.append(site="bureau", input_kind="qr: test", outcome="INVALID", reasons=["REVOKED"], fields={})
        report = events.forward("http://127.0.0.1:9/none", timeout=2)
        assert report.sent == 0 and report.error and events.counts()["unforwarded"] == 1


WRITER = textwrap.dedent("""
    import sys
    from terminal.eventlog import EventLog
    events = EventLog(sys.argv[1], terminal_id="crash-test")
    i = 0
    while True:
        events.append(site="pharmacy", input_kind="qr: test", outcome="VALID", reasons=[],
                      fields={"i": i, "pad": "x" * 200})
        print(i, flush=True)   # acknowledged: append returned
        i += 1
""")


def test_kill_9_mid_write_loses_no_acknowledged_row(tmp_path):
    path = tmp_path / "events.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    acknowledged = -1
    try:
        deadline = time.monotonic() + 30
        while acknowledged < 300 and time.monotonic() < deadline:
            acknowledged = int(proc.stdout.readline())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert acknowledged >= 300
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    with EventLog(path) as events:
        numbers = [r["fields"]["i"] for r in events.rows(limit=100_000)]
        assert numbers[: acknowledged + 1] == list(range(acknowledged + 1))
        events.append(site="pharmacy", input_kind="qr: test", outcome="VALID", reasons=[], fields={})
        assert events.counts()["unforwarded"] == len(numbers) + 1


def test_wal_and_full_sync(tmp_path):
    with EventLog(tmp_path / "e.sqlite") as events:
        assert events._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert events._db.execute("PRAGMA synchronous").fetchone() == (2,)
