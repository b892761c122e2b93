"""`ssc-issuer artwork render|proof`, run through issuer.artwork.cli.main (the same parser
that add_artwork_commands adds to ssc-issuer)."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import pytest
import zxingcpp
from PIL import Image

from crypto import samples
from issuer.artwork.cli import add_artwork_commands, main


@pytest.fixture
def inputs(tmp_path, typical, sign, photo):
    record = samples.typical_record()
    record["holder"]["photo_digest"] = typical.holder.photo_digest.hex()
    (tmp_path / "anna.json").write_text(json.dumps(record), encoding="utf-8")
    (tmp_path / "anna.qr.txt").write_text(sign(typical) + "\n", encoding="ascii")
    (tmp_path / "anna.jpg").write_bytes(photo)
    return tmp_path


def test_render_writes_the_files(inputs, capsys, monkeypatch, typical, sign):
    monkeypatch.delenv("SSC_ISSUER_CARD_PRINTER", raising=False)
    out = inputs / "out"
    code = main(["artwork", "render", "--record", str(inputs / "anna.json"), "--qr-text-file",
                 str(inputs / "anna.qr.txt"), "--photo", str(inputs / "anna.jpg"), "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "QR version 16-Q, module 0.423 mm (5 px at 300 dpi)" in printed.out
    assert sorted(p.name for p in out.iterdir()) == ["M31A00042-back.png", "M31A00042-front.png", "M31A00042.pdf"]
    back = Image.open(io.BytesIO((out / "M31A00042-back.png").read_bytes()))
    assert zxingcpp.read_barcodes(back)[0].text == sign(typical)


def test_render_refuses_someone_elses_photo(inputs, capsys):
    (inputs / "other.png").write_bytes(b"\x89PNG\r\n\x1a\n not this one")
    code = main(["artwork", "render", "--record", str(inputs / "anna.json"), "--qr-text-file",
                 str(inputs / "anna.qr.txt"), "--photo", str(inputs / "other.png"), "--out", str(inputs / "o")])
    assert code == 1
    assert "error: the photo is not the one the credential was issued with" in capsys.readouterr().err


@pytest.mark.parametrize("change, message", [
    (lambda d: (d / "anna.json").write_text("{not json"), "is not JSON"),
    (lambda d: (d / "anna.json").write_text(json.dumps({"holder": {}})), "the credential data is not valid"),
    (lambda d: (d / "anna.qr.txt").unlink(), "cannot read the QR text file"),
    (lambda d: (d / "anna.qr.txt").write_text("HC1:XYZ"), "not a card credential"),
])
def test_render_bad_input_is_exit_1_with_the_reason(inputs, capsys, change, message):
    change(inputs)
    code = main(["artwork", "render", "--record", str(inputs / "anna.json"), "--qr-text-file",
                 str(inputs / "anna.qr.txt"), "--out", str(inputs / "o")])
    assert code == 1
    assert message in capsys.readouterr().err


def test_proof_takes_several_cards(inputs, capsys, long_credential, sign, monkeypatch):
    monkeypatch.delenv("SSC_ISSUER_PROOF_PRINTER", raising=False)
    (inputs / "long.json").write_text(json.dumps(samples.long_record(), default=bytes.hex))
    (inputs / "long.qr.txt").write_text(sign(long_credential))
    anna = f"{inputs / 'anna.json'},{inputs / 'anna.qr.txt'},{inputs / 'anna.jpg'}"
    code = main(["artwork", "proof", "--card", anna, "--card", f"{inputs / 'long.json'},{inputs / 'long.qr.txt'}",
                 "--out", str(inputs / "proof")])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "proof sheet: 2 card(s) on 1 A4 page(s)" in printed.out
    assert sorted(p.name for p in (inputs / "proof").iterdir()) == ["proof-1.png", "proof.pdf"]


def test_proof_card_spec_is_checked(inputs, capsys):
    assert main(["artwork", "proof", "--card", "only-one-part", "--out", str(inputs)]) == 1
    assert "give RECORD.json,QR.txt" in capsys.readouterr().err


def test_registers_beside_other_commands():
    parser = argparse.ArgumentParser(prog="ssc-issuer")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("keys")
    add_artwork_commands(sub)
    args = parser.parse_args(["artwork", "render", "--record", "r.json", "--qr-text-file", "q.txt", "--out", "o"])
    assert args.func.__name__ == "cmd_render" and args.photo is None and args.printer is None
    with pytest.raises(SystemExit):
        parser.parse_args(["artwork"])  # an action is required


def test_module_runs_as_a_program():
    done = subprocess.run([sys.executable, "-m", "issuer.artwork.cli", "artwork", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "render" in done.stdout and "proof" in done.stdout
