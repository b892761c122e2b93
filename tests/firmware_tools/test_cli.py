"""``ssc-card`` as a subprocess, against the real pcscd and a ``vcard run`` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_tools.card.emulator import ReferenceCard
from firmware_tools.card.profile import Lifecycle
from firmware_tools.vpcd import VPCD_READER_NAMES
from tests.firmware_tools.pcscd_fixtures import slot_lock, wait_reader_state

REPO = Path(__file__).resolve().parents[2]
SELECT_AID = "00 A4 04 0C 08 F0 53 53 43 41 52 44 01"


def ssc_card(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware_tools", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


class VcardProcess:
    """``ssc-card vcard run`` in the background; stopped by its pid."""

    def __init__(self, *args: str, slot: int = 0, lock: bool = True) -> None:
        self.reader = VPCD_READER_NAMES[slot]
        self.output = ""
        self._lock = slot_lock(slot) if lock else None
        if self._lock is not None:
            self._lock.__enter__()
        assert wait_reader_state(self.reader, present=False, timeout=5)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "firmware_tools", "vcard", "run", "--slot", str(slot), *args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if not wait_reader_state(self.reader, present=True, timeout=15):
            self.stop()
            raise AssertionError(f"vcard run did not insert a card: {self.output}")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            self.output, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.output, _ = self.proc.communicate()
        wait_reader_state(self.reader, present=False, timeout=5)
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None
        return self.proc.returncode


@pytest.fixture
def example_image(tmp_path) -> Path:
    path = tmp_path / "example.cbor"
    done = ssc_card("vcard", "new", "--image", str(path), "--example")
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def vcard(pcscd, example_image) -> Iterator[VcardProcess]:
    process = VcardProcess("--image", str(example_image))
    yield process
    process.stop()


# -- no card needed ---------------------------------------------------------------------

def test_help_explains_commands_and_exit_codes():
    done = ssc_card("--help")
    assert done.returncode == 0
    for word in ("readers", "apdu", "script", "dump", "vcard", "exit codes"):
        assert word in done.stdout
    for sub in (["apdu"], ["script"], ["dump"], ["readers"], ["vcard", "run"], ["vcard", "new"]):
        assert ssc_card(*sub, "--help").returncode == 0


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "ssc-card"
    assert script.exists()
    assert subprocess.run([str(script), "--help"], capture_output=True).returncode == 0


@pytest.mark.parametrize("argv", [
    [],                                  # no command
    ["apdu", "00 A4 zz"],                # not hex
    ["apdu", "00", "A4", "04", "00"],    # bytes as separate words: refused with a hint
    ["vcard", "run"],                    # neither --image nor --blank
    ["script", "/nonexistent/script.apdu"],
    ["vcard", "run", "--slot", "2", "--blank"],
])
def test_usage_errors_exit_2(argv):
    assert ssc_card(*argv).returncode == 2


def test_pcsc_unavailable_exits_3(tmp_path):
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"))
    done = ssc_card("readers", env=env)
    assert done.returncode == 3
    assert "pcscd" in done.stderr


def test_vcard_new_refuses_to_overwrite(tmp_path):
    path = tmp_path / "card.cbor"
    assert ssc_card("vcard", "new", "--image", str(path)).returncode == 0
    assert ReferenceCard.load(path).image.lifecycle is Lifecycle.BLANK
    assert ssc_card("vcard", "new", "--image", str(path)).returncode == 2
    assert ssc_card("vcard", "new", "--image", str(path), "--example", "--force").returncode == 0
    assert ReferenceCard.load(path).image.lifecycle is Lifecycle.ISSUED


def test_parse_script_lines():
    from firmware_tools.cli import parse_script, sw_matches

    steps = parse_script("# comment\n00A4040C08F053534341524401 9000\n"
                         "00 CA 00 8A 00   61xx  # trailing comment\nreset\n00B0000000\n")
    assert [(n, k, e) for n, k, _c, e in steps] == [(2, "", "9000"), (3, "", "61XX"),
                                                     (4, "reset", None), (5, "", None)]
    assert steps[1][2] == bytes.fromhex("00CA008A00")
    assert sw_matches(b"\x61\x10", "61XX") and not sw_matches(b"\x90\x00", "61XX")
    assert sw_matches(b"\x63\xc2", "63CX")


def test_the_script_example_in_the_help_parses():
    from firmware_tools.cli import SCRIPT_HELP, parse_script

    example = SCRIPT_HELP[SCRIPT_HELP.index("  # is"):]
    assert [expected for *_, expected in parse_script(example)] == ["9000", "9000", "6XXX"]


# -- through pcscd ----------------------------------------------------------------------

@pytest.mark.pcsc
def test_readers_lists_both_vpcd_slots(pcscd):
    done = ssc_card("readers")
    assert done.returncode == 0
    assert "Virtual PCD 00 00" in done.stdout and "Virtual PCD 00 01" in done.stdout


@pytest.mark.pcsc
def test_apdu_on_an_empty_reader_exits_1(pcscd):
    with slot_lock(1):
        assert wait_reader_state(VPCD_READER_NAMES[1], present=False, timeout=5)
        done = ssc_card("apdu", "--reader", VPCD_READER_NAMES[1], SELECT_AID)
    assert done.returncode == 1
    assert "card" in done.stderr.lower()


@pytest.mark.pcsc
def test_vcard_run_then_apdu_readers_and_clean_sigterm(vcard):
    done = ssc_card("apdu", "--reader", vcard.reader, SELECT_AID, "00CA008A00")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "< 9000 OK: normal processing" in done.stdout
    assert "< 8A 01 05 | 9000 OK" in done.stdout        # lifecycle: issued
    done = ssc_card("apdu", "--reader", vcard.reader, "00B0000000")
    assert done.returncode == 1                           # no EF selected: 6986
    assert "6986 NO_CURRENT_EF" in done.stdout
    done = ssc_card("readers")
    assert f"{vcard.reader}: card present, ATR 3B" in done.stdout
    assert vcard.stop(signal.SIGTERM) == 0
    assert "card inserted" in vcard.output and "stopped" in vcard.output


@pytest.mark.pcsc
def test_vcard_run_stops_on_ctrl_c(pcscd, example_image):
    process = VcardProcess("--image", str(example_image), slot=1)
    assert process.stop(signal.SIGINT) == 0
    assert "stopped" in process.output


@pytest.mark.pcsc
def test_script_passes_and_a_mismatch_exits_1(vcard, tmp_path):
    good = tmp_path / "good.apdu"
    good.write_text("# select, lifecycle, read EF.CardInfo by SFI\n"
                    f"{SELECT_AID}   9000\n00 CA 00 8A 00  9000\nreset\n"
                    f"{SELECT_AID}   9000\n00 B0 9E 00 00  6282\n00 B0 84 00 00  6982\n")
    done = ssc_card("script", "--reader", vcard.reader, str(good))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 step(s), 0 mismatch(es)" in done.stdout
    bad = tmp_path / "bad.apdu"
    bad.write_text(f"{SELECT_AID} 9000\n00 B0 84 00 00  9000\n00CA008A00 9000\n")
    done = ssc_card("script", "--reader", vcard.reader, str(bad))
    assert done.returncode == 1
    assert "[2] MISMATCH: expected SW 9000, got 6982" in done.stdout
    assert "[3]" not in done.stdout                       # stopped at the mismatch
    done = ssc_card("script", "--reader", vcard.reader, "--keep-going", str(bad))
    assert done.returncode == 1 and "[3] <" in done.stdout


@pytest.mark.pcsc
def test_dump_decodes_the_readable_files(vcard):
    done = ssc_card("dump", "--reader", vcard.reader)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lifecycle: ISSUED" in done.stdout
    assert "SSC2024000123" in done.stdout                 # EF.CardInfo
    assert '"JANE"' in done.stdout                        # EF.DG1
    assert "EF.DG4 (FID 0104, SFI 04): PIN required" in done.stdout
    done = ssc_card("dump", "--reader", vcard.reader, "--pin", "123456", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["lifecycle"] == "ISSUED"
    assert report["files"]["EF.DG4"]["content"]["1"] == [1, 19724, 649]
    assert report["files"]["EF.SO"]["content"]["tag"] == 18
    assert report["files"]["EF.DG2"]["content"] is None   # the example has no photo


@pytest.mark.pcsc
def test_dump_with_a_wrong_pin_exits_1(vcard):
    done = ssc_card("dump", "--reader", vcard.reader, "--pin", "999999")
    assert done.returncode == 1
    assert "VERIFY" in done.stderr


@pytest.mark.pcsc
def test_vcard_run_saves_what_the_card_writes(pcscd, tmp_path):
    image = tmp_path / "blank.cbor"
    process = VcardProcess("--blank", "--image", str(image))
    try:
        done = ssc_card("apdu", "--reader", process.reader, SELECT_AID, "80 F0 00 00")
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        assert process.stop() == 0
    assert ReferenceCard.load(image).image.lifecycle is Lifecycle.PERSONALISING


@pytest.mark.pcsc
def test_vcard_run_with_a_broken_image_exits_1(pcscd, tmp_path):
    image = tmp_path / "broken.cbor"
    image.write_bytes(b"not a card image")
    done = ssc_card("vcard", "run", "--image", str(image))
    assert done.returncode == 1
    assert "cannot load card image" in done.stderr


@pytest.mark.pcsc
def test_apdu_waits_for_a_card(pcscd, example_image):
    with slot_lock(0):
        started = time.monotonic()
        waiting = subprocess.Popen(
            [sys.executable, "-m", "firmware_tools", "apdu", "--reader", VPCD_READER_NAMES[0],
             "--wait", "20", SELECT_AID], cwd=REPO, stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(1.0)
            process = VcardProcess("--image", str(example_image), lock=False)
            out, _ = waiting.communicate(timeout=20)
            process.stop()
        finally:
            if waiting.poll() is None:
                waiting.kill()
                waiting.wait()
    assert waiting.returncode == 0, out
    assert "9000 OK" in out and time.monotonic() - started >= 1.0


@pytest.mark.pcsc
def test_the_script_example_in_the_docs_passes(vcard, tmp_path):
    doc = (REPO / "docs" / "pcsc.md").read_text(encoding="utf-8")
    start = doc.index("# is the sscard application there")
    example = tmp_path / "example.apdu"
    example.write_text(doc[start:doc.index("```", start)])
    done = ssc_card("script", "--reader", vcard.reader, str(example))
    assert done.returncode == 0, done.stdout
    assert "4 step(s), 0 mismatch(es)" in done.stdout
