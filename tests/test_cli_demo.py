"""The command-line tools end to end, as the demo and an operator use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crypto import samples

BIN = Path(sys.executable).parent


def run(*args: str, env: dict, expect: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    env = dict(os.environ, SSC_VAR=str(var), SSC_KEY_PASSPHRASE="cli-test-passphrase")
    run("ssc-issuer", "keys", "init", env=env)
    record = samples.typical_record()
    record["holder"]["photo_digest"] = record["holder"]["photo_digest"].hex()
    (var / "card.json").write_text(json.dumps(record))
    run("ssc-issuer", "sign", str(var / "card.json"), env=env)
    run("ssc-issuer", "trust-list", env=env)
    return var, env


@pytest.mark.parametrize("tool", ["ssc-issuer", "ssc-terminal", "ssc-card"])
def test_help(tool):
    proc = subprocess.run([str(BIN / tool), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "usage:" in proc.stdout


def test_verify_text_and_image(workspace):
    var, env = workspace
    text = (var / "out" / "card.qr.txt").read_text().strip()
    assert "VALID" in run("ssc-terminal", "verify-qr", text, env=env).stdout
    proc = run("ssc-terminal", "verify-qr", str(var / "out" / "card.qr.png"), "--json", env=env)
    verdict = json.loads(proc.stdout)
    assert verdict["outcome"] == "VALID" and verdict["holder"]["family_name"] == "MUELLER"
    assert verdict["source"].startswith("image, decoded by")


def test_stdin_with_scanner_terminator(workspace):
    var, env = workspace
    text = (var / "out" / "card.qr.txt").read_text().strip()
    proc = subprocess.run([str(BIN / "ssc-terminal"), "verify-qr", "-"], input=text + "\r\n", capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout


def test_revoked_card_is_refused(workspace):
    var, env = workspace
    run("ssc-issuer", "trust-list", "--revoked", "42", "--out", str(var / "revoked.cose"), env=env)
    proc = run("ssc-terminal", "verify-qr", str(var / "out" / "card.qr.png"), "--trust-list",
               str(var / "revoked.cose"), env=env, expect=1)
    assert "REVOKED" in proc.stdout


def test_garbage_is_invalid_not_a_traceback(workspace, tmp_path):
    var, env = workspace
    proc = run("ssc-terminal", "verify-qr", "SSC1:hello", env=env, expect=1)
    assert "QR_LOWERCASE" in proc.stdout and "Traceback" not in proc.stderr
    noise = tmp_path / "noise.png"
    from PIL import Image
    Image.effect_noise((200, 200), 80).save(noise)
    proc = run("ssc-terminal", "verify-qr", str(noise), env=env, expect=1)
    assert "QR_NOT_FOUND" in proc.stdout
    bogus = tmp_path / "bogus.png"
    bogus.write_bytes(b"not an image")
    assert "IMAGE_UNREADABLE" in run("ssc-terminal", "verify-qr", str(bogus), env=env, expect=1).stdout


def test_bad_record_gets_field_messages(workspace, tmp_path):
    var, env = workspace
    record = samples.typical_record()
    record["holder"]["photo_digest"] = record["holder"]["photo_digest"].hex()
    record["holder"]["nationality"] = "XYZ"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    proc = run("ssc-issuer", "sign", str(bad), env=env, expect=1)
    assert "holder.nationality" in proc.stderr and "Traceback" not in proc.stderr


def test_keys_are_encrypted_and_listed(workspace):
    var, env = workspace
    for key in (var / "keys").glob("*.key.pem"):
        assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    assert "issuer SH01" in run("ssc-issuer", "keys", "list", env=env).stdout


def test_make_demo_script_runs_end_to_end(tmp_path):
    """What `make demo` runs, in a fresh var/ folder."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, SSC_VAR=str(tmp_path / "var"))
    env.pop("SSC_KEY_PASSPHRASE", None)
    proc = subprocess.run([sys.executable, str(root / "scripts" / "demo.py")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "demo complete" in proc.stdout
    assert (tmp_path / "var" / "out" / "sample.qr.png").is_file()
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("VALID  (") for line in lines) == 2  # from the text and from the PNG
    assert any(line.startswith("INVALID  (image") for line in lines)  # the revoked card
    station = [line for line in lines if line.startswith("station: card ")]  # issue 5: through the station
    assert station and "read VALID at a bureau" in station[0], proc.stdout[-3000:]
    assert len(list((tmp_path / "var" / "out").glob("SH01P*-front.png"))) == 1
