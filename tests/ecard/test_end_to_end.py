"""The e-card end to end, as people use it: an officer makes the code (ssc-issuer ecard code),
the holder activates against the running issuer service (ssc-card wallet activate), the
phone shows its QR code as an image (wallet show --png), and a terminal decodes the
RENDERED image (terminal.qr_image) and verifies it (ssc-terminal verify-qr --site bureau):
valid once, refused when replayed, as a two-minute-old screenshot, with another phone's
signature, and once the physical card is replaced; challenge mode through images too."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization

from crypto.ecard import present
from firmware_tools.cli import main as ssc_card
from firmware_tools.wallet import Wallet, WalletStore
from firmware_tools.wallet.qr import write_png
from firmware_tools.wallet.store import new_device_key
from issuer.api import create_app
from issuer.cli import main as ssc_issuer
from issuer_flow import PASSPHRASE, PASSWORD, TOKEN_SECRET, ok
from terminal.cli import main as ssc_terminal
from terminal.qr_image import read_qr_file
from clock_support import CLOCK

WALLET_PASSPHRASE = "wallet-test-passphrase"


@pytest.fixture
def server(issuer):
    """The issuer service on 127.0.0.1 (uvicorn in a thread), for the wallet's HTTP calls."""
    config = uvicorn.Config(create_app(issuer.rt), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def env(issuer, tmp_path, monkeypatch):
    """The environment of the three commands: the issuer's database and keys, the wallet's
    passphrase, and a terminal home with the pinned root and the current trust list."""
    s = issuer.rt.settings
    home = tmp_path / "terminal"
    (home / "trust").mkdir(parents=True)
    (home / "root-ca.pem").write_bytes(issuer.rt.keys.root.public_bytes(serialization.Encoding.PEM))
    for name, value in (("SSC_ISSUER_DATABASE_URL", s.database), ("SSC_ISSUER_KEY_DIR", str(s.keys)),
                        ("SSC_KEY_PASSPHRASE", PASSPHRASE), ("SSC_VAR", str(tmp_path)),
                        ("SSC_ISSUER_PASSWORD", PASSWORD), ("SSC_ISSUER_TOKEN_SECRET", TOKEN_SECRET),
                        ("SSC_WALLET_PASSPHRASE", WALLET_PASSPHRASE), ("SSC_TERMINAL_HOME", str(home)),
                        ("SSC_WALLET_HOME", str(tmp_path / "wallet"))):
        monkeypatch.setenv(name, value)
    for name in ("SSC_ISSUER_API_KEY", "SSC_TERMINAL_SITE"):
        monkeypatch.delenv(name, raising=False)
    return home


def sync(issuer, home: Path) -> None:
    (home / "trust" / "trustlist.cose").write_bytes(issuer.store().trust_list.encoded)


def call(tool, *args, capsys, expect: int = 0) -> str:
    capsys.readouterr()
    code = tool([str(a) for a in args])
    out = capsys.readouterr()
    assert code == expect, out.out + out.err
    return out.out + out.err


def test_activate_show_verify_replay_screenshot_revocation(issuer, server, env, tmp_path, capsys):
    card = issuer.delivered_card()
    wp = issuer.person(card)["work_permit_number"]
    code = json.loads(call(ssc_issuer, "ecard", "code", card["id"], "--user", "erin", capsys=capsys))["code"]

    out = call(ssc_card, "wallet", "activate", "--work-permit", wp, "--code", code, "--issuer", server,
               capsys=capsys)
    assert f"e-card activated: card {card['card_number']}" in out
    out = call(ssc_card, "wallet", "activate", "--work-permit", wp, "--code", code, "--issuer", server, "--force",
               capsys=capsys, expect=1)  # one-time: refused, and the wallet keeps its e-card
    assert "409" in out and "used already" in out
    assert "e-card serial" in call(ssc_card, "wallet", "status", capsys=capsys)

    sync(issuer, env)
    png = tmp_path / "ecard.png"
    shown = call(ssc_card, "wallet", "show", "--png", png, "--purpose", "permit", capsys=capsys)
    assert "SSC1E:" in shown and ("▀" in shown or "█" in shown)  # the QR code drawn in the terminal too
    assert read_qr_file(png).text.startswith("SSC1E:")
    out = call(ssc_terminal, "verify-qr", png, "--site", "bureau", capsys=capsys)
    assert out.startswith("VALID  at bureau") and "e-card (made" in out and "Shanghai Example Tech" in out
    out = call(ssc_terminal, "verify-qr", png, "--site", "bureau", capsys=capsys, expect=1)  # the same image again
    assert "ECARD_REPLAYED" in out

    wallet = Wallet.open(WalletStore(tmp_path / "wallet"), WALLET_PASSPHRASE.encode())
    screenshot = tmp_path / "screenshot.png"
    write_png(wallet.present(now=CLOCK.seconds() - 120), screenshot)  # taken two minutes ago
    out = call(ssc_terminal, "verify-qr", screenshot, "--site", "bureau", "--json", capsys=capsys, expect=1)
    assert json.loads(out)["reasons"][0]["code"] == "ECARD_STALE"

    copied = tmp_path / "copied.png"
    write_png(present(wallet.credential, new_device_key(), now=CLOCK.seconds()), copied)  # another phone's key
    out = call(ssc_terminal, "verify-qr", copied, "--site", "bureau", capsys=capsys, expect=1)
    assert "ECARD_DEVICE_SIGNATURE" in out

    ok(issuer.client.post(f"/api/cards/{card['id']}/replace", json={"reason": "stolen"},
                          headers=issuer.staff["erin"]), 201)
    sync(issuer, env)
    call(ssc_card, "wallet", "show", "--png", png, "--no-qr", capsys=capsys)
    out = call(ssc_terminal, "verify-qr", png, "--site", "bureau", capsys=capsys, expect=1)
    assert "REVOKED" in out


def test_challenge_mode_through_images(issuer, activated, env, tmp_path, capsys):
    issuer, card, wallet = activated
    sync(issuer, env)
    challenge_png, answer_png = tmp_path / "challenge.png", tmp_path / "answer.png"
    out = call(ssc_terminal, "challenge", "--site", "bureau", "--png", challenge_png, "--json", capsys=capsys)
    shown = json.loads(out)
    assert read_qr_file(challenge_png).text == shown["qr_text"] and shown["qr_text"].startswith("SSC1C:")
    scanned = read_qr_file(challenge_png).text  # the phone's camera reads the terminal's screen
    call(ssc_card, "wallet", "respond", scanned, "--png", answer_png, "--no-qr", capsys=capsys)
    out = call(ssc_terminal, "verify-qr", answer_png, "--site", "bureau", capsys=capsys)
    assert out.startswith("VALID") and "answering this terminal's challenge" in out
    out = call(ssc_terminal, "verify-qr", answer_png, "--site", "bureau", capsys=capsys, expect=1)
    assert "ECARD_CHALLENGE_UNKNOWN" in out
    # the short code typed by hand works as well
    code = json.loads(call(ssc_terminal, "challenge", "--json", capsys=capsys))["challenge"]
    text = json.loads(call(ssc_card, "wallet", "respond", code.lower(), "--json", capsys=capsys))["qr_text"]
    assert call(ssc_terminal, "verify-qr", text, "--site", "bureau", capsys=capsys).startswith("VALID")


def test_wallet_errors_have_exit_codes(issuer, server, env, tmp_path, capsys):
    card = issuer.delivered_card()
    wp = issuer.person(card)["work_permit_number"]
    out = call(ssc_card, "wallet", "activate", "--work-permit", wp, "--code", "AAAA-BBBB-CCCC", "--issuer", server,
               capsys=capsys, expect=1)
    assert "403" in out and not (tmp_path / "wallet").exists()
    out = call(ssc_card, "wallet", "activate", "--work-permit", wp, "--code", "AAAA-BBBB-CCCC", "--issuer",
               "http://127.0.0.1:9", capsys=capsys, expect=4)
    assert "cannot be reached" in out
    assert "no e-card" in call(ssc_card, "wallet", "show", capsys=capsys, expect=1)
    assert "not a terminal's challenge" in call(ssc_card, "wallet", "respond", "HELLO", capsys=capsys, expect=1)


def test_verify_qr_without_a_site_reports_the_ecard_checks(activated, env, capsys):
    issuer, card, wallet = activated
    sync(issuer, env)
    text = wallet.present()
    out = call(ssc_terminal, "verify-qr", text, "--json", capsys=capsys)
    verdict = json.loads(out)
    assert verdict["outcome"] == "VALID" and [c["check"] for c in verdict["checks"]][-2:] == ["device_auth",
                                                                                              "freshness"]
    assert "ECARD_REPLAYED" in call(ssc_terminal, "verify-qr", text, capsys=capsys, expect=1)


def test_show_every_makes_a_new_code_each_time(activated, env, capsys):
    out = call(ssc_card, "wallet", "show", "--every", "0.01", "--count", "3", "--json", capsys=capsys)
    texts = [json.loads(line)["qr_text"] for line in out.splitlines() if line.startswith("{")]
    assert len(texts) == 3 and len(set(texts)) == 3  # a new nonce (and signature) every time
