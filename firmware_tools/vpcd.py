"""Attach a card object to pcscd through vsmartcard's vpcd reader driver.

The vpcd driver (Debian ``vsmartcard-vpcd``, configured in /etc/reader.conf.d/vpcd)
gives pcscd two readers, "Virtual PCD 00 00" and "Virtual PCD 00 01", and listens for
the card side on TCP ports 35963 and 35964. The card side (this module) connects to
that port; from then on the card is inserted, and closing the socket removes it.

Wire protocol (vsmartcard ``vpcd.c``), both directions::

    frame   = length(2 bytes, big-endian) payload(length bytes)
    payload = 1 byte   -> control: 0 power off, 1 power on, 2 reset, 4 get ATR
            = n bytes  -> a command APDU; the card answers with one frame: data + SW

Only "get ATR" and APDUs are answered; the driver asks for the ATR at any time (its
presence poll does so every ~400 ms), so a powered-off card still answers it.

Latency: the driver writes a frame and blocks on the answer. Without TCP_NODELAY on
our side, and TCP_QUICKACK re-armed before every ``recv`` (Linux clears it after each
use), delayed ACK and Nagle's algorithm add ~40-48 ms to every APDU; with both set a
round trip through pcscd costs ~0.1 ms. See docs/pcsc.md.
"""

from __future__ import annotations

import enum
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Protocol

from firmware_tools.card.faults import CardRemoved

log = logging.getLogger(__name__)

VPCD_HOST = "127.0.0.1"
VPCD_PORTS = (35963, 35964)
VPCD_READER_NAMES = ("Virtual PCD 00 00", "Virtual PCD 00 01")

# ISO 7816-4 §5.6: 6F00 "no precise diagnosis", what a card OS says when it faults.
SW_NO_PRECISE_DIAGNOSIS = b"\x6f\x00"


class VpcdControl(enum.IntEnum):
    """One-byte control messages of the vpcd protocol."""

    POWER_OFF = 0
    POWER_ON = 1
    RESET = 2
    GET_ATR = 4


class VirtualCard(Protocol):
    """What a card must offer to be attached to vpcd (e.g. ``ReferenceCard``)."""

    @property
    def atr(self) -> bytes: ...

    def power_on(self) -> bytes: ...

    def power_off(self) -> None: ...

    def reset(self) -> bytes: ...

    def process_apdu(self, command: bytes) -> bytes: ...


class VpcdError(Exception):
    """The vpcd connection failed."""


class VpcdUnavailableError(VpcdError):
    """Nothing listens on the vpcd port: pcscd is not running or has no vpcd driver."""


def port_for_slot(slot: int) -> int:
    """TCP port of vpcd slot 0 or 1."""
    if slot not in (0, 1):
        raise ValueError(f"vpcd has slots 0 and 1, not {slot!r}")
    return VPCD_PORTS[slot]


def reader_name_for_slot(slot: int) -> str:
    """PC/SC reader name that pcscd gives vpcd slot 0 or 1."""
    port_for_slot(slot)
    return VPCD_READER_NAMES[slot]


def _quickack(sock: socket.socket) -> None:
    # Linux-only TCP option; the kernel drops back to delayed ACK after each use.
    if hasattr(socket, "TCP_QUICKACK") and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def connect_vpcd(host: str = VPCD_HOST, port: int = VPCD_PORTS[0], *,
                 timeout: float = 2.0) -> socket.socket:
    """Open the card-side socket to vpcd, with the latency options set."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except (ConnectionRefusedError, socket.timeout) as exc:
        raise VpcdUnavailableError(f"vpcd is not listening on {host}:{port}: {exc}") from exc
    except OSError as exc:
        raise VpcdError(f"cannot connect to vpcd on {host}:{port}: {exc}") from exc
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _quickack(sock)
    return sock


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    """Read exactly ``size`` bytes; None when the peer closed the connection."""
    buf = bytearray()
    while len(buf) < size:
        _quickack(sock)
        chunk = sock.recv(size - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket) -> bytes | None:
    """One vpcd frame's payload; None at end of stream."""
    header = _recv_exact(sock, 2)
    if header is None:
        return None
    (length,) = struct.unpack(">H", header)
    if length == 0:
        return b""
    return _recv_exact(sock, length)


