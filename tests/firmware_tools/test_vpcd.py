"""The vpcd card side: framing and control messages against a local stand-in for the
driver (no pcscd), then the real pcscd + vpcd + pyscard and two external PC/SC clients."""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import time

import pytest
from smartcard import scard

from firmware_tools.vpcd import (VpcdControl, VpcdError, VpcdUnavailableError,
                                 VirtualCardSession, answer, connect_vpcd, port_for_slot,
                                 read_frame, reader_name_for_slot, write_frame)
from tests.firmware_tools.pcscd_fixtures import StubCard, wait_reader_state, wait_until

READER0, READER1 = reader_name_for_slot(0), reader_name_for_slot(1)
SELECT = bytes.fromhex("00A4040007A0000000031010")


# -- framing and control messages, no pcscd ---------------------------------------

def test_frames_round_trip_over_a_socket_pair():
    left, right = socket.socketpair()
    with left, right:
        for payload in (b"", b"\x04", SELECT, bytes(0xFFFF)):
            write_frame(left, payload)
            assert read_frame(right) == payload
        left.close()
        assert read_frame(right) is None


def test_a_frame_longer_than_the_length_field_is_refused():
    left, right = socket.socketpair()
    with left, right, pytest.raises(VpcdError):
        write_frame(left, bytes(0x10000))


def test_control_messages_reach_the_card_and_only_atr_is_answered():
    card = StubCard()
    assert answer(card, bytes([VpcdControl.POWER_ON])) is None
    assert answer(card, bytes([VpcdControl.RESET])) is None
    assert answer(card, bytes([VpcdControl.POWER_OFF])) is None
    assert card.events == ["on", "reset", "off"]
    # The ATR is answered at any time, even with the card powered off.
    assert answer(card, bytes([VpcdControl.GET_ATR])) == card.atr
    assert answer(card, bytes([0x7F])) is None  # unknown control byte: ignored


def test_a_card_model_that_raises_answers_no_precise_diagnosis():
    class Broken(StubCard):
        def process_apdu(self, command: bytes) -> bytes:
            raise RuntimeError("bug in the card model")

    assert answer(Broken(), SELECT) == b"\x6f\x00"


def test_slots_map_to_ports_and_reader_names():
    assert port_for_slot(0) == 35963 and port_for_slot(1) == 35964
    assert READER1 == "Virtual PCD 00 01"
    with pytest.raises(ValueError):
        port_for_slot(2)


def _armed(session: VirtualCardSession, timeout: float = 2.0) -> dict[str, int]:
    """The socket options once the session is back in recv with QUICKACK re-armed.

    Linux leaves quick-ACK mode again after the card sends its answer (TCP "pingpong"),
    so the option reads 0 between the answer and the next recv; poll briefly.
    """
    deadline = time.monotonic() + timeout
    while True:
        options = session.socket_options()
        if options["TCP_QUICKACK"] or time.monotonic() > deadline:
            return options
        time.sleep(0.001)


