"""A real pcscd with the vpcd driver, and virtual cards in its two slots, for tests.

The fixtures are registered once, in tests/conftest.py, so that every test area shares
one session pcscd (two registrations would make two session fixtures, and only the first
would own the daemon).

``pcscd`` (session scope) starts ``pcscd -f`` as a child process unless one is already
running (then it is reused and left alone), waits for the readers "Virtual PCD 00 00"
and "Virtual PCD 00 01", and at the end stops the daemon by its pid if it started it.
vpcd listens on ports 35963/35964 on every interface (the driver's choice); our card
side connects over 127.0.0.1 only.

``attach_card(card, slot=0)`` inserts a card object (``ReferenceCard`` or the
``StubCard`` below) into a slot, waits until pcscd reports it present, and at the end
of the test removes it and waits until pcscd reports the slot empty, so the next test
starts from an empty reader.

Several test runs may share the machine (and so pcscd and the two vpcd ports): a run
holds a shared lock on pcscd while it uses it, and the run that started pcscd stops it
only once no other run holds that lock; ``attach_card`` and ``slot_lock`` hold an
exclusive lock per slot, so two runs take turns instead of talking to each other's card.
The locks are flock(2) files in the temporary directory, released if a run dies.

Set SSCARD_SKIP_PCSC=1 to skip these tests on a machine without pcscd (the Makefile
installs it; CI must not skip).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from smartcard import scard

from firmware_tools.card.faults import CardRemoved
from firmware_tools.vpcd import VPCD_READER_NAMES, VirtualCardSession

PCSCD_RUN_DIR = Path("/run/pcscd")


@dataclass
class PcscdProcess:
    """The pcscd the tests talk to."""

    pid: int | None        # the child's pid; None when an existing pcscd is reused
    started_here: bool
    log_path: Path | None  # the child's stdout/stderr (pcscd -f logs there)
    usage_fd: int | None = None  # this run's shared hold on the pcscd lock (see sole_user)


def pcscd_answers() -> bool:
    """True if a pcscd answers on its socket."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    scard.SCardReleaseContext(context)
    return True


def list_reader_names() -> list[str]:
    """Reader names pcscd reports now (empty if none or no service)."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return []
    try:
        hresult, names = scard.SCardListReaders(context, [])
        return list(names) if hresult == scard.SCARD_S_SUCCESS else []
    finally:
        scard.SCardReleaseContext(context)


def wait_for_readers(names: tuple[str, ...] = VPCD_READER_NAMES,
                     timeout: float = 15.0) -> list[str]:
    """Wait until every reader in ``names`` is listed; returns the listing."""
    deadline = time.monotonic() + timeout
    while True:
        listed = list_reader_names()
        if all(name in listed for name in names):
            return listed
        if time.monotonic() > deadline:
            raise TimeoutError(f"readers {names} not listed by pcscd (have {listed})")
        time.sleep(0.1)


def wait_reader_state(reader: str, present: bool, timeout: float = 5.0) -> bool:
    """Wait until pcscd reports a card in ``reader`` (present=True) or none."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise RuntimeError(scard.SCardGetErrorMessage(hresult))
    try:
        states = [(reader, scard.SCARD_STATE_UNAWARE)]
        deadline = time.monotonic() + timeout
        wait_ms = 0
        while True:
            hresult, states = scard.SCardGetStatusChange(context, wait_ms, states)
            if hresult == scard.SCARD_S_SUCCESS:
                event = states[0][1]
                if bool(event & scard.SCARD_STATE_PRESENT) == present:
                    return True
                states = [(name, state & ~scard.SCARD_STATE_CHANGED) for name, state, _ in states]
            elif hresult != scard.SCARD_E_TIMEOUT:
                raise RuntimeError(scard.SCardGetErrorMessage(hresult))
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            wait_ms = int(left * 1000) + 1
    finally:
        scard.SCardReleaseContext(context)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds (monotonic) have passed; returns
    its last value. For what pcscd passes on to the card without waiting: a power-off has no
    answer in the vpcd protocol, so SCardDisconnect returns before the card has seen it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        time.sleep(interval)
    return True


