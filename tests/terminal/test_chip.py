"""Chip reading at the counter (issue 6 item 1) on firmware_tools.reader: only the groups
the site needs, passive and active authentication, the PIN, removal mid-read, copies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crypto import TrustStore
from crypto.chip import Group
from firmware_tools.card.emulator import FaultPlan
from firmware_tools.link import EmulatorLink
from terminal.chip import card_data_from_groups, groups_for, verify_chip
from terminal.policy import load_policy
from terminal.verifier import Verifier
from tests.terminal.support import CARD_PIN, env_for, issued_card, record

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cards(pki):
    good = issued_card(pki)
    return {"good": good, "revoked": issued_card(pki, record(serial=7, family="REVOKED")),
            "copy": issued_card(pki, chip_key_of=issued_card(pki)),
            "other": issued_card(pki, record(serial=77, family="OKAFOR", given="CHIDI"))}


def verifier(pki, site: str) -> Verifier:
    store = TrustStore(pki.dev.root)
    store.update(pki.trust_list(1, revoked=[7]))
    return Verifier(load_policy(site), lambda: store)


def read(pki, card, site: str, pin: str | None = None):
    from firmware_tools.card.emulator import ReferenceCard

    link = EmulatorLink(ReferenceCard(card.image.copy(), card.faults))
    link.connect()
    try:
        return verify_chip(verifier(pki, site), link, "chip, emulator", pin)
    finally:
        link.disconnect()


def codes(result) -> list[str]:
    return [r["code"] for r in result.reasons()]


def test_groups_follow_the_site():
    assert groups_for(load_policy("pharmacy")) == (Group.CARD_INFO, Group.HOLDER, Group.PHOTO, Group.INSURANCE)
    assert Group.INSURANCE not in groups_for(load_policy("bureau"))
    assert Group.PERMIT in groups_for(load_policy("bureau"))
    assert Group.PERMIT not in groups_for(load_policy("pharmacy"))


def test_pharmacy_reads_name_photo_and_insurance_with_the_pin(pki, cards):
    result = read(pki, cards["good"], "pharmacy", CARD_PIN)
    assert result.outcome == "VALID", result.to_public()
    assert [c.check.value for c in result.verdict.checks][-3:] == ["chip_data", "chip_genuine", "site_policy"]
    assert set(result.shown) == {"name", "photo", "medical_insurance"}
    assert result.shown["photo"]["available"] and result.shown["photo"]["media_type"] == "image/jpeg"
    assert result.shown["medical_insurance"]["in_force"] is True
    assert result.timings["apdus"] > 0


def test_pharmacy_without_pin_gets_no_verdict(pki, cards):
    result = read(pki, cards["good"], "pharmacy")
    assert result.verdict is None and result.outcome == "NO_VERDICT" and "PIN" in result.action


def test_bureau_needs_no_pin_and_sees_the_permit(pki, cards):
    result = read(pki, cards["good"], "bureau")
    assert result.outcome == "VALID", result.to_public()
    assert result.shown["employer"]["name"] == "Shanghai Example Tech Co., Ltd."
    assert "medical_insurance" not in result.shown


@pytest.mark.parametrize("name, reason", [("revoked", "REVOKED"), ("copy", "CHIP_NOT_GENUINE")])
def test_revoked_and_copied_cards_are_invalid(pki, cards, name, reason):
    for site in ("bureau", "pharmacy"):
        result = read(pki, cards[name], site, CARD_PIN)
        assert result.outcome == "INVALID" and reason in codes(result), result.to_public()


@pytest.mark.parametrize("after", [0, 2, 5, 8, 11])
def test_removed_mid_read_says_insert_again(pki, cards, after):
    from firmware_tools.card.emulator import ReferenceCard

    card = ReferenceCard(cards["good"].image.copy(), FaultPlan(remove_after=after))
    result = read(pki, card, "pharmacy", CARD_PIN)
    assert result.verdict is None and codes(result) == ["CARD_REMOVED"] and "insert it again" in result.action
    assert result.shown == {}


@pytest.mark.parametrize("every", [1, 2, 3, 5])
def test_a_card_answering_garbage_is_never_valid(pki, cards, every):
    from firmware_tools.card.emulator import ReferenceCard

    card = ReferenceCard(cards["good"].image.copy(), FaultPlan(corrupt_every=every))
    result = read(pki, card, "bureau")
    assert result.outcome in ("INVALID", "NO_VERDICT"), result.to_public()


def test_group_conversion_refuses_odd_shapes():
    with pytest.raises((ValueError, KeyError, TypeError)):
        card_data_from_groups({Group.INSURANCE: {5: [[1]]}})


# -- through pcscd ----------------------------------------------------------------------

READER = "Virtual PCD 00 00"


@pytest.mark.pcsc
def test_read_card_command_through_pcscd(home, pki, cards, attach_card):
    (home / "trust" / "trustlist.cose").write_bytes(pki.trust_list(2, revoked=[7]))
    attach_card(cards["good"], slot=0)
    proc = subprocess.run([str(BIN / "ssc-terminal"), "read-card", "--reader", READER, "--site", "bureau", "--json"],
                          capture_output=True, text=True, env=env_for(home), timeout=60)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["outcome"] == "VALID", proc.stdout + proc.stderr
    assert out["fields"]["name"]["family_name"] == "MUELLER" and out["source"] == f"chip, reader {READER}"
    proc = subprocess.run([str(BIN / "ssc-terminal"), "read-card", "--reader", READER, "--site", "hospital",
                           "--pin", CARD_PIN], capture_output=True, text=True, env=env_for(home), timeout=60)
    assert proc.returncode == 0 and "medical insurance: in force" in proc.stdout, proc.stdout + proc.stderr
    assert "bytes JPEG from the chip" in proc.stdout


@pytest.mark.pcsc
def test_watcher_waits_for_pcscd_and_reconnects(pki, pcscd, monkeypatch):
    """pcscd not there yet (or restarted): the watcher retries with backoff, then watches."""
    import time

    import terminal.chip as chip
    from firmware_tools.link import PcscUnavailableError
    from tests.firmware_tools.pcscd_fixtures import slot_lock

    real, failures = chip.establish_context, {"left": 2}

    def flaky():
        if failures["left"]:
            failures["left"] -= 1
            raise PcscUnavailableError("pcscd is not running")
        return real()
    monkeypatch.setattr(chip, "establish_context", flaky)
    watcher = chip.CardWatcher(verifier(pki, "bureau"), reader=READER)
    with slot_lock(0):  # no other run's card in the watched reader meanwhile
        watcher.start()
        try:
            deadline = time.monotonic() + 10
            while watcher.readers() != [READER] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert watcher.readers() == [READER] and watcher.state == "watching" and failures["left"] == 0
        finally:
            watcher.stop()
            watcher.join(5)


@pytest.mark.pcsc
def test_watcher_survives_a_real_pcscd_restart(pki, cards, pcscd, attach_card):
    """pcscd stopped and started again while the agent watches: the readers disappear (as
    when a reader is unplugged) and come back (plugged in again), and a card is read at the
    new pcscd. The virtual readers are fixed, so this is how reader loss is exercised here.
    Runs when this test run started pcscd and no other run on the machine uses it (as in CI)."""
    from tests.firmware_tools.pcscd_fixtures import sole_user

    if not pcscd.started_here:
        pytest.skip("this run did not start pcscd: restarting another program's pcscd is not done")
    with sole_user(pcscd) as alone:
        if not alone:
            pytest.skip("another test run on this machine is using this pcscd: not restarting it under them")
        _restart_while_watching(pki, cards, pcscd, attach_card)


def _restart_while_watching(pki, cards, pcscd, attach_card):
    import time

    import terminal.chip as chip
    from tests.firmware_tools.pcscd_fixtures import start_pcscd, stop_pcscd

    def wait(condition, timeout=20.0):
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        return condition()

    watcher = chip.CardWatcher(verifier(pki, "bureau"), reader=READER)
    watcher.start()
    try:
        assert wait(lambda: watcher.readers() == [READER] and watcher.state == "watching")
        attach_card(cards["good"], slot=0)
        assert wait(lambda: watcher.reads >= 1), "the inserted card was not read"
        reads = watcher.reads
        stop_pcscd(pcscd)
        assert wait(lambda: watcher.readers() == [] and watcher.state.startswith("pcscd unavailable"))
        again = start_pcscd()
        pcscd.pid, pcscd.started_here, pcscd.log_path = again.pid, again.started_here, again.log_path
        assert again.started_here, "another pcscd came up while ours was stopped"
        assert wait(lambda: watcher.readers() == [READER] and watcher.state == "watching", 30)
        assert wait(lambda: watcher.reads > reads, 30), "the card was not read again at the new pcscd"
    finally:
        watcher.stop()
        watcher.join(5)
