"""Printing through CUPS. The card printer is stood in for by a fake `lp` script placed first
on PATH: it records its arguments (and the PDF it was given) and answers like CUPS's lp, or
fails like it. No real printer or CUPS scheduler is involved."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from issuer.artwork import PrintError
from issuer.artwork.printing import CARD_PRINTER_ENV, PROOF_PRINTER_ENV, print_or_write, send_to_printer
from issuer.artwork.proof import render_proof_sheet

FAKE_LP = """#!{python}
# Stand-in for CUPS's lp (a test double for the card printer): records the call, answers like lp.
import json, os, sys
log = os.environ["FAKE_LP_LOG"]
args = sys.argv[1:]
with open(log, "a") as f:
    f.write(json.dumps({{"args": args, "pdf_head": open(args[-1], "rb").read(5).decode()}}) + "\\n")
if os.environ.get("FAKE_LP_FAIL"):
    print("lp: The printer or class does not exist.", file=sys.stderr)
    sys.exit(1)
queue = args[args.index("-d") + 1]
print(f"request id is {{queue}}-17 (1 file(s))")
"""


@pytest.fixture
def fake_lp(tmp_path, monkeypatch):
    """A fake `lp` first on PATH; returns the list of calls it received."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    lp = bindir / "lp"
    lp.write_text(FAKE_LP.format(python=sys.executable))
    lp.chmod(lp.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "lp-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LP_LOG", str(log))
    monkeypatch.delenv(CARD_PRINTER_ENV, raising=False)
    monkeypatch.delenv(PROOF_PRINTER_ENV, raising=False)

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return calls


def test_without_a_printer_the_files_are_only_written(typical_art, tmp_path, fake_lp):
    result = print_or_write(typical_art, tmp_path / "out")
    assert not result.printed and result.job_id is None
    assert sorted(p.name for p in result.files) == ["M31A00042-back.png", "M31A00042-front.png", "M31A00042.pdf"]
    assert fake_lp() == []


def test_a_configured_printer_gets_the_pdf_through_lp(typical_art, tmp_path, fake_lp):
    result = print_or_write(typical_art, tmp_path / "out", printer="CardPrinter",
                            options=["sides=two-sided-long-edge", "media=CR80"], copies=2)
    assert result.printed and result.printer == "CardPrinter" and result.job_id == "CardPrinter-17"
    (call,) = fake_lp()
    pdf = str((tmp_path / "out" / "M31A00042.pdf").resolve())
    assert call["args"] == ["-d", "CardPrinter", "-t", "card M31A00042", "-n", "2",
                            "-o", "sides=two-sided-long-edge", "-o", "media=CR80", pdf]
    assert call["pdf_head"] == "%PDF-"


def test_the_printer_may_come_from_the_environment(typical_art, tmp_path, fake_lp, monkeypatch):
    monkeypatch.setenv(CARD_PRINTER_ENV, "Evolis_Primacy")
    assert print_or_write(typical_art, tmp_path).job_id == "Evolis_Primacy-17"
    assert fake_lp()[0]["args"][:2] == ["-d", "Evolis_Primacy"]


def test_a_proof_sheet_goes_to_the_proof_printer_not_the_card_printer(typical_art, tmp_path, fake_lp,
                                                                      monkeypatch):
    monkeypatch.setenv(CARD_PRINTER_ENV, "CardPrinter")
    sheet = render_proof_sheet([typical_art])
    assert not print_or_write(sheet, tmp_path).printed
    monkeypatch.setenv(PROOF_PRINTER_ENV, "Office_A4")
    result = print_or_write(sheet, tmp_path)
    assert result.job_id == "Office_A4-17"
    assert fake_lp()[0]["args"][-1].endswith("proof.pdf")


def test_lp_failing_is_a_clear_error(typical_art, tmp_path, fake_lp, monkeypatch):
    monkeypatch.setenv("FAKE_LP_FAIL", "1")
    with pytest.raises(PrintError, match=r"refused the job for printer 'Nowhere' \(exit status 1\): "
                                         r"lp: The printer or class does not exist"):
        print_or_write(typical_art, tmp_path, printer="Nowhere")
    assert (tmp_path / "M31A00042.pdf").exists()  # the files are written all the same


def test_lp_missing_is_a_clear_error(typical_art, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(PrintError, match=r"`lp` is not installed \(Debian package cups-client\)"):
        print_or_write(typical_art, tmp_path / "out", printer="CardPrinter")


@pytest.mark.parametrize("printer", ["-o evil", "two words", "a/b", ""])
def test_a_printer_name_is_never_an_option(tmp_path, printer, fake_lp):
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    with pytest.raises(PrintError, match="not a CUPS printer name"):
        send_to_printer(pdf, printer, title="t")
    assert fake_lp() == []


def test_an_lp_option_must_be_name_value(tmp_path, fake_lp):
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    with pytest.raises(PrintError, match="not an lp option"):
        send_to_printer(pdf, "CardPrinter", title="t", options=["-d other"])
    assert fake_lp() == []