def start_pcscd() -> PcscdProcess:
    """Reuse a running pcscd, or start ``pcscd -f`` and wait for the vpcd readers."""
    if pcscd_answers():
        wait_for_readers()
        return PcscdProcess(pid=None, started_here=False, log_path=None)
    binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    if not os.path.exists(binary):
        raise FileNotFoundError("pcscd is not installed (Debian packages pcscd, vsmartcard-vpcd)")
    PCSCD_RUN_DIR.mkdir(parents=True, exist_ok=True)
    log_fd, log_name = tempfile.mkstemp(prefix="sscard-pcscd-", suffix=".log")
    # No --auto-exit: the daemon must outlive quiet stretches of the test session.
    proc = subprocess.Popen([binary, "--foreground"], stdin=subprocess.DEVNULL,
                            stdout=log_fd, stderr=subprocess.STDOUT)
    os.close(log_fd)
    handle = PcscdProcess(pid=proc.pid, started_here=True, log_path=Path(log_name))
    try:
        wait_for_readers()
    except TimeoutError:
        stop_pcscd(handle)
        raise
    return handle


def stop_pcscd(handle: PcscdProcess, timeout: float = 10.0) -> None:
    """Stop the pcscd we started (by its pid); a reused one is left running."""
    if not handle.started_here or handle.pid is None:
        return
    try:
        os.kill(handle.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, _status = os.waitpid(handle.pid, os.WNOHANG)
        if pid == handle.pid:
            return
        time.sleep(0.05)
    os.kill(handle.pid, signal.SIGKILL)
    os.waitpid(handle.pid, 0)


# -- locks shared by concurrent test runs --------------------------------------------

def _lock_path(name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"sscard-{name}.lock"


def _flock(fd: int, mode: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


_slots_held: dict[int, int] = {}  # slot -> how many slot_lock() of this process hold it


@contextlib.contextmanager
def slot_lock(slot: int, timeout: float = 600.0) -> Iterator[None]:
    """Hold vpcd slot ``slot`` for this test run (other runs wait). Re-entrant within the
    process: a test that watches a reader holds its slot before ``attach_card`` takes it
    again, so that no other run's card is inserted there meanwhile (a watcher would read it)."""
    if _slots_held.get(slot):
        _slots_held[slot] += 1
        try:
            yield
        finally:
            _slots_held[slot] -= 1
        return
    fd = os.open(_lock_path(f"vpcd-slot{slot}"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _flock(fd, fcntl.LOCK_EX, timeout):
            raise TimeoutError(f"vpcd slot {slot} is held by another test run")
        _slots_held[slot] = 1
        try:
            yield
        finally:
            _slots_held[slot] = 0
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def sole_user(handle: PcscdProcess, timeout: float = 60.0) -> Iterator[bool]:
    """Turn this run's shared hold on pcscd into an exclusive one, for a test that stops and
    restarts the daemon: yields True once no other test run uses it, False if one still does
    after ``timeout`` s. The shared hold is taken back at the end."""
    if handle.usage_fd is None:
        yield False
        return
    try:
        yield _flock(handle.usage_fd, fcntl.LOCK_EX, timeout)
    finally:
        # flock(2) converts a lock by dropping it first: take the shared hold back in any case.
        fcntl.flock(handle.usage_fd, fcntl.LOCK_SH)


# -- a stand-in card --------------------------------------------------------------

def make_atr(historical: bytes) -> bytes:
    """ATR offering T=0 and T=1 (TD1=80, TD2=01) with the given historical bytes + TCK."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


class StubCard:
    """A minimal card for transport tests (ISO 7816-4 shapes, no file system).

    SELECT -> 9000; INS E0 -> the payload in 61xx pieces (for GET RESPONSE, INS C0);
    INS E2 -> 6Cxx unless Le is exactly ``len(payload)``; INS E4 -> answers with
    ``b'\\x00' * Le`` (extended Le too); anything else echoes its data with 9000.
    """

    # ISO 7816-4 §8.1.1.2.7 card capabilities (compact-TLV 73): extended Lc/Le (b7).
    ATR = make_atr(bytes.fromhex("80738001C0"))

    def __init__(self, atr: bytes | None = None, payload: bytes = bytes(range(40))) -> None:
        self._atr = atr if atr is not None else self.ATR
        self.payload = payload
        self.powered = False
        self.events: list[str] = []
        self.fail_next = False
        self._pending = b""

    @property
    def atr(self) -> bytes:
        return self._atr

    def power_on(self) -> bytes:
        self.powered = True
        self.events.append("on")
        return self._atr

    def power_off(self) -> None:
        self.powered = False
        self.events.append("off")

    def reset(self) -> bytes:
        self.events.append("reset")
        self._pending = b""
        return self._atr

    def process_apdu(self, command: bytes) -> bytes:
        if self.fail_next:
            self.fail_next = False
            raise CardRemoved("simulated removal")
        ins = command[1]
        body = command[4:]
        if ins == 0xA4:
            return b"\x90\x00"
        if ins == 0xE0:
            self._pending = self.payload
            return self._more(b"")
        if ins == 0xC0:
            le = command[4] if len(command) == 5 else 0
            chunk, self._pending = self._pending[: le or 256], self._pending[le or 256:]
            return self._more(chunk)
        if ins == 0xE2:
            le = command[-1] if len(command) > 4 else None
            if le != len(self.payload):
                return bytes([0x6C, len(self.payload)])
            return self.payload + b"\x90\x00"
        if ins == 0xE4:
            le = int.from_bytes(command[5:7], "big") if len(command) == 7 else command[4]
            return bytes(le or 65536) + b"\x90\x00"
        data = body[1:1 + body[0]] if len(body) > 1 else b""
        return data + b"\x90\x00"

    def _more(self, chunk: bytes) -> bytes:
        if self._pending:
            return chunk + bytes([0x61, min(len(self._pending), 0xFF) & 0xFF])
        return chunk + b"\x90\x00"


# -- fixtures -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def pcscd() -> Iterator[PcscdProcess]:
    """A pcscd with the two vpcd readers, for the whole session."""
    if os.environ.get("SSCARD_SKIP_PCSC"):
        pytest.skip("SSCARD_SKIP_PCSC is set")
    usage = os.open(_lock_path("pcscd"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _flock(usage, fcntl.LOCK_SH, 600):
            raise TimeoutError("another test run keeps pcscd locked")
        handle = start_pcscd()
        handle.usage_fd = usage
        try:
            yield handle
        finally:
            if handle.started_here:
                # Other runs may still use our pcscd: stop it once they are done.
                if _flock(usage, fcntl.LOCK_EX, 900):
                    stop_pcscd(handle)
                else:
                    warnings.warn(f"pcscd {handle.pid} left running: still used by another run")
    finally:
        os.close(usage)


@pytest.fixture
def attach_card(pcscd: PcscdProcess) -> Iterator[Callable[..., VirtualCardSession]]:
    """Factory: insert a card into a vpcd slot; removed (and seen removed) at teardown."""
    sessions: list[VirtualCardSession] = []
    with contextlib.ExitStack() as held:

        def attach(card: object, slot: int = 0, **options: object) -> VirtualCardSession:
            reader = VPCD_READER_NAMES[slot]
            if all(s.slot != slot for s in sessions):
                held.enter_context(slot_lock(slot))
            if not wait_reader_state(reader, present=False, timeout=5.0):
                raise RuntimeError(f"{reader} still holds a card from an earlier test")
            session = VirtualCardSession(card, slot=slot, **options).start()
            sessions.append(session)
            if not session.wait_seen(5.0):  # vpcd talks to this socket, not another one
                raise RuntimeError(f"vpcd did not take the card in {reader}")
            if not wait_reader_state(reader, present=True, timeout=5.0):
                raise RuntimeError(f"pcscd did not see the card in {reader}")
            return session

        yield attach
        for session in sessions:
            session.stop()
        for session in sessions:
            wait_reader_state(VPCD_READER_NAMES[session.slot], present=False, timeout=5.0)
