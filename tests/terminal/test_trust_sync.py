"""Trust sync (issue 6 item 4): verify against the pinned root, refuse rollback, swap
atomically, keep the last good list, If-None-Match; stale data makes verdicts INDETERMINATE."""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from crypto import TrustStore
from terminal.policy import load_policy
from terminal.trust import SyncError, TrustCache, TrustState, atomic_write
from terminal.verifier import Verifier
from tests.terminal.support import env_for, record
from clock_support import CLOCK

BIN = Path(sys.executable).parent


class TrustListServer:
    """The issuer's /trust-list on 127.0.0.1: strong ETag, 304 on If-None-Match."""

    def __init__(self) -> None:
        self.body, self.status, self.requests = b"", 200, []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(dict(self.headers))
                etag = f'"{hashlib.sha256(owner.body).hexdigest()}"'
                if owner.status != 200:
                    self.send_response(owner.status)
                    self.end_headers()
                elif self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Type", "application/cose")
                    self.send_header("Content-Length", str(len(owner.body)))
                    self.end_headers()
                    self.wfile.write(owner.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/trust-list"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def state(tmp_path, pki) -> TrustState:
    return TrustState(tmp_path / "trust", pki.root_path)


def test_sync_from_a_folder_then_refuse_rollback(state, pki, tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "trustlist.cose").write_bytes(pki.trust_list(5))
    result = state.sync(str(usb))
    assert (result.status, result.version, result.previous_version) == ("updated", 5, None)
    assert state.sync(str(usb)).status == "unchanged"
    (usb / "trustlist.cose").write_bytes(pki.trust_list(4))
    with pytest.raises(SyncError) as err:
        state.sync(str(usb))
    assert err.value.reason == "TL_ROLLBACK"
    assert state.held().version == 5  # kept the last good one
    (usb / "trustlist.cose").write_bytes(pki.trust_list(5, revoked=[1]))  # same version, other bytes
    with pytest.raises(SyncError, match="same version"):
        state.sync(str(usb))
    (usb / "trustlist.cose").write_bytes(pki.trust_list(6, revoked=[42]))
    assert state.sync(str(usb)).status == "updated" and state.held().is_revoked("SH01", 42)
    assert sorted(p.name for p in state.folder.iterdir()) == ["trustlist.cose", "trustlist.json"]


@pytest.mark.parametrize("bad", ["other root", "garbage", "truncated", "empty folder"])
def test_bad_lists_are_refused_and_the_old_one_kept(state, pki, other_pki, tmp_path, bad):
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "trustlist.cose").write_bytes(pki.trust_list(5))
    state.sync(str(usb))
    good = state.list_path.read_bytes()
    data = {"other root": other_pki.trust_list(9), "garbage": b"\xd2\x84garbage",
            "truncated": pki.trust_list(9)[:-10], "empty folder": None}[bad]
    if data is None:
        (usb / "trustlist.cose").unlink()
    else:
        (usb / "trustlist.cose").write_bytes(data)
    with pytest.raises(SyncError):
        state.sync(str(usb))
    assert state.list_path.read_bytes() == good


def test_sync_over_http_with_etag(state, pki):
    with TrustListServer() as server:
        server.body = pki.trust_list(10)
        assert state.sync(server.url).status == "updated"
        assert "If-None-Match" not in server.requests[-1]
        assert state.sync(server.url).status == "not-modified"
        assert server.requests[-1]["If-None-Match"] == state.meta()["etag"]
        server.body = pki.trust_list(11)
        assert state.sync(server.url).version == 11
        server.body = pki.trust_list(10)  # a stale mirror
        with pytest.raises(SyncError, match="older"):
            state.sync(server.url)
        server.status = 503
        with pytest.raises(SyncError) as err:
            state.sync(server.url)
        assert err.value.reason == "FETCH_FAILED"
    with pytest.raises(SyncError) as err:  # offline
        state.sync(server.url, timeout=2)
    assert err.value.reason == "FETCH_FAILED" and state.held().version == 11


def test_atomic_write_leaves_no_temporary(tmp_path):
    target = tmp_path / "f"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == ["f"]


def test_stale_revocation_data_is_indeterminate_for_the_site(state, pki, tmp_path):
    """Past the policy's maximum age a verdict is INDETERMINATE (REVOCATION_STALE), not VALID."""
    usb = tmp_path / "usb"
    usb.mkdir()
    now = CLOCK.now()
    (usb / "trustlist.cose").write_bytes(pki.trust_list(3, issued_at=now - 30 * 3600, hours=24 * 7))
    state.sync(str(usb))
    text = pki.qr(iat=now - 31 * 3600)
    cache = TrustCache(state)
    bureau = Verifier(load_policy("bureau"), cache.store)          # at most 24 h old
    pharmacy = Verifier(load_policy("pharmacy"), cache.store)      # at most 72 h old
    stale = bureau.verify_qr_text(text, "test")
    assert stale.outcome == "INDETERMINATE" and [r["code"] for r in stale.reasons()] == ["REVOCATION_STALE"]
    assert pharmacy.verify_qr_text(text, "test").outcome == "VALID"
    assert state.status(max_age=24 * 3600)["stale_for_site"] is True
    # a new list arrives: the cache picks it up without a restart
    (usb / "trustlist.cose").write_bytes(pki.trust_list(4))
    state.sync(str(usb))
    assert bureau.verify_qr_text(text, "test").outcome == "VALID"


def test_no_trust_list_is_indeterminate(tmp_path, pki):
    state = TrustState(tmp_path / "none", pki.root_path)
    result = Verifier(load_policy("pharmacy"), TrustCache(state).store).verify_qr_text(pki.qr(), "test")
    assert result.outcome == "INDETERMINATE" and result.reasons()[0]["code"] == "REVOCATION_MISSING"
    missing_root = TrustState(tmp_path / "none", tmp_path / "no-root.pem")
    result = Verifier(load_policy("pharmacy"), TrustCache(missing_root).store).verify_qr_text(pki.qr(), "test")
    assert result.outcome == "INDETERMINATE"


def test_cli_sync_and_status(home, pki, tmp_path):
    env = env_for(home)
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "trustlist.cose").write_bytes(pki.trust_list(7))

    def run(*args):
        return subprocess.run([str(BIN / "ssc-terminal"), *args], capture_output=True, text=True, env=env,
                              timeout=60)
    proc = run("sync", str(usb))
    assert proc.returncode == 0 and "updated: trust list version 7" in proc.stdout, proc.stderr
    (usb / "trustlist.cose").write_bytes(pki.trust_list(2))
    proc = run("sync", str(usb))
    assert proc.returncode == 1 and "TL_ROLLBACK" in proc.stdout and "kept trust list version 7" in proc.stdout
    proc = run("status", "--site", "bureau")
    assert proc.returncode == 0 and "version 7" in proc.stdout and "current" in proc.stdout, proc.stdout
    info = json.loads(run("status", "--json").stdout)
    assert info["version"] == 7 and info["age_seconds"] >= 0
    assert run("sync", str(tmp_path / "nowhere")).returncode == 4