def write_frame(sock: socket.socket, payload: bytes) -> None:
    """Send one vpcd frame."""
    if len(payload) > 0xFFFF:
        raise VpcdError(f"frame of {len(payload)} bytes exceeds the 2-byte length")
    sock.sendall(struct.pack(">H", len(payload)) + payload)


def answer(card: VirtualCard, payload: bytes) -> bytes | None:
    """The card's answer to one vpcd payload (None: the message has no answer).

    Raises ``CardRemoved`` when the card's fault injection simulates a removal.
    """
    if len(payload) == 1:
        control = payload[0]
        if control == VpcdControl.GET_ATR:
            return card.atr
        if control == VpcdControl.POWER_ON:
            card.power_on()
        elif control == VpcdControl.POWER_OFF:
            card.power_off()
        elif control == VpcdControl.RESET:
            card.reset()
        else:
            log.warning("vpcd: unknown control message 0x%02X ignored", control)
        return None
    try:
        return card.process_apdu(payload)
    except CardRemoved:
        raise
    except Exception:  # a fault in the card model must not hang pcscd
        log.exception("card raised on APDU %s; answering 6F00", payload.hex())
        return SW_NO_PRECISE_DIAGNOSIS


class VirtualCardSession:
    """A card inserted in a vpcd slot, served from a background thread or ``run()``.

    ``remove()`` closes the socket (pcscd sees a removal), ``insert()`` connects again,
    optionally with another card. If vpcd drops the connection (pcscd restarted) or is
    not there yet, the session retries with backoff when ``reconnect`` is true. A card
    that raises ``CardRemoved`` is removed; it comes back after ``reinsert_after``
    seconds if that is set, else on ``insert()``. ``on_event`` hears "waiting" (vpcd not
    reachable yet), "inserted" (vpcd took the card: it asked for the ATR), "removed" and
    "fault-removed", from the serving thread.
    """

    def __init__(self, card: VirtualCard, *, slot: int = 0, host: str = VPCD_HOST,
                 port: int | None = None, reconnect: bool = True,
                 retry_initial: float = 0.1, retry_max: float = 2.0,
                 reinsert_after: float | None = None,
                 on_event: Callable[[str], None] | None = None) -> None:
        self.card = card
        self.slot = slot
        self.host = host
        self.port = port if port is not None else port_for_slot(slot)
        self.reconnect = reconnect
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.reinsert_after = reinsert_after
        self.on_event = on_event
        self.apdu_count = 0
        self.error: BaseException | None = None
        self._lock = threading.Condition()
        self._sock: socket.socket | None = None
        self._want_inserted = True
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._atr_asked = threading.Event()

    # -- control, from any thread ------------------------------------------------

    def start(self) -> VirtualCardSession:
        """Serve the card from a daemon thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("session already started")
        self._thread = threading.Thread(target=self._serve_guarded, daemon=True,
                                        name=f"vpcd-slot{self.slot}")
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Remove the card and end the serving thread (or ``run()``)."""
        with self._lock:
            self._stopping = True
            self._want_inserted = False
            self._shutdown_socket()
            self._lock.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise VpcdError(f"vpcd slot {self.slot} thread did not stop")

    def remove(self, timeout: float = 5.0) -> None:
        """Pull the card: close the socket (returns once it is closed) and stay out
        until ``insert()``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._want_inserted = False
            self._shutdown_socket()
            self._lock.notify_all()
            if self._thread is threading.current_thread():
                return
            while self._sock is not None and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())

    def insert(self, card: VirtualCard | None = None) -> None:
        """Put the card (or another one) back into the slot."""
        with self._lock:
            if card is not None:
                self.card = card
            put_back = getattr(self.card, "insert", None)  # ReferenceCard after a fault
            if callable(put_back):
                put_back()
            self._want_inserted = True
            self._lock.notify_all()

    @property
    def connected(self) -> bool:
        """True while the socket to vpcd is open."""
        return self._sock is not None

    def wait_seen(self, timeout: float = 5.0) -> bool:
        """Wait until vpcd has asked this connection for the ATR (pcscd saw the card)."""
        return self._atr_asked.wait(timeout)

    def socket_options(self) -> dict[str, int]:
        """TCP_NODELAY / TCP_QUICKACK of the live socket (for tests and diagnostics)."""
        sock = self._sock
        if sock is None:
            raise VpcdError("no card is inserted")
        return {
            "TCP_NODELAY": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
            "TCP_QUICKACK": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK),
        }

    def __enter__(self) -> VirtualCardSession:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- serving ------------------------------------------------------------------

    def run(self) -> None:
        """Serve in the calling thread until ``stop()``; raises when ``reconnect`` is off
        and the connection fails."""
        delay = self.retry_initial
        while True:
            if not self._wait_until_wanted():
                return
            try:
                sock = connect_vpcd(self.host, self.port)
            except VpcdError as exc:
                if not self.reconnect:
                    raise
                log.info("slot %d: %s; retrying in %.1f s", self.slot, exc, delay)
                if delay == self.retry_initial:
                    self._event("waiting")
                if self._sleep(delay):
                    return
                delay = min(delay * 2, self.retry_max)
                continue
            delay = self.retry_initial
            with self._lock:
                if not self._want_inserted:  # removed while we were connecting
                    sock.close()
                    continue
                self._sock = sock
                self._atr_asked.clear()
            log.info("slot %d: connected to vpcd %s:%d", self.slot, self.host, self.port)
            try:
                ended_by_vpcd = self._serve_connection(sock)
            finally:
                sock.close()
                with self._lock:
                    self._sock = None
                    self._lock.notify_all()
            if self._atr_asked.is_set():
                log.info("slot %d: card removed", self.slot)
                self._event("removed")
            self._atr_asked.clear()
            if ended_by_vpcd and not self.reconnect:
                with self._lock:
                    if self._want_inserted:
                        raise VpcdError(f"vpcd closed slot {self.slot}")

    def _serve_guarded(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # kept for the controlling thread to inspect
            self.error = exc
            log.exception("vpcd slot %d session ended", self.slot)

    def _serve_connection(self, sock: socket.socket) -> bool:
        """Answer frames until the socket closes; True if vpcd (not we) ended it."""
        while True:
            try:
                payload = read_frame(sock)
            except OSError:
                payload = None
            with self._lock:
                ours = not self._want_inserted
            if payload is None:
                return not ours
            if ours:
                return False
            if len(payload) == 1 and payload[0] == VpcdControl.GET_ATR:
                if not self._atr_asked.is_set():  # vpcd took this card (not only TCP)
                    self._atr_asked.set()
                    log.info("slot %d: card inserted", self.slot)
                    self._event("inserted")
            elif len(payload) != 1:
                self.apdu_count += 1
            try:
                response = answer(self.card, payload)
            except CardRemoved:
                log.info("slot %d: card fault injection: removal", self.slot)
                self._fault_removal()
                return False
            if response is not None:
                try:
                    write_frame(sock, response)
                except OSError:
                    return True

    def _event(self, name: str) -> None:
        if self.on_event is not None:
            try:
                self.on_event(name)
            except Exception:  # a listener's bug must not take the card out
                log.exception("vpcd on_event listener failed")

    def _fault_removal(self) -> None:
        self._event("fault-removed")
        with self._lock:
            self._want_inserted = False
        if self.reinsert_after is not None:
            timer = threading.Timer(self.reinsert_after, self.insert)
            timer.daemon = True
            timer.start()

    def _wait_until_wanted(self) -> bool:
        """Block while removed; False once stopping."""
        with self._lock:
            while not self._want_inserted and not self._stopping:
                self._lock.wait()
            return not self._stopping

    def _sleep(self, seconds: float) -> bool:
        """Interruptible sleep; True if the session is stopping."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def _shutdown_socket(self) -> None:
        # Called with the lock held: shutdown() wakes the serving thread's recv();
        # that thread closes the socket.
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
