"""Serial QR / barcode scanners (USB CDC-ACM or RS-232), and a simulated one on a pty.

A scanner in serial mode sends each decoded symbol as bytes followed by a terminator,
usually CR (some CRLF or LF, some nothing: then a pause ends the scan). It may be set to
add a prefix and a suffix, and an AIM symbology identifier (ISO/IEC 15424: "]" + code
character + modifier character, e.g. "]Q1" QR Code, "]d2" Data Matrix, "]C0" Code 128)
in front of the data. :class:`SerialScanner` frames scans with ``read_until`` (never
``readline``: the terminator is rarely LF), strips what it was told to strip, rejects
oversize or undecodable scans with a reason, and when the device disappears (cable
pulled) it reopens the port with backoff until it comes back.

:class:`SimulatedScanner` is the device side for tests and demos: a pty pair whose slave
path (or a symlink to it) is the "device"; it can be unplugged and plugged back.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import serial

log = logging.getLogger(__name__)

TERMINATORS = {"CR": b"\r", "CRLF": b"\r\n", "LF": b"\n", "none": b""}
# ISO/IEC 15424 symbology identifier: "]", a code character, a modifier character.
AIM_ID = re.compile(rb"\][A-Za-z][0-9A-Za-z]")


class ScannerError(Exception):
    """The serial scanner failed."""


class ScannerUnavailableError(ScannerError):
    """The scanner's port cannot be opened (absent, no permission, or busy)."""


class ScannerDisconnectedError(ScannerError):
    """The scanner went away while it was being read."""


class Scan(str):
    """One decoded scan; ``symbology`` is the AIM identifier that was stripped (or None)."""

    symbology: str | None

    def __new__(cls, text: str, symbology: str | None = None) -> Scan:
        scan = super().__new__(cls, text)
        scan.symbology = symbology
        return scan


@dataclass(frozen=True)
class Rejected:
    """A frame that was read and discarded, and why."""

    reason: str         # "oversize", "undecodable", "incomplete"
    length: int         # bytes in the frame (as far as it was read)


@dataclass(frozen=True)
class ScannerConfig:
    """How the scanner is set up. ``port`` is a device path (a symlink is fine) or a
    pyserial URL such as ``loop://``."""

    port: str
    baudrate: int = 9600
    terminator: str = "CR"          # "CR", "CRLF", "LF" or "none"
    idle_timeout: float = 0.05      # "none": a pause this long ends a scan
    frame_timeout: float = 2.0      # an unterminated partial scan is dropped after this
    prefix: bytes = b""
    suffix: bytes = b""
    strip_aim: bool = False
    max_length: int = 2048          # bytes per frame, terminator excluded
    encoding: str = "utf-8"
    reconnect: bool = True
    retry_initial: float = 0.05
    retry_max: float = 2.0
    max_retries: int | None = None  # reopen attempts per outage; None: until stop()
    poll_interval: float = 0.1      # read timeout: how soon stop() is noticed
    extra: dict = field(default_factory=dict)  # passed to serial_for_url (parity, ...)

    def __post_init__(self) -> None:
        if self.terminator not in TERMINATORS:
            raise ValueError(f"terminator must be one of {sorted(TERMINATORS)}")
        if self.max_length < 1:
            raise ValueError("max_length must be positive")


