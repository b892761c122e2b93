"""PcscLink through the real pcscd + vpcd + pyscard: no mocks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from smartcard import scard

from firmware_tools.link import (CardRemovedError, LinkError, NoCardError,
                                 PcscUnavailableError, ReaderGoneError)
from firmware_tools.pcsc import PcscLink, _with_le, list_readers, pcsc_error
from firmware_tools.vpcd import VPCD_READER_NAMES
from tests.firmware_tools.pcscd_fixtures import (StubCard, make_atr, slot_lock,
                                                  wait_reader_state, wait_until)

READER0, READER1 = VPCD_READER_NAMES
SELECT = bytes.fromhex("00A4040007A0000000031010")
REPO = Path(__file__).resolve().parents[2]


# -- without pcscd ---------------------------------------------------------------------

@pytest.mark.parametrize(("code", "error"), [
    (scard.SCARD_E_NO_SERVICE, PcscUnavailableError),
    (scard.SCARD_E_SERVICE_STOPPED, PcscUnavailableError),
    (scard.SCARD_E_UNKNOWN_READER, ReaderGoneError),
    (scard.SCARD_E_READER_UNAVAILABLE, ReaderGoneError),
    (scard.SCARD_E_NO_SMARTCARD, NoCardError),
    (scard.SCARD_W_REMOVED_CARD, CardRemovedError),
    (scard.SCARD_E_NOT_TRANSACTED, LinkError),
])
def test_pcsc_return_codes_map_to_typed_errors(code, error):
    raised = pcsc_error(code, "doing it")
    assert type(raised) is error
    assert str(raised).startswith("doing it: ")


@pytest.mark.parametrize(("apdu", "le", "expected"), [
    ("00B0000000", 0x20, "00B0000020"),               # case 2S: Le replaced
    ("00B00000", 0x10, "00B0000010"),                 # case 1: Le added
    ("00CA0000020102", 0x05, "00CA000002010205"),     # case 3S: Le added
    ("00CA000002010200", 0x05, "00CA000002010205"),   # case 4S: Le replaced
    ("00B0000000", 256, "00B0000000"),                # 6C00 means 256
])
def test_wrong_le_resend_builds_the_same_command_with_the_new_le(apdu, le, expected):
    assert _with_le(bytes.fromhex(apdu), le) == bytes.fromhex(expected)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        PcscLink(protocol="T=2")
    with pytest.raises(ValueError):
        PcscLink(disposition="eject")


def test_no_pcsc_service_is_pcsc_unavailable(tmp_path):
    """A client whose pcsc-lite socket leads nowhere: the real 'pcscd not running'."""
    code = ("from firmware_tools.pcsc import list_readers\n"
            "from firmware_tools.link import PcscUnavailableError\n"
            "try:\n    list_readers()\n"
            "except PcscUnavailableError as e:\n    print('unavailable:', e)\n")
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("unavailable:"), done.stdout + done.stderr


# -- through pcscd ----------------------------------------------------------------------

@pytest.mark.pcsc
def test_list_readers_names_both_vpcd_slots(pcscd):
    readers = list_readers()
    assert READER0 in readers and READER1 in readers


@pytest.mark.pcsc
def test_connect_reads_atr_protocol_and_extended_length(attach_card):
    card = StubCard()
    attach_card(card)
    # pcscd keeps the negotiated protocol until the card is reset: "reset" on leaving
    # lets the next connection choose T=0.
    with PcscLink(READER0, disposition="reset") as link:
        assert link.atr == card.atr
        assert link.active_protocol == "T=1"     # the ATR offers T=0 and T=1
        assert link.extended_length is True      # card capabilities byte 3, b7
        assert link.transmit(SELECT) == b"\x90\x00"
    with PcscLink(READER0, protocol="T0") as link:
        assert link.active_protocol == "T=0"
        assert link.transmit(bytes.fromhex("00CA000002ABCD")) == bytes.fromhex("ABCD9000")
    with PcscLink(READER0, extended_length=False) as link:
        assert link.extended_length is False     # stated, not read from the ATR


@pytest.mark.pcsc
def test_short_only_atr_means_no_extended_length(attach_card):
    attach_card(StubCard(atr=make_atr(bytes.fromhex("8073800180"))))
    with PcscLink(READER0) as link:
        assert link.extended_length is False


@pytest.mark.pcsc
def test_reader_by_unique_prefix_and_first_reader_with_a_card(attach_card):
    with slot_lock(0):  # slot 0 stays empty
        _prefix_and_first_reader(attach_card)


def _prefix_and_first_reader(attach_card):
    attach_card(StubCard(), slot=1)
    with pytest.raises(ReaderGoneError, match="several"):
        PcscLink("Virtual PCD 00 0").connect()  # prefix of both: ambiguous
    link = PcscLink("Virtual PCD 00 01")
    link.connect()
    assert link.reader == READER1
    link.disconnect()
    link = PcscLink(None)                       # slot 0 is empty: takes slot 1
    link.connect()
    assert link.reader == READER1
    link.disconnect()


@pytest.mark.pcsc
def test_get_response_joins_61xx_pieces(attach_card):
    card = StubCard(payload=bytes(range(256)) * 3 + b"tail")
    attach_card(card)
    with PcscLink(READER0) as link:
        assert link.transmit(bytes.fromhex("00E0000000")) == card.payload + b"\x90\x00"


@pytest.mark.pcsc
def test_wrong_le_is_resent_with_the_le_the_card_asked_for(attach_card):
    card = StubCard(payload=b"exactly-17-bytes!")
    attach_card(card)
    with PcscLink(READER0) as link:
        assert link.transmit(bytes.fromhex("00E2000000")) == card.payload + b"\x90\x00"


@pytest.mark.pcsc
def test_extended_length_response_through_pcscd(attach_card):
    attach_card(StubCard())
    with PcscLink(READER0) as link:
        response = link.transmit(bytes.fromhex("00E40000001000"))  # case 2E, Le = 4096
        assert len(response) == 4096 + 2 and response[-2:] == b"\x90\x00"


@pytest.mark.pcsc
def test_removal_is_card_removed_then_no_card(attach_card):
    session = attach_card(StubCard())
    link = PcscLink(READER0)
    link.connect()
    session.remove()
    assert wait_reader_state(READER0, present=False, timeout=3)
    with pytest.raises(CardRemovedError):
        link.transmit(SELECT)
    with pytest.raises(NoCardError):
        link.connect()
    assert link.wait_for_card(0.2) is False
    session.insert()
    assert link.wait_for_card(5) is True
    link.connect()
    assert link.transmit(SELECT) == b"\x90\x00"
    link.disconnect()
    link.disconnect()  # idempotent


@pytest.mark.pcsc
def test_removal_during_a_command_is_card_removed(attach_card):
    """Pulled mid-command: pcscd first reports a failed transaction; the link waits for
    the presence poll and reports the removal."""
    card = StubCard()
    attach_card(card)
    with PcscLink(READER0) as link:
        card.fail_next = True   # fault injection: the card leaves instead of answering
        with pytest.raises(CardRemovedError):
            link.transmit(SELECT)


@pytest.mark.pcsc
def test_wait_for_card_sees_a_later_insertion(attach_card):
    session = attach_card(StubCard())
    session.remove()
    assert wait_reader_state(READER0, present=False, timeout=3)
    threading.Timer(0.3, session.insert).start()
    link = PcscLink(READER0)
    start = time.monotonic()
    assert link.wait_for_card(5) is True
    assert time.monotonic() - start >= 0.25
    link.disconnect()


@pytest.mark.pcsc
def test_wait_for_any_reader_picks_the_one_with_a_card(attach_card):
    with slot_lock(0):  # slot 0 stays empty
        attach_card(StubCard(), slot=1)
        link = PcscLink()
        assert link.wait_for_card(2) is True
        assert link.reader == READER1
        link.disconnect()


@pytest.mark.pcsc
def test_unknown_reader_is_reader_gone(pcscd):
    with pytest.raises(ReaderGoneError):
        PcscLink("No Such Reader 99").connect()
    with pytest.raises(ReaderGoneError):
        PcscLink("No Such Reader 99").wait_for_card(0.1)


@pytest.mark.pcsc
def test_empty_slot_is_no_card(pcscd):
    with slot_lock(0):
        assert wait_reader_state(READER0, present=False, timeout=3)
        with pytest.raises(NoCardError):
            PcscLink(READER0).connect()


@pytest.mark.pcsc
def test_both_slots_at_once(attach_card):
    first, second = StubCard(), StubCard(atr=make_atr(bytes.fromhex("8073800180")))
    attach_card(first, slot=0)
    attach_card(second, slot=1)
    with PcscLink(READER0) as a, PcscLink(READER1) as b:
        assert (a.atr, b.atr) == (first.atr, second.atr)
        assert (a.extended_length, b.extended_length) == (True, False)
        assert a.transmit(bytes.fromhex("00CA00000101")) == b"\x01\x90\x00"
        assert b.transmit(bytes.fromhex("00CA00000102")) == b"\x02\x90\x00"


@pytest.mark.pcsc
def test_warm_and_cold_reset_and_disposition(attach_card):
    card = StubCard()
    attach_card(card)
    link = PcscLink(READER0, disposition="unpower")
    link.connect()
    card.events.clear()
    assert link.reset() == card.atr
    assert card.events == ["reset"]
    assert link.reset(cold=True) == card.atr
    assert card.events[1:] == ["off", "on"]
    seen = len(card.events)
    link.disconnect()
    # A power-off has no answer: pcscd returns before the card sees it, so wait (bounded).
    assert wait_until(lambda: "off" in card.events[seen:]), card.events
    with pytest.raises(NoCardError):
        link.reset()


# -- the reference card behind pcscd ---------------------------------------------------------

def _reference_card(**faults):
    from crypto import cbor
    from firmware_tools.card.emulator import FaultPlan, ReferenceCard
    from firmware_tools.card.profile import DG2
    from firmware_tools.card.traces import example_image

    image = example_image()
    image.files[DG2.fid] = DG2.wrap(cbor.dumps(bytes(range(256)) * 64))  # a 16 KiB "photo"
    return ReferenceCard(image, FaultPlan(**faults))


@pytest.mark.pcsc
@pytest.mark.parametrize("short_only", [False, True])
def test_reference_card_photo_read_through_pcscd(attach_card, short_only):
    from firmware_tools.card import apdus
    from firmware_tools.card.profile import DG2
    from firmware_tools.cli import read_ef

    card = _reference_card(short_apdus_only=short_only)
    session = attach_card(card)
    with PcscLink(READER0) as link:
        assert link.atr == card.atr
        assert link.extended_length is not short_only
        assert link.transmit(apdus.select_application().encode()) == b"\x90\x00"
        before = session.apdu_count
        assert read_ef(link, DG2) == card.image.files[DG2.fid]
        reads = session.apdu_count - before - 1           # minus the SELECT
        assert reads == (65 if short_only else 1)         # 16,452 bytes: 65 x 256, or one


@pytest.mark.pcsc
def test_reference_card_61xx_is_joined_by_get_response(attach_card):
    from firmware_tools.card import apdus
    from firmware_tools.card.profile import CARD_INFO

    card = _reference_card()
    attach_card(card)
    with PcscLink(READER0) as link:
        whole = link.transmit(apdus.get_card_info().encode())
        assert whole[:-2] == card.image.files[CARD_INFO.fid] and whole[-2:] == b"\x90\x00"
        pieces = link.transmit(apdus.get_data(CARD_INFO.tag, ne=16).encode())
        assert pieces == whole                            # 61xx, then GET RESPONSE


@pytest.mark.pcsc
def test_reference_card_injected_removal_and_reinsertion(attach_card):
    from firmware_tools.card import apdus

    card = _reference_card(remove_after=2)
    session = attach_card(card)
    select = apdus.select_application().encode()
    link = PcscLink(READER0)
    link.connect()
    assert link.transmit(select) == b"\x90\x00"
    assert link.transmit(select) == b"\x90\x00"
    with pytest.raises(CardRemovedError):
        link.transmit(select)                             # the third APDU: the card leaves
    assert card.removed
    session.insert()                                      # puts the card back, too
    assert link.wait_for_card(5)
    link.connect()
    assert link.transmit(select) == b"\x90\x00"
    link.disconnect()
