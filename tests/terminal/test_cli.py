"""ssc-terminal verify-qr with a site: the fields each site shows, exit codes, logging."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.camera import camera_frame
from terminal.eventlog import EventLog
from tests.terminal.support import env_for, record

BIN = Path(sys.executable).parent


def run(home, *args, expect=0, stdin=None):
    proc = subprocess.run([str(BIN / "ssc-terminal"), *args], capture_output=True, text=True, env=env_for(home),
                          timeout=60, input=stdin)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def test_pharmacy_and_bureau_show_different_fields(home, pki):
    text = pki.qr()
    out = run(home, "verify-qr", text, "--site", "pharmacy")
    assert out.startswith("VALID  at pharmacy  (QR text)")
    assert "[ok ] site_policy: pharmacy: card valid, medical insurance in force" in out
    assert "MUELLER, ANNA" in out and "medical insurance: in force" in out and "QR code carries no photo" in out
    assert "Shanghai Example" not in out and "Software Engineer" not in out
    out = run(home, "verify-qr", text, "--site", "bureau")
    assert "employer:" in out and "Shanghai Example Tech" in out and "position:" in out and "310115" in out
    assert "medical insurance" not in out


def test_site_verdicts_exit_codes_and_json(home, pki, tmp_path):
    unpaid = pki.qr(record(medical_status=2))
    out = run(home, "verify-qr", unpaid, "--site", "hospital", expect=1)
    assert "POLICY_INSURANCE_STATUS" in out
    out = json.loads(run(home, "verify-qr", unpaid, "--site", "bureau", "--json"))
    assert out["outcome"] == "VALID" and out["fields"]["position"] == "Software Engineer"
    assert out["reasons"] == [] and out["checks"][-1]["check"] == "site_policy"
    frame = tmp_path / "frame.png"
    camera_frame(pki.qr()).save(frame)
    out = json.loads(run(home, "verify-qr", str(frame), "--site", "pharmacy", "--json"))
    assert out["outcome"] == "VALID" and out["source"] == "image, decoded by zxing-cpp"
    out = run(home, "verify-qr", "-", "--site", "pharmacy", stdin=pki.qr() + "\r\n")
    assert out.startswith("VALID  at pharmacy  (standard input)")
    out = run(home, "verify-qr", "https://example.com", "--site", "pharmacy", expect=1)
    assert "QR_PREFIX" in out
    run(home, "verify-qr", pki.qr(), "--site", "casino", expect=2)
    with EventLog(home / "events.sqlite") as events:
        rows = events.rows()
    assert [r["outcome"] for r in rows] == ["INVALID", "VALID", "VALID", "VALID", "INVALID"]


def test_help_of_every_command():
    for command in ("verify-qr", "read-card", "sync", "status", "run"):
        proc = subprocess.run([str(BIN / "ssc-terminal"), command, "--help"], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0 and "usage:" in proc.stdout
