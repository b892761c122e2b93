"""The CardLink interface, its errors, EmulatorLink, and the ATR parser behind extended_length."""

import threading
import time

import pytest

from firmware_tools import link
from firmware_tools.card import apdus
from firmware_tools.card import profile as p
from firmware_tools.card.emulator import FaultPlan, ReferenceCard
from firmware_tools.card.traces import example_image
from firmware_tools.iso7816.apdu import ResponseApdu
from firmware_tools.iso7816.atr import Atr, AtrError, build_atr
from firmware_tools.link import (CardLink, CardRemovedError, EmulatorLink, LinkError, NoCardError,
                                 PcscUnavailableError, ReaderGoneError)


def issued_card(**kwargs) -> ReferenceCard:
    return ReferenceCard(example_image(p.Lifecycle.ISSUED), **kwargs)


def test_errors_are_small_and_named():
    for error in (NoCardError, CardRemovedError, ReaderGoneError, PcscUnavailableError):
        assert issubclass(error, LinkError)
        assert error.__doc__ and "\n" not in error.__doc__.strip()
    assert issubclass(LinkError, Exception)


def test_card_link_is_abstract():
    with pytest.raises(TypeError):
        CardLink()
    assert {"connect", "transmit", "wait_for_card", "disconnect", "atr", "extended_length"} \
        <= CardLink.__abstractmethods__


def test_connect_transmit_disconnect():
    reader = EmulatorLink(issued_card())
    assert reader.atr == b""
    reader.connect()
    assert reader.atr == p.answer_to_reset() and reader.extended_length
    raw = reader.transmit(apdus.select_application().encode())
    assert raw == b"\x90\x00"
    response = reader.send(apdus.get_lifecycle())
    assert isinstance(response, ResponseApdu) and response.data == b"\x8a\x01\x05"
    reader.disconnect()
    reader.disconnect()                                                  # twice is fine
    with pytest.raises(LinkError):
        reader.transmit(apdus.get_lifecycle().encode())


def test_context_manager_powers_the_card():
    card = issued_card()
    with EmulatorLink(card) as reader:
        assert reader.send(apdus.select_application()).sw == 0x9000
        assert reader.send(apdus.verify("123456")).sw == 0x9000
    with EmulatorLink(card) as reader:                                   # a new session
        assert reader.send(apdus.select_application()).sw == 0x9000
        assert reader.send(apdus.verify_status()).sw == 0x63C3


def test_empty_slot():
    reader = EmulatorLink()
    with pytest.raises(NoCardError):
        reader.connect()
    assert reader.wait_for_card(0.01) is False
    assert reader.extended_length is False


def test_wait_for_a_card_inserted_later():
    reader = EmulatorLink()
    timer = threading.Timer(0.05, reader.insert, args=(issued_card(),))
    timer.start()
    try:
        assert reader.wait_for_card(5.0) is True
    finally:
        timer.cancel()
    reader.connect()
    assert reader.send(apdus.select_application()).sw == 0x9000


def test_removal_by_hand():
    reader = EmulatorLink(issued_card())
    reader.connect()
    reader.remove()
    with pytest.raises(CardRemovedError):
        reader.transmit(apdus.select_application().encode())
    with pytest.raises(NoCardError):
        reader.connect()


def test_removal_by_fault_plan():
    card = issued_card(faults=FaultPlan(remove_after=1))
    reader = EmulatorLink(card)
    reader.connect()
    assert reader.send(apdus.select_application()).sw == 0x9000
    with pytest.raises(CardRemovedError):
        reader.send(apdus.get_lifecycle())
    assert reader.wait_for_card(0.01) is False
    card.insert()                                                        # the holder puts it back
    assert reader.wait_for_card(1.0) is True
    reader.connect()
    assert reader.send(apdus.get_lifecycle()).sw == 0x9000


def test_tear_surfaces_as_removal():
    card = ReferenceCard(example_image(p.Lifecycle.PERSONALISING), FaultPlan(tear_update=1, tear_keep=1))
    reader = EmulatorLink(card)
    reader.connect()
    reader.send(apdus.select_application())
    reader.send(apdus.select_file(p.DG3))
    with pytest.raises(CardRemovedError):
        reader.send(apdus.update_binary(0, b"\x63\x00"))


def test_short_apdu_card_reports_no_extended_length():
    reader = EmulatorLink(issued_card(faults=FaultPlan(short_apdus_only=True)))
    reader.connect()
    assert reader.extended_length is False


def test_delay_is_felt_through_the_link():
    reader = EmulatorLink(issued_card(faults=FaultPlan(delay=0.03)))
    reader.connect()
    started = time.monotonic()
    reader.transmit(apdus.get_lifecycle().encode())
    assert time.monotonic() - started >= 0.03


# --- ATR (ISO/IEC 7816-3 §8.2) --------------------------------------------------------------

@pytest.mark.parametrize("atr, protocols, extended", [
    ("3b8e0180f8f05353434152440173d40140f4", (1,), True),               # the reference card
    ("3b8e0180f8f05353434152440173d40100b4", (1,), False),              # same, short APDUs only
    ("3b00", (0,), False),                                               # T=0, nothing else
    ("3b8f8001804f0ca000000306030001000000006a", (1,), False),           # PC/SC storage card style
])
def test_atr_parse(atr, protocols, extended):
    parsed = Atr.decode(bytes.fromhex(atr))
    assert parsed.protocols[-1] == protocols[-1]
    assert parsed.extended_length is extended


@pytest.mark.parametrize("atr", ["", "3b", "3c00", "3b8e01", "3b8e0180f8f05353434152440173d40140f5",
                                 "3b0000", "3b8e0180f8f05353434152440173d40140f400"])
def test_atr_refusals(atr):
    with pytest.raises(AtrError):
        Atr.decode(bytes.fromhex(atr))
    assert link.extended_length_from_atr(bytes.fromhex(atr)) is False


def test_build_atr_limits():
    with pytest.raises(AtrError):
        build_atr(bytes(16))
    assert Atr.decode(build_atr(b"\x80")).historical_bytes == b"\x80"
