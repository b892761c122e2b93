"""The counter page in headless Chromium (issue 6 item 6): live updates from a simulated
serial scanner and the keyboard wedge; VALID with the name, a revoked card red with its
reason in English and Chinese."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from firmware_tools.serial_scanner import SimulatedScanner
from tests.terminal.page_support import CHROMIUM, agent, browser_page, wait_outcome
from tests.terminal.support import record
from clock_support import CLOCK

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def revoking_home(home, pki):
    (home / "trust" / "trustlist.cose").write_bytes(pki.trust_list(2, revoked=[7]))
    return home


def banner_colour(page) -> str:
    return page.eval_on_selector("#banner", "b => getComputedStyle(b).backgroundColor")


def test_scanner_and_wedge_update_the_page_live(revoking_home, pki, tmp_path):
    with SimulatedScanner(terminator="CR", link=tmp_path / "scanner") as scanner, \
            agent(revoking_home, "--site", "pharmacy", "--scanner", scanner.device, "--stdin", "--no-readers") as a, \
            browser_page() as page:
        page.goto(a.url)
        page.wait_for_selector("#conn:text('live')")
        assert page.inner_text("#outcome") == "Insert card or scan QR"
        scanner.scan(pki.qr(record(family="OKAFOR", given="CHIDI EMEKA")))
        wait_outcome(page, "VALID")
        assert page.inner_text("#outcome") == "VALID" and page.inner_text("#outcome-zh") == "有效"
        assert page.inner_text("#name") == "OKAFOR, CHIDI EMEKA"
        assert banner_colour(page) == "rgb(27, 127, 59)"
        assert "QR code carries no photo" in page.inner_text("#photo-box")
        assert "in force" in page.inner_text("tr[data-field=medical_insurance]")
        assert page.query_selector("tr[data-field=employer]") is None  # the pharmacy never sees it
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "page-valid.png"))
        first = page.get_attribute("#banner", "data-id")

        a.type_line(pki.qr(record(serial=7)))  # revoked, through the keyboard wedge
        wait_outcome(page, "INVALID", first)
        assert banner_colour(page) == "rgb(198, 40, 40)"
        reason = page.inner_text(".reason[data-code=REVOKED]")
        assert "revoked" in reason and "该卡已被注销" in reason
        page.screenshot(path=str(SCREENSHOTS / "page-revoked.png"))
        second = page.get_attribute("#banner", "data-id")

        scanner.scan("5901234123457")  # an EAN-13 read by the same scanner
        wait_outcome(page, "INVALID", second)
        assert page.query_selector(".reason[data-code=QR_PREFIX]") is not None
        assert page.inner_text("#name") == ""

        status = httpx.get(a.url + "api/status").json()
        assert status["site"]["site"] == "pharmacy" and status["events"]["total"] == 3
        assert status["trust"]["version"] == 2
        page.reload()  # a reloaded page shows the latest result again
        wait_outcome(page, "INVALID")


def test_stale_list_is_amber(home, pki):
    
    (home / "trust" / "trustlist.cose").write_bytes(pki.trust_list(3, issued_at=CLOCK.now() - 30 * 3600,
                                                                   hours=24 * 7))
    with agent(home, "--site", "bureau", "--stdin", "--no-readers") as a, browser_page() as page:
        page.goto(a.url)
        page.wait_for_selector("#conn:text('live')")
        a.type_line(pki.qr(iat=CLOCK.now() - 31 * 3600))
        wait_outcome(page, "INDETERMINATE")
        assert banner_colour(page) == "rgb(242, 169, 0)"
        assert page.inner_text("#outcome") == "CANNOT DECIDE"
        assert "too old" in page.inner_text(".reason[data-code=REVOCATION_STALE]")
        page.wait_for_selector("#trust:has-text('STALE')")
        page.screenshot(path=str(SCREENSHOTS / "page-stale.png"))


def test_page_is_served_on_loopback_only(home):
    with agent(home, "--site", "pharmacy", "--no-readers") as a:
        assert httpx.get(a.url).status_code == 200
        assert httpx.get(a.url, headers={"Host": "evil.example"}).status_code == 403
        port = int(a.url.rsplit(":", 1)[1].strip("/"))
        listening = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                     if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port]
        assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1 only, no 0.0.0.0
        six = [line for line in Path("/proc/net/tcp6").read_text().splitlines()[1:]
               if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port]
        assert six == []


# -- the chip, through pcscd ----------------------------------------------------------------

@pytest.mark.pcsc
def test_cards_inserted_through_pcscd_update_the_page(revoking_home, pki, attach_card):
    from tests.firmware_tools.pcscd_fixtures import slot_lock
    from tests.terminal.support import CARD_PIN, issued_card

    good = issued_card(pki, record(family="OKAFOR", given="CHIDI EMEKA"))
    revoked = issued_card(pki, record(serial=7))
    copy = issued_card(pki, chip_key_of=issued_card(pki))
    reader = "Virtual PCD 00 00"
    with slot_lock(0), agent(revoking_home, "--site", "pharmacy", "--reader", reader, "--pin", CARD_PIN) as a, \
            browser_page() as page:
        page.goto(a.url)
        page.wait_for_selector("#conn:text('live')")
        session = attach_card(good, slot=0)
        wait_outcome(page, "VALID")
        assert page.inner_text("#name") == "OKAFOR, CHIDI EMEKA"
        assert page.inner_text("#source").startswith(f"chip, reader {reader}")
        assert page.eval_on_selector("#photo", "img => img.naturalWidth") == 300  # DG2 shown
        page.screenshot(path=str(SCREENSHOTS / "page-chip-valid.png"))
        last = page.get_attribute("#banner", "data-id")

        session.remove()
        session.insert(revoked)
        wait_outcome(page, "INVALID", last)
        assert "revoked" in page.inner_text(".reason[data-code=REVOKED]")
        last = page.get_attribute("#banner", "data-id")

        session.remove()
        session.insert(copy)
        wait_outcome(page, "INVALID", last)
        assert "copied card" in page.inner_text(".reason[data-code=CHIP_NOT_GENUINE]")
        page.screenshot(path=str(SCREENSHOTS / "page-chip-copy.png"))
        status = httpx.get(a.url + "api/status").json()
        assert reader in status["readers"]