class SerialScanner:
    """Reads scans from a serial scanner; iterate ``scans()`` or call ``run(callback)``.

    ``on_rejected(Rejected)`` hears about discarded frames, ``on_state(str)`` about
    "connected" / "disconnected" (both are also logged).
    """

    def __init__(self, config: ScannerConfig, *,
                 on_rejected: Callable[[Rejected], None] | None = None,
                 on_state: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.on_rejected = on_rejected
        self.on_state = on_state
        self.rejected: list[Rejected] = []
        self._term = TERMINATORS[config.terminator]
        self._serial: serial.SerialBase | None = None
        self._stop = threading.Event()
        self._buffer = bytearray()
        self._discarding = 0        # >0: inside an oversize frame, bytes dropped so far
        self._last_byte = 0.0
        self._ready: collections.deque[Scan] = collections.deque()

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def serial(self) -> serial.SerialBase | None:
        """The open pyserial port (for diagnostics, and to feed ``loop://`` in tests)."""
        return self._serial

    def open(self) -> None:
        """Open the port now; ScannerUnavailableError if it cannot be opened."""
        self.close()
        timeout = self.config.idle_timeout if not self._term else self.config.poll_interval
        try:
            self._serial = serial.serial_for_url(self.config.port, self.config.baudrate,
                                                 timeout=timeout, **self.config.extra)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ScannerUnavailableError(f"cannot open {self.config.port}: {exc}") from exc
        self._buffer.clear()
        self._discarding = 0
        self._notify_state("connected")

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None

    def stop(self) -> None:
        """Make ``scans()`` / ``run()`` return (from any thread)."""
        self._stop.set()
        port = self._serial
        if port is not None and hasattr(port, "cancel_read"):
            try:
                port.cancel_read()
            except (serial.SerialException, OSError, AttributeError):
                pass

    def __enter__(self) -> SerialScanner:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------

    def scans(self, timeout: float | None = None) -> Iterator[Scan]:
        """Yield scans until ``stop()`` (or until ``timeout`` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stop.is_set():
            while self._ready:
                yield self._ready.popleft()
            if deadline is not None and time.monotonic() >= deadline:
                return
            if self._serial is None and not self._reopen():
                return
            try:
                self._poll()
            except (serial.SerialException, OSError) as exc:
                if self._stop.is_set():
                    return
                self._lost(exc)
        while self._ready:
            yield self._ready.popleft()

    def read_scan(self, timeout: float) -> Scan | None:
        """The next scan, or None after ``timeout`` seconds."""
        for scan in self.scans(timeout):
            return scan
        return None

    def run(self, callback: Callable[[Scan], None]) -> None:
        """Call ``callback`` for each scan until ``stop()``."""
        for scan in self.scans():
            callback(scan)

    # -- internals ----------------------------------------------------------------------

    def _poll(self) -> None:
        port = self._serial
        assert port is not None
        if not self._term:
            chunk = port.read(max(1, port.in_waiting))
            if chunk:
                self._take(chunk)
            elif self._buffer or self._discarding:
                self._end_frame()       # a pause ends a scan without terminator
            return
        room = self.config.max_length + len(self._term) - len(self._buffer)
        chunk = port.read_until(self._term, size=max(room, len(self._term)))
        if chunk:
            self._take(chunk)
        elif (self._buffer or self._discarding) and \
                time.monotonic() - self._last_byte > self.config.frame_timeout:
            self._reject("incomplete", len(self._buffer) + self._discarding)
            self._buffer.clear()
            self._discarding = 0

    def _take(self, chunk: bytes) -> None:
        """Add bytes; every terminator in the buffer ends a frame (a CRLF split over two
        reads, or two scans in one read, both come out right)."""
        self._last_byte = time.monotonic()
        self._buffer += chunk
        if self._term:
            while True:
                end = self._buffer.find(self._term)
                if end < 0:
                    break
                frame = bytes(self._buffer[:end])
                del self._buffer[:end + len(self._term)]
                self._frame(frame)
        keep = max(len(self._term) - 1, 0)  # could be the start of a split CRLF
        if len(self._buffer) > self.config.max_length + keep:
            # Oversize: drop what we hold and keep counting until the frame ends.
            cut = len(self._buffer) - keep
            self._discarding += cut
            del self._buffer[:cut]

    def _end_frame(self) -> None:
        frame = bytes(self._buffer)
        self._buffer.clear()
        self._frame(frame)

    def _frame(self, frame: bytes) -> None:
        if self._discarding:
            self._reject("oversize", self._discarding + len(frame))
            self._discarding = 0
            return
        if len(frame) > self.config.max_length:
            self._reject("oversize", len(frame))
            return
        if not frame:
            return  # an empty line between scans carries nothing
        scan = self._decode(frame)
        if scan is not None:
            self._ready.append(scan)

    def _decode(self, frame: bytes) -> Scan | None:
        cfg = self.config
        body = frame
        if cfg.prefix and body.startswith(cfg.prefix):
            body = body[len(cfg.prefix):]
        if cfg.suffix and body.endswith(cfg.suffix):
            body = body[:-len(cfg.suffix)]
        symbology = None
        if cfg.strip_aim and AIM_ID.match(body):
            symbology, body = body[:3].decode("ascii"), body[3:]
        try:
            return Scan(body.decode(cfg.encoding), symbology)
        except UnicodeDecodeError:
            self._reject("undecodable", len(frame))
            return None

    def _reject(self, reason: str, length: int) -> None:
        rejected = Rejected(reason, length)
        self.rejected.append(rejected)
        log.warning("scanner %s: %s frame of %d bytes discarded", self.config.port,
                    reason, length)
        if self.on_rejected is not None:
            self.on_rejected(rejected)

    def _lost(self, exc: BaseException) -> None:
        log.warning("scanner %s disconnected: %s", self.config.port, exc)
        partial = len(self._buffer) + self._discarding
        self.close()
        self._notify_state("disconnected")
        if partial:
            self._reject("incomplete", partial)
        self._buffer.clear()
        self._discarding = 0
        if not self.config.reconnect:
            raise ScannerDisconnectedError(f"{self.config.port}: {exc}") from exc

    def _reopen(self) -> bool:
        """Open the port, retrying with backoff; False if stopped meanwhile."""
        delay, attempts = self.config.retry_initial, 0
        while not self._stop.is_set():
            try:
                self.open()
                return True
            except ScannerUnavailableError:
                attempts += 1
                limit = self.config.max_retries
                if not self.config.reconnect or (limit is not None and attempts > limit):
                    raise
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, self.config.retry_max)
        return False

    def _notify_state(self, state: str) -> None:
        log.info("scanner %s %s", self.config.port, state)
        if self.on_state is not None:
            self.on_state(state)


class SimulatedScanner:
    """A scanner on a pty pair: readers open ``device`` (the symlink ``link`` if given,
    else the pty slave path); ``scan()`` writes what a configured scanner would send."""

    def __init__(self, *, terminator: str = "CR", prefix: bytes = b"", suffix: bytes = b"",
                 aim: str | None = None, link: str | os.PathLike[str] | None = None) -> None:
        if terminator not in TERMINATORS:
            raise ValueError(f"terminator must be one of {sorted(TERMINATORS)}")
        if aim is not None and not AIM_ID.fullmatch(aim.encode("ascii")):
            raise ValueError(f"{aim!r} is not an AIM symbology identifier like ']Q1'")
        self.terminator = TERMINATORS[terminator]
        self.prefix, self.suffix, self.aim = prefix, suffix, aim
        self.link = os.fspath(link) if link is not None else None
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_path = ""

    @property
    def device(self) -> str:
        """The path a reader should open."""
        return self.link or self.slave_path

    def plug(self) -> SimulatedScanner:
        """Create the pty (a new one each time) and point ``link`` at it."""
        self.unplug()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR -> LF translation
        self.slave_path = os.ttyname(self._slave)
        if self.link is not None:
            tmp = f"{self.link}.new"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, self.link)
        return self

    def unplug(self) -> None:
        """Close the pty: a reader of the slave gets an I/O error, as on a pulled cable."""
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def frame(self, payload: str | bytes) -> bytes:
        """The bytes the scanner sends for ``payload``."""
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        aim = self.aim.encode("ascii") if self.aim else b""
        return self.prefix + aim + data + self.suffix + self.terminator

    def scan(self, payload: str | bytes, *, chunk: int | None = None,
             delay: float = 0.0) -> None:
        """Send one scan, whole or in ``chunk``-byte pieces ``delay`` seconds apart."""
        self.write(self.frame(payload), chunk=chunk, delay=delay)

    def write(self, raw: bytes, *, chunk: int | None = None, delay: float = 0.0) -> None:
        """Send raw bytes (framing is the caller's)."""
        if self._master is None:
            raise ScannerError("the simulated scanner is unplugged")
        step = chunk or len(raw) or 1
        for start in range(0, len(raw), step):
            if start and delay:
                time.sleep(delay)
            os.write(self._master, raw[start:start + step])

    def close(self) -> None:
        self.unplug()
        if self.link is not None and os.path.islink(self.link):
            os.unlink(self.link)

    def __enter__(self) -> SimulatedScanner:
        return self.plug()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
