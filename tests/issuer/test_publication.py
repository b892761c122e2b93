"""Trust-list publication (stable URLs, ETag / If-None-Match, files for a web server) and
keys (rotation keeps old cards verifying; PKCS#11 / SoftHSM2 back-end)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crypto import Outcome, TrustStore, load_trust_list, verify_credential
from crypto.keys import load_certificate
from issuer import keyring
from issuer.api import create_app
from issuer.cli import main as cli_main
from issuer_env import add_staff, make_runtime
from issuer_flow import PASSPHRASE, issue_card, ok
from clock_support import CLOCK

BIN = Path(sys.executable).parent


def test_trust_list_urls_and_etags(client, staff, keys):
    first = ok(client.post("/api/trust-list/publish", headers=staff["ada"]), 201)
    latest = client.get("/trust-list")
    etag = latest.headers["etag"]
    assert latest.status_code == 200 and latest.headers["content-type"] == "application/cose"
    assert latest.headers["x-trust-list-version"] == str(first["version"])
    assert load_trust_list(latest.content, keys.root).version == first["version"]
    again = client.get("/trust-list", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/trust-list", headers={"If-None-Match": '"other", ' + etag}).status_code == 304
    pinned = client.get(f"/trust-list/{first['version']}")
    assert pinned.content == latest.content and "immutable" in pinned.headers["cache-control"]
    # a revocation publishes a newer version by itself; the old URL keeps its bytes
    card = issue_card(client, staff)
    ok(client.post(f"/api/cards/{card['id']}/cancel", json={"reason": "left China"}, headers=staff["erin"]))
    newer = client.get("/trust-list", headers={"If-None-Match": etag})
    assert newer.status_code == 200 and newer.headers["etag"] != etag
    trust_list = load_trust_list(newer.content, keys.root)
    assert trust_list.version > first["version"] and trust_list.is_revoked("SH01", card["serial"])
    assert client.get(f"/trust-list/{first['version']}").content == latest.content
    root = client.get("/root-ca.pem")
    assert root.text.startswith("-----BEGIN CERTIFICATE-----")
    assert client.get("/root-ca.pem", headers={"If-None-Match": root.headers["etag"]}).status_code == 304


def test_publish_to_a_folder(sqlite_runtime, sqlite_staff, tmp_path, monkeypatch, keys):
    s = sqlite_runtime.settings
    for name, value in (("SSC_ISSUER_DATABASE_URL", s.database), ("SSC_ISSUER_KEY_DIR", str(s.keys)),
                        ("SSC_KEY_PASSPHRASE", PASSPHRASE), ("SSC_VAR", str(tmp_path))):
        monkeypatch.setenv(name, value)
    out = tmp_path / "www"
    assert cli_main(["publish", str(out)]) == 0
    meta = json.loads((out / "trust-list.json").read_text())
    data = (out / "trust-list.cose").read_bytes()
    assert (out / "trust-list" / str(meta["version"])).read_bytes() == data
    assert load_trust_list(data, load_certificate(out / "root-ca.pem")).version == meta["version"]
    assert cli_main(["publish", str(out)]) == 0
    assert json.loads((out / "trust-list.json").read_text())["version"] > meta["version"]
    assert len(list((out / "trust-list").iterdir())) == 2


def test_rotation_keeps_old_cards_verifying(tmp_path, sqlite_url, password_hash):
    folder = tmp_path / "keys"
    keyring.init_software(folder, "SH01", PASSPHRASE.encode(), keyring.Algorithm.ES256).close()
    rt = make_runtime(tmp_path, sqlite_url, folder)
    staff = add_staff(rt, password_hash)
    with TestClient(create_app(rt)) as c:
        old = issue_card(c, staff)
        info = keyring.rotate(folder, "SH01", PASSPHRASE.encode())
        rt._keys = None  # the service reloads its keys (a restart in production)
        new = issue_card(c, staff)
        assert new["kid"] == info.kid.hex() != old["kid"]
        ok(c.post("/api/trust-list/publish", headers=staff["ada"]), 201)
        store = TrustStore(rt.keys.root)
        store.update(c.get("/trust-list").content)
        assert len(store.trust_list.issuers) == 2
        now = CLOCK.now()
        for card in (old, new):
            assert verify_credential(card["qr_text"], store, now=now).outcome is Outcome.VALID
        keys_listed = ok(c.get("/api/keys", headers=staff["ada"]))
        assert [k["current"] for k in keys_listed] == [True, False]
    assert not any(p.name.endswith(".key.pem") and old["kid"] in p.name for p in folder.iterdir())
    rt.close()


def run(*args: str, env: dict, expect: int = 0) -> str:
    proc = subprocess.run([str(BIN / "ssc-issuer"), *args], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def softhsm(tmp_path):
    if shutil.which("softhsm2-util") is None or not os.path.exists("/usr/lib/softhsm/libsofthsm2.so"):
        pytest.skip("SoftHSM2 is not installed")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "issuer-hsm", "--pin", "246810",
                    "--so-pin", "13579135"], env=env, check=True, capture_output=True, timeout=60)
    return env


@pytest.mark.hsm
def test_pkcs11_keys_init_rotate_and_issue(softhsm, tmp_path, password_hash):
    env = dict(softhsm, SSC_VAR=str(tmp_path), SSC_KEY_PASSPHRASE=PASSPHRASE, SSC_ISSUER_PKCS11_PIN="246810")
    out = run("keys", "init", "--pkcs11", "issuer-hsm", env=env)
    assert "HSM token 'issuer-hsm'" in out
    assert not list((tmp_path / "keys").glob("issuer-*.key.pem"))  # no software signing key exists
    assert "Pkcs11Signer" in run("keys", "list", env=env)
    run("keys", "rotate", env=env)
    listed = run("keys", "list", env=env)
    assert "(current)" in listed and "(retired)" in listed
    # the service signs through the HSM: issue a card in a separate process (one token per process)
    run("db", "upgrade", env=env)
    env["SSC_ISSUER_NEW_PASSWORD"] = "long enough password"
    run("users", "add", "ada", "--role", "admin", env=env)
    www = tmp_path / "www"
    run("publish", str(www), env=env)
    trust_list = load_trust_list((www / "trust-list.cose").read_bytes(), load_certificate(www / "root-ca.pem"))
    assert len(trust_list.issuers) == 2
    assert "PRIVATE" not in "".join(p.read_text(errors="ignore") for p in (tmp_path / "keys").glob("*.pem")
                                    if "root" not in p.name)