class FakeVpcd:
    """The driver's side of the protocol on an ephemeral loopback port."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.server.settimeout(5)

    def accept(self) -> socket.socket:
        conn, _ = self.server.accept()
        conn.settimeout(5)
        return conn

    @staticmethod
    def ask(conn: socket.socket, payload: bytes) -> bytes | None:
        write_frame(conn, payload)
        return read_frame(conn)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def fake_vpcd():
    server = FakeVpcd()
    yield server
    server.close()


def test_session_answers_the_driver_and_sets_the_latency_options(fake_vpcd):
    card = StubCard()
    with VirtualCardSession(card, port=fake_vpcd.port) as session:
        conn = fake_vpcd.accept()
        assert fake_vpcd.ask(conn, b"\x04") == card.atr
        assert session.wait_seen(1)
        write_frame(conn, b"\x01")  # power on: no answer
        assert fake_vpcd.ask(conn, SELECT) == b"\x90\x00"
        assert fake_vpcd.ask(conn, bytes.fromhex("00CA000003112233")) == bytes.fromhex("1122339000")
        assert _armed(session) == {"TCP_NODELAY": 1, "TCP_QUICKACK": 1}
        assert session.apdu_count == 2 and card.events == ["on"]
        conn.close()


def test_remove_closes_the_socket_and_insert_connects_again(fake_vpcd):
    card = StubCard()
    with VirtualCardSession(card, port=fake_vpcd.port) as session:
        conn = fake_vpcd.accept()
        assert fake_vpcd.ask(conn, b"\x04") == card.atr
        session.remove()
        assert conn.recv(1) == b""  # end of stream: the card left
        assert not session.connected
        other = StubCard(atr=bytes.fromhex("3B00"))
        session.insert(other)
        conn2 = fake_vpcd.accept()
        assert fake_vpcd.ask(conn2, b"\x04") == bytes.fromhex("3B00")
        conn.close()
        conn2.close()


def test_fault_injected_removal_closes_the_socket_and_can_come_back(fake_vpcd):
    card = StubCard()
    with VirtualCardSession(card, port=fake_vpcd.port, reinsert_after=0.05):
        conn = fake_vpcd.accept()
        card.fail_next = True
        assert fake_vpcd.ask(conn, SELECT) is None  # no answer: the socket closed
        conn2 = fake_vpcd.accept()                  # reinserted after 50 ms
        assert fake_vpcd.ask(conn2, SELECT) == b"\x90\x00"
        conn.close()
        conn2.close()


def test_session_reconnects_when_the_driver_drops_it(fake_vpcd):
    card = StubCard()
    with VirtualCardSession(card, port=fake_vpcd.port, retry_initial=0.01):
        fake_vpcd.accept().close()   # pcscd restarted, say
        conn = fake_vpcd.accept()
        assert fake_vpcd.ask(conn, b"\x04") == card.atr
        conn.close()


def test_without_reconnect_a_missing_driver_is_an_error():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(VpcdUnavailableError):
        connect_vpcd("127.0.0.1", port)
    session = VirtualCardSession(StubCard(), port=port, reconnect=False)
    with pytest.raises(VpcdUnavailableError):
        session.run()


def test_stop_ends_a_session_still_waiting_for_the_driver():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    session = VirtualCardSession(StubCard(), port=port, retry_initial=0.05).start()
    time.sleep(0.2)
    session.stop(timeout=2)
    assert session.error is None


# -- through the real pcscd --------------------------------------------------------

def _connect(reader: str):
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    hresult, card, protocol = scard.SCardConnect(
        context, reader, scard.SCARD_SHARE_SHARED,
        scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
    assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
    return context, card, protocol


def _transmit(card: int, protocol: int, apdu: bytes) -> tuple[int, bytes]:
    pci = scard.SCARD_PCI_T0 if protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
    hresult, response = scard.SCardTransmit(card, pci, list(apdu))
    return hresult, bytes(response)


def _release(context: int, card: int, disposition: int = scard.SCARD_LEAVE_CARD) -> None:
    scard.SCardDisconnect(card, disposition)
    scard.SCardReleaseContext(context)


@pytest.mark.pcsc
def test_inserted_card_atr_is_seen_by_pyscard(attach_card):
    card = StubCard()
    attach_card(card)
    context, handle, _ = _connect(READER0)
    hresult, reader, state, _protocol, atr = scard.SCardStatus(handle)
    _release(context, handle)
    assert hresult == scard.SCARD_S_SUCCESS
    assert reader == READER0 and bytes(atr) == card.atr
    assert "on" in card.events  # pcscd powers the card up when it sees it


@pytest.mark.pcsc
def test_apdu_round_trip_through_pcscd(attach_card):
    session = attach_card(StubCard())
    context, handle, protocol = _connect(READER0)
    try:
        assert _transmit(handle, protocol, SELECT) == (0, b"\x90\x00")
        assert _transmit(handle, protocol, bytes.fromhex("00CA000002BEEF")) == \
            (0, bytes.fromhex("BEEF9000"))
    finally:
        _release(context, handle)
    assert session.apdu_count == 2


@pytest.mark.pcsc
def test_live_socket_has_nodelay_and_quickack(attach_card):
    session = attach_card(StubCard())
    assert _armed(session) == {"TCP_NODELAY": 1, "TCP_QUICKACK": 1}


@pytest.mark.pcsc
def test_removal_and_reinsertion_are_seen_by_pcscd(attach_card):
    session = attach_card(StubCard())
    context, handle, protocol = _connect(READER0)
    session.remove()
    assert wait_reader_state(READER0, present=False, timeout=3)
    hresult, _ = _transmit(handle, protocol, SELECT)
    assert hresult & 0xFFFFFFFF == scard.SCARD_W_REMOVED_CARD & 0xFFFFFFFF
    _release(context, handle)
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    hresult, _card, _protocol = scard.SCardConnect(
        context, READER0, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1)
    scard.SCardReleaseContext(context)
    assert hresult & 0xFFFFFFFF == scard.SCARD_E_NO_SMARTCARD & 0xFFFFFFFF
    session.insert()
    assert wait_reader_state(READER0, present=True, timeout=3)
    context, handle, protocol = _connect(READER0)
    assert _transmit(handle, protocol, SELECT) == (0, b"\x90\x00")
    _release(context, handle)


@pytest.mark.pcsc
def test_both_slots_hold_their_own_card(attach_card):
    first, second = StubCard(), StubCard(atr=bytes.fromhex("3B021401"))
    attach_card(first, slot=0)
    attach_card(second, slot=1)
    for reader, card in ((READER0, first), (READER1, second)):
        context, handle, protocol = _connect(reader)
        _hr, _name, _state, _proto, atr = scard.SCardStatus(handle)
        assert bytes(atr) == card.atr
        assert _transmit(handle, protocol, SELECT) == (0, b"\x90\x00")
        _release(context, handle)


@pytest.mark.pcsc
def test_power_off_on_and_reset_reach_the_card(attach_card):
    card = StubCard()
    attach_card(card)
    context, handle, _ = _connect(READER0)
    card.events.clear()
    hresult, _protocol = scard.SCardReconnect(handle, scard.SCARD_SHARE_SHARED,
                                              scard.SCARD_PROTOCOL_T1, scard.SCARD_RESET_CARD)
    assert hresult == scard.SCARD_S_SUCCESS
    hresult, _protocol = scard.SCardReconnect(handle, scard.SCARD_SHARE_SHARED,
                                              scard.SCARD_PROTOCOL_T1, scard.SCARD_UNPOWER_CARD)
    assert hresult == scard.SCARD_S_SUCCESS
    assert card.events[0] == "reset"
    assert card.events[1:3] == ["off", "on"]
    _release(context, handle, scard.SCARD_UNPOWER_CARD)
    # A power-off has no answer: pcscd returns before the card sees it, so wait (bounded).
    assert wait_until(lambda: "off" in card.events[3:]), card.events


def _external(argv: list[str], stdin: str | None = None) -> str:
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} is not installed (Debian packages pcsc-tools, opensc)")
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    return done.stdout + done.stderr


@pytest.mark.pcsc
def test_scriptor_talks_to_the_card(attach_card):
    attach_card(StubCard())
    out = _external(["scriptor", "-r", READER0],
                    stdin="00 A4 04 00 07 A0 00 00 00 03 10 10\n00 CA 00 00 02 CA FE\n")
    assert "< 90 00 : Normal processing." in out
    assert "< CA FE 90 00 : Normal processing." in out


@pytest.mark.pcsc
def test_opensc_tool_talks_to_the_card(attach_card):
    card = StubCard()
    attach_card(card)
    out = _external(["opensc-tool", "-r", READER0, "--atr"])
    assert card.atr.hex(":") in out.lower()
    out = _external(["opensc-tool", "-r", READER0, "-s", "00:CA:00:00:02:CA:FE"])
    assert "Received (SW1=0x90, SW2=0x00)" in out
    assert "CA FE" in out


@pytest.mark.pcsc
def test_median_round_trip_is_recorded(attach_card, record_property):
    """Records the median APDU round trip through pcscd; speed is judged in bench/."""
    attach_card(StubCard())
    context, handle, protocol = _connect(READER0)
    samples = []
    try:
        for _ in range(300):
            start = time.perf_counter()
            hresult, _ = _transmit(handle, protocol, SELECT)
            samples.append(time.perf_counter() - start)
            assert hresult == scard.SCARD_S_SUCCESS
    finally:
        _release(context, handle)
    median_ms = statistics.median(samples) * 1000
    record_property("median_apdu_round_trip_ms", round(median_ms, 3))
    print(f"median APDU round trip through pcscd + vpcd: {median_ms:.3f} ms")


@pytest.mark.pcsc
def test_a_second_card_waits_until_the_first_leaves(attach_card):
    """vpcd accepts one card per slot; a session started meanwhile comes in after."""
    first = attach_card(StubCard())
    late = VirtualCardSession(StubCard(atr=bytes.fromhex("3B021402")), slot=0).start()
    try:
        first.stop()
        assert late.wait_seen(5)  # vpcd accepted it and asked for its ATR
        assert wait_reader_state(READER0, present=True, timeout=3)
        context, handle, _ = _connect(READER0)
        _hr, _n, _s, _p, atr = scard.SCardStatus(handle)
        _release(context, handle)
        assert bytes(atr) == bytes.fromhex("3B021402")
    finally:
        late.stop()
        assert wait_reader_state(READER0, present=False, timeout=3)

