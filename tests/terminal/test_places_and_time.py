"""What the bureau and the counter read (issue 11, item 9): the work location as a place name
(GB/T 2260, the vendored table, code beside the name, an unknown code as the code) and the
time in China, in both of the page's languages, whatever the browser's own zone and locale."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from terminal.places import TABLE, place
from terminal.translations import china_time
from tests.terminal.page_support import CHROMIUM, CHROMIUM_ARGS, agent, wait_outcome
from tests.terminal.support import env_for, record

BIN = Path(sys.executable).parent
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_a_division_code_reads_as_a_place_in_both_languages():
    assert place("310115").to_dict() == {"code": "310115", "zh": "上海市浦东新区", "en": "Pudong New Area, Shanghai"}
    assert place("320583").label() == "320583 Kunshan City, Suzhou, Jiangsu 江苏省苏州市昆山市"
    assert place("110105").en == "Chaoyang District, Beijing"  # the place name's reading, not the word's
    assert place("419001").zh == "河南省济源市"  # a county-level city under the province directly
    assert place(440300).zh == "广东省深圳市"
    assert place("999999").label() == "999999" and place("999999").zh is None  # never a guessed place
    assert place(None) is None
    rows = [line for line in TABLE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert len(rows) > 3000 and all(len(r.split("\t")) == 3 and r[:6].isdigit() for r in rows)
    assert (TABLE.parent / "GB2260-SOURCE.md").read_text().count("MIT") >= 2  # source, date and licence kept


def test_china_time_in_both_languages_at_the_year_end():
    moment = int(dt.datetime(2026, 12, 31, 16, 30, 5, tzinfo=dt.timezone.utc).timestamp())
    assert china_time(moment) == {"en": "1 Jan 2027, 00:30:05 China time", "zh": "2027年1月1日 00:30:05 北京时间"}


def test_the_bureau_command_line_shows_the_place_and_the_time(home, pki):
    proc = subprocess.run([str(BIN / "ssc-terminal"), "verify-qr", pki.qr(), "--site", "bureau"],
                          capture_output=True, text=True, env=env_for(home), timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "work location:   310115 Pudong New Area, Shanghai 上海市浦东新区" in proc.stdout
    first, second = proc.stdout.splitlines()[:2]
    assert first == "VALID  at bureau  (QR text)" and second.startswith("  checked ") and second.endswith(" China time")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_the_counter_page_shows_china_time_and_the_place(home, pki):
    from playwright.sync_api import sync_playwright

    rec = record()
    rec["permit"]["work_location"] = "320583"
    with agent(home, "--site", "bureau", "--stdin", "--no-readers") as a, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:  # a browser in New York with an American locale: the page must not show its zone
            page = browser.new_context(timezone_id="America/New_York", locale="en-US").new_page()
            page.goto(a.url)
            page.wait_for_selector("#conn:text('live')")
            a.type_line(pki.qr(rec))
            wait_outcome(page, "VALID")
            latest = httpx.get(a.url + "api/latest").json()
            expected = china_time(latest["at"])
            source = page.inner_text("#source")
            assert expected["en"] in source and expected["zh"] in source, source
            assert "AM" not in source and "PM" not in source
            row = page.inner_text("tr[data-field=work_location]")
            assert "Kunshan City, Suzhou, Jiangsu 江苏省苏州市昆山市 (320583)" in row
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "page-bureau-place-time.png"))
        finally:
            browser.close()
