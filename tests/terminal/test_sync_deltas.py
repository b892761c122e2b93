"""`ssc-terminal sync` with revocation deltas (issue 8; docs/spec.md §11.4, §11.7): a
terminal that holds a list catches up by deltas, from a folder that `ssc-issuer publish`
wrote and from the issuer service's URLs, and falls back to the full list on any break in
the chain; what it applied survives a restart; rollback stays refused.

The lists and deltas are made here with the crypto core in both published layouts (the
issuer's own publication is tested end to end in tests/issuer/test_revocation_publication.py)."""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from crypto import build_trust_list, cbor, load_trust_list
from crypto.revocation import RevocationSet
from crypto.revocation_delta import delta_between
from terminal.policy import load_policy
from terminal.trust import SyncError, TrustCache, TrustState
from terminal.trust_deltas import DELTAS_NAME
from terminal.verifier import Verifier
from tests.terminal.support import env_for, record
from clock_support import CLOCK

BIN = Path(sys.executable).parent
UNIVERSE = 1_000_000  # serials [1, 1,000,001): 20,000 revoked make a 19 kB list


class Publisher:
    """What the issuer publishes: format-2 lists over a universe of serials, and the delta
    from each version to the next, as a folder (trust-list.cose, deltas/index.json,
    deltas/FROM-TO.cose) and over HTTP on 127.0.0.1: the service's /trust-list and
    /trust-list/deltas?since=V, and the folder itself under /pub/."""

    def __init__(self, pki, folder: Path) -> None:
        self.pki, self.folder = pki, folder
        self.lists: dict[int, bytes] = {}
        self.deltas: dict[int, tuple[int, bytes]] = {}  # base version -> (new version, signed delta)
        self.latest: int | None = None
        self.revoked: set[int] = set()
        self.requests: list[str] = []
        (folder / "deltas").mkdir(parents=True)

    def publish(self, version: int, revoke=(), *, base: int = 1, delta: bool = True) -> bytes:
        self.revoked |= set(revoke)
        now = CLOCK.now() - 60
        data = build_trust_list(
            version=version, issued_at=now, next_update=now + 24 * 3600,
            issuer_certificates=[self.pki.dev.issuer.certificate], signer=self.pki.dev.trust_list_signer,
            revoked={"SH01": RevocationSet.from_serials(self.revoked, base=base, size=UNIVERSE + 1 - base, clip=True)})
        if delta and self.latest is not None:
            previous = load_trust_list(self.lists[self.latest], self.pki.dev.root)
            signed = delta_between(previous, load_trust_list(data, self.pki.dev.root), self.pki.dev.trust_list_signer)
            self.deltas[self.latest] = (version, signed)
        self.lists[version], self.latest = data, version
        self.write()
        return data

    def write(self) -> None:
        entries = []
        for base, (new, data) in sorted(self.deltas.items()):
            (self.folder / "deltas" / f"{base}-{new}.cose").write_bytes(data)
            entries.append({"from": base, "to": new, "file": f"{base}-{new}.cose", "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()})
        (self.folder / "deltas" / "index.json").write_text(json.dumps({"latest": self.latest, "deltas": entries}))
        (self.folder / "trust-list.cose").write_bytes(self.lists[self.latest])

    def chain(self, since: int) -> list[bytes] | None:
        out, at = [], since
        while at != self.latest:
            if at not in self.deltas:
                return None
            at, data = self.deltas[at]
            out.append(data)
        return out

    def __enter__(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(self.path)
                url = urlsplit(self.path)
                if url.path == "/trust-list":
                    self.answer(owner.lists[owner.latest])
                elif url.path == "/trust-list/deltas":
                    since = int(parse_qs(url.query)["since"][0])
                    chain = owner.chain(since) if since <= owner.latest else None
                    self.answer(None if chain is None else cbor.dumps(chain), owner.latest)
                elif url.path.startswith("/pub/") and ".." not in url.path:
                    path = owner.folder / url.path.removeprefix("/pub/")
                    self.answer(path.read_bytes() if path.is_file() else None)
                else:
                    self.answer(None)

            def answer(self, body: bytes | None, latest: int | None = None):
                self.send_response(200 if body is not None else 404)
                if latest is not None:
                    self.send_header("X-Trust-List-Version", str(latest))
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def source(self, kind: str) -> str:
        return {"dir": str(self.folder), "service": f"{self.base}/trust-list",
                "static": f"{self.base}/pub/trust-list.cose"}[kind]


@pytest.fixture
def publisher(pki, tmp_path):
    with Publisher(pki, tmp_path / "published") as p:
        yield p


@pytest.fixture
def state(tmp_path, pki) -> TrustState:
    return TrustState(tmp_path / "trust", pki.root_path)


SOURCES = ["dir", "service", "static"]


@pytest.mark.parametrize("kind", SOURCES)
def test_catch_up_by_deltas_and_restart(state, publisher, pki, kind):
    """No list: the full list. Then 3 revocations: one delta, far fewer bytes; then several
    versions at once. The revoked card is INVALID REVOKED, the others VALID; a restart
    (a new TrustState) re-applies the deltas kept."""
    first = publisher.publish(1, revoke=range(1, UNIVERSE, 50))  # 2%
    result = state.sync(publisher.source(kind))
    assert (result.status, result.path, result.version, result.fallback) == ("updated", "full", 1, None)
    assert result.bytes_fetched == len(first)
    publisher.publish(2, revoke=[500, 502, 1234])
    result = state.sync(publisher.source(kind))
    assert (result.status, result.path, result.version, result.previous_version, result.deltas) == \
        ("updated", "delta", 2, 1, 1)
    assert result.bytes_fetched < len(first) // 10, (result.bytes_fetched, len(first))
    assert state.list_path.read_bytes() == first  # the full list it started from, and the delta beside it
    assert sorted(p.name for p in state.folder.iterdir()) == ["trustlist-deltas.cbor", "trustlist.cose",
                                                              "trustlist.json"]
    verifier = Verifier(load_policy("pharmacy"), TrustCache(state).store)
    assert verifier.verify_qr_text(pki.qr(record(serial=1234)), "t").reasons()[0]["code"] == "REVOKED"
    assert verifier.verify_qr_text(pki.qr(record(serial=1235)), "t").outcome == "VALID"
    assert verifier.verify_qr_text(pki.qr(record(serial=51)), "t").outcome == "INVALID"
    assert verifier.verify_qr_text(pki.qr(record(serial=52)), "t").outcome == "VALID"
    assert state.sync(publisher.source(kind)).status == "unchanged"
    for version in (3, 4, 5):
        publisher.publish(version, revoke=[version * 100 + 7])
    result = state.sync(publisher.source(kind))
    assert (result.path, result.version, result.deltas) == ("delta", 5, 3)
    restarted = TrustState(state.folder, state.root_path).held()
    assert restarted.version == 5 and len(restarted.deltas) == 4 and restarted.is_revoked("SH01", 507)
    info = TrustState(state.folder, state.root_path).status()
    assert (info["revocation_format"], info["revoked"], info["deltas_applied"]) == ("2", 20_006, 4)
    assert info["revocation"] == [{"issuer": "SH01", "format": 2, "revoked": 20_006, "universe": [1, UNIVERSE + 1]}]


@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize("fault", ["missing", "broken", "wrong chain", "no deltas at all"])
def test_a_broken_chain_falls_back_to_the_full_list(state, publisher, pki, kind, fault):
    publisher.publish(1, revoke=[5])
    state.sync(publisher.source(kind))
    publisher.publish(2, revoke=[6])
    publisher.publish(3, revoke=[7])
    if fault == "missing":      # a gap: the delta 2 -> 3 is not published
        del publisher.deltas[2]
        (publisher.folder / "deltas" / "2-3.cose").unlink()
    elif fault == "broken":     # a damaged delta: its signature does not verify
        new, data = publisher.deltas[2]
        publisher.deltas[2] = (new, data[:-5] + bytes(5))
    elif fault == "wrong chain":  # signed, but made from another state of version 2: TL_DELTA_CHAIN
        other = load_trust_list(build_trust_list(
            version=2, issued_at=CLOCK.now() - 60, next_update=CLOCK.now() + 3600,
            issuer_certificates=[pki.dev.issuer.certificate], signer=pki.dev.trust_list_signer,
            revoked={"SH01": RevocationSet.from_serials([5, 6, 99], base=1, size=UNIVERSE)}), pki.dev.root)
        third = load_trust_list(publisher.lists[3], pki.dev.root)
        publisher.deltas[2] = (3, delta_between(other, third, pki.dev.trust_list_signer))
    else:
        publisher.deltas.clear()
        for path in (publisher.folder / "deltas").iterdir():
            path.unlink()
    publisher.write()
    result = state.sync(publisher.source(kind))
    assert (result.status, result.path, result.version) == ("updated", "full", 3)
    assert result.fallback
    if fault == "wrong chain":
        assert "TL_DELTA_CHAIN" in result.fallback
    assert not (state.folder / DELTAS_NAME).exists()
    held = state.held()
    assert held.deltas == () and held.encoded == publisher.lists[3] and held.is_revoked("SH01", 7)


def test_rollback_is_refused_and_the_deltas_kept(state, publisher):
    publisher.publish(1, revoke=[5])
    state.sync(publisher.source("dir"))
    publisher.publish(2, revoke=[6])
    publisher.publish(3, revoke=[7])
    assert state.sync(publisher.source("dir")).path == "delta"
    reached = state.held()
    # a stale mirror: version 2 is its latest
    stale = Publisher(publisher.pki, publisher.folder.parent / "stale")
    stale.publish(1, revoke=[5])
    stale.lists[2], stale.latest = publisher.lists[2], 2
    stale.write()
    with pytest.raises(SyncError) as err:
        state.sync(str(stale.folder))
    assert err.value.reason == "TL_ROLLBACK"
    assert state.held().version == 3 and state.held().deltas == reached.deltas
    # the full list of the version reached by deltas says the same: accepted, it replaces them
    (stale.folder / "deltas" / "index.json").unlink()
    (stale.folder / "trust-list.cose").write_bytes(publisher.lists[3])
    result = state.sync(str(stale.folder))
    assert (result.status, result.path, result.version) == ("unchanged", "full", 3)
    assert state.held().deltas == () and not (state.folder / DELTAS_NAME).exists()
    # the same version with other content is refused
    publisher.lists[3] = build_trust_list(
        version=3, issued_at=CLOCK.now() - 60, next_update=CLOCK.now() + 3600,
        issuer_certificates=[publisher.pki.dev.issuer.certificate], signer=publisher.pki.dev.trust_list_signer,
        revoked={"SH01": RevocationSet.from_serials([5], base=1, size=UNIVERSE)})
    (stale.folder / "trust-list.cose").write_bytes(publisher.lists[3])
    with pytest.raises(SyncError, match="same version"):
        state.sync(str(stale.folder))


def test_too_many_deltas_held_fetch_the_full_list(state, publisher, monkeypatch):
    monkeypatch.setattr("terminal.trust.MAX_HELD_DELTAS", 2)
    publisher.publish(1)
    state.sync(publisher.source("dir"))
    for version in (2, 3):
        publisher.publish(version, revoke=[version])
        assert state.sync(publisher.source("dir")).path == "delta"
    publisher.publish(4, revoke=[4])
    result = state.sync(publisher.source("dir"))
    assert (result.path, result.version) == ("full", 4) and "2 deltas held" in result.fallback
    assert state.held().deltas == ()


def test_universe_moves_up_and_kept_deltas_that_do_not_apply(state, publisher):
    """Cards below the new base left the universe: their serials are no longer revoked there
    (they have expired; the validity check refuses them first). Damaged kept deltas: the full
    list alone is used and status says so."""
    publisher.publish(1, revoke=[3, 40, 900])
    state.sync(publisher.source("dir"))
    publisher.publish(2, revoke=[950], base=100)
    assert state.sync(publisher.source("dir")).path == "delta"
    held = state.held()
    assert (held.revoked["SH01"].base, sorted(held.revoked["SH01"])) == (100, [900, 950])
    assert not held.is_revoked("SH01", 3) and not held.is_revoked("SH01", 40)
    state.deltas_path.write_bytes(b"\xa2\x01\x40\x02\x81\x43abc")  # for another list: ignored
    assert state.held().version == 1 and state.problem is None
    state.deltas_path.write_bytes(b"garbage")
    info = state.status()
    assert info["version"] == 1 and "no longer apply" in info["problem"]
    result = state.sync(publisher.source("dir"))  # repaired by the next sync
    assert (result.path, result.version) == ("delta", 2) and state.status().get("problem") is None


def test_cli_reports_the_path_and_bytes(home, publisher, pki):
    env = env_for(home)
    (home / "trust" / "trustlist.cose").unlink()

    def run(*args):
        return subprocess.run([str(BIN / "ssc-terminal"), *args], capture_output=True, text=True, env=env,
                              timeout=60)
    full = publisher.publish(1, revoke=range(1, 100, 3))
    proc = run("sync", publisher.source("service"))
    assert proc.returncode == 0 and f"path: full list, {len(full):,} bytes fetched" in proc.stdout, proc.stdout
    publisher.publish(2, revoke=[1500])
    proc = run("sync", publisher.source("service"))
    assert proc.returncode == 0 and "updated: trust list version 2" in proc.stdout, proc.stdout + proc.stderr
    assert "path: deltas (1 applied)" in proc.stdout
    status = run("status")
    assert "34 revoked serial(s), revocation format 2, 1 delta(s) applied" in status.stdout, status.stdout
    assert "SH01: format 2, 34 revoked among serials [1, 1000001)" in status.stdout
    publisher.publish(3, revoke=[1600], delta=False)
    proc = run("sync", publisher.source("service"))
    assert "path: full list" in proc.stdout and "deltas not used: " in proc.stdout, proc.stdout
