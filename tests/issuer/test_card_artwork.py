"""`ssc-issuer card-artwork CARD_ID`: any card issued through the service, drawn from the
database (front and back PNG and PDF, the QR code PNG) without a station or an encoder; the
QR picture decodes to the card's signed QR text, which verifies."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from crypto import Outcome, TrustStore, verify_credential
from issuer.api import create_app
from issuer.cli import main
from issuer_flow import PASSPHRASE, PASSWORD, issue_card, ok
from terminal.qr_image import read_qr_file


@pytest.fixture
def cli(sqlite_runtime, sqlite_staff, monkeypatch, tmp_path, capsys):
    s = sqlite_runtime.settings
    for name, value in (("SSC_ISSUER_DATABASE_URL", s.database), ("SSC_ISSUER_KEY_DIR", str(s.keys)),
                        ("SSC_KEY_PASSPHRASE", PASSPHRASE), ("SSC_VAR", str(tmp_path)),
                        ("SSC_ISSUER_PASSWORD", PASSWORD)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SSC_ISSUER_API_KEY", raising=False)

    def call(*args, expect: int = 0):
        capsys.readouterr()
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        assert code == expect, out.out + out.err
        return out
    return call


def test_an_issued_card_is_drawn_by_its_id(sqlite_runtime, sqlite_staff, cli, tmp_path):
    with TestClient(create_app(sqlite_runtime)) as client:
        physical = issue_card(client, sqlite_staff)
        electronic = issue_card(client, sqlite_staff, card_kind=2)
        ok(client.post("/api/trust-list/publish", headers=sqlite_staff["ada"]), 201)
        trust_list = client.get("/trust-list").content
    out = tmp_path / "art"
    answer = json.loads(cli("card-artwork", physical["id"], "--out", out, "--user", "erin").out)
    number = physical["card_number"]
    assert sorted(answer["files"]) == sorted(str(out / f"{number}{suffix}") for suffix in
                                             ("-front.png", "-back.png", ".pdf", ".qr.png"))
    front = Image.open(out / f"{number}-front.png")
    assert front.size[0] > front.size[1] > 500  # ID-1 landscape at 300 dpi
    assert (out / f"{number}.pdf").read_bytes().startswith(b"%PDF")
    read = read_qr_file(out / f"{number}.qr.png")
    assert read.text == physical["qr_text"]
    store = TrustStore(sqlite_runtime.keys.root)
    store.update(trust_list)
    verdict = verify_credential(read.text, store, now=physical_iat(sqlite_runtime, physical["id"]))
    assert verdict.outcome is Outcome.VALID, verdict
    # an electronic card has no printed artwork: its QR code only
    answer = json.loads(cli("card-artwork", electronic["id"], "--out", out, "--user", "erin").out)
    assert answer["files"] == [str(out / f"{electronic['card_number']}.qr.png")]


def physical_iat(rt, card_id: int) -> int:
    """The moment the card was signed: the clock the verdict is taken at (not the wall clock)."""
    from issuer.db.models import Card

    with rt.db.session() as s:
        return s.get(Card, card_id).iat + 1


def test_card_artwork_refusals(sqlite_staff, cli, tmp_path):
    err = cli("card-artwork", 999, "--out", tmp_path, "--user", "erin", expect=1).err
    assert "999" in err and "Traceback" not in err
    err = cli("card-artwork", 1, "--out", tmp_path, "--user", "audrey", expect=3).err  # an auditor does not print
    assert "needs the role" in err
