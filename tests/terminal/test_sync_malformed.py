"""`ssc-terminal sync` meets a trust list or a delta whose x5chain certificate has one
flipped byte (issue 11 item 4): TL_MALFORMED, no traceback, the list held kept; a delta
path that meets one falls back to the full list. From a folder and over HTTP (loopback).

Everything is signed on the fixed clock of tests/support/signed_samples.py."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings, strategies as st

from terminal import trust_deltas
from terminal.trust import SyncError, TrustState
from terminal.trust_deltas import NoDeltas

from signed_samples import make_samples
from tests.crypto.test_malformed_inputs import flipped, with_x5chain

BIN = Path(sys.executable).parent
FLIPS = ["version", "subject"]


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("sync-malformed"))


class Folder:
    """A published folder (`ssc-issuer publish DIR` layout), also served over HTTP on
    127.0.0.1 as static files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "deltas").mkdir(parents=True)

    def publish(self, full: bytes, latest: int, deltas: dict[tuple[int, int], bytes] | None = None) -> None:
        (self.path / "trust-list.cose").write_bytes(full)
        entries = []
        for (base, new), data in sorted((deltas or {}).items()):
            name = f"{base}-{new}.cose"
            (self.path / "deltas" / name).write_bytes(data)
            entries.append({"from": base, "to": new, "file": name, "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()})
        (self.path / "deltas" / "index.json").write_text(json.dumps({"latest": latest, "deltas": entries}))

    def __enter__(self):
        handler = functools.partial(_QuietHandler, directory=str(self.path))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/trust-list.cose"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def source(self, kind: str) -> str:
        return str(self.path) if kind == "dir" else self.url


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def folder(tmp_path):
    with Folder(tmp_path / "published") as f:
        yield f


def _holding_version_1(s, tmp_path: Path) -> TrustState:
    root = tmp_path / "root-ca.pem"
    root.write_bytes(s.pki.root.public_bytes(serialization.Encoding.PEM))
    state = TrustState(tmp_path / "trust", root)
    first, _ = s.coded_lists
    source = tmp_path / "first"
    source.mkdir()
    (source / "trust-list.cose").write_bytes(first)
    assert state.sync(str(source), now=s.now).version == 1
    return state


@pytest.mark.parametrize("kind", ["dir", "http"])
@pytest.mark.parametrize("which", FLIPS)
def test_full_list_with_a_malformed_signer_certificate_is_refused_and_the_old_list_kept(
        s, tmp_path, folder, kind, which):
    state = _holding_version_1(s, tmp_path)
    _, second = s.coded_lists
    folder.publish(with_x5chain(second, flipped(s.trust_list_signer_der, which)), latest=2)
    with pytest.raises(SyncError) as err:
        state.sync(folder.source(kind), now=s.now)
    assert err.value.reason == "TL_MALFORMED"
    held = state.held()
    assert held.version == 1 and held.encoded == s.coded_lists[0]


@pytest.mark.parametrize("kind", ["dir", "http"])
@pytest.mark.parametrize("which", FLIPS)
def test_delta_with_a_malformed_signer_certificate_falls_back_to_the_full_list(s, tmp_path, folder, kind, which):
    state = _holding_version_1(s, tmp_path)
    _, second = s.coded_lists
    folder.publish(second, latest=2, deltas={(1, 2): with_x5chain(s.delta, flipped(s.trust_list_signer_der, which))})
    result = state.sync(folder.source(kind), now=s.now)
    assert (result.status, result.path, result.version) == ("updated", "full", 2)
    assert result.fallback and "TL_MALFORMED" in result.fallback
    assert state.held().encoded == second and state.held().deltas == ()


@pytest.mark.parametrize("which", FLIPS)
def test_cli_sync_says_tl_malformed_without_a_traceback(s, tmp_path, folder, which):
    state = _holding_version_1(s, tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (home / "root-ca.pem").write_bytes(state.root_path.read_bytes())
    (home / "trust").mkdir()
    (home / "trust" / "trustlist.cose").write_bytes(s.coded_lists[0])
    env = dict(os.environ, SSC_VAR=str(tmp_path), SSC_TERMINAL_HOME=str(home))

    def sync(source: str):
        return subprocess.run([str(BIN / "ssc-terminal"), "sync", source], capture_output=True, text=True,
                              env=env, timeout=60)

    _, second = s.coded_lists
    bad = flipped(s.trust_list_signer_der, which)
    folder.publish(with_x5chain(second, bad), latest=2)
    for source in (folder.source("dir"), folder.source("http")):
        proc = sync(source)
        assert proc.returncode == 1, proc.stderr
        assert "refused: TL_MALFORMED" in proc.stdout and "kept trust list version 1" in proc.stdout
        assert "Traceback" not in proc.stdout + proc.stderr
    folder.publish(second, latest=2, deltas={(1, 2): with_x5chain(s.delta, bad)})
    proc = sync(folder.source("http"))
    assert proc.returncode == 0 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert "updated: trust list version 2" in proc.stdout and "deltas not used: TL_MALFORMED" in proc.stdout


# ---------------------------------------------------------------- what a source says about its deltas

JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 12), st.text(max_size=12)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.sampled_from(["latest", "deltas", "from", "to", "file",
                                                                             "sha256", "size"]), inner, max_size=6)),
                    max_leaves=20)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(index=st.one_of(JSON, st.fixed_dictionaries({"latest": st.integers(0, 6), "deltas": st.lists(
    st.fixed_dictionaries({"from": st.integers(0, 6), "to": JSON | st.integers(0, 6), "file": JSON | st.just("1-2.cose"),
                           "sha256": JSON}), max_size=4)})), since=st.integers(0, 6))
def test_any_delta_index_gives_a_chain_or_no_deltas(index, since):
    """deltas/index.json is untrusted: any JSON gives a chain or NoDeltas (then the full list)."""
    raw = json.dumps(index).encode()
    files = {"deltas/index.json": raw, "deltas/1-2.cose": b"\xd2\x84"}

    def get(name: str, limit: int) -> bytes:
        if name not in files:
            raise NoDeltas(f"{name} does not exist")
        return files[name]

    try:
        offer = trust_deltas._from_index(since, get)
    except NoDeltas:
        return
    assert all(isinstance(d, bytes) for d in offer.chain) and type(offer.latest) is int


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=80))
def test_a_damaged_kept_deltas_file_is_a_value_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("kept") / trust_deltas.DELTAS_NAME
    path.write_bytes(data)
    try:
        kept = trust_deltas.read_kept(path, b"full list")
    except ValueError:
        return  # terminal/trust.py then uses the full list alone and says so
    assert isinstance(kept, tuple)
