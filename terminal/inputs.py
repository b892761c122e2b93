"""QR inputs of the terminal (issue 6 item 2): image files and camera frames, serial
scanners (firmware_tools.serial_scanner), and keyboard-wedge scanners (lines on stdin).

Each turns what it read into a call of the :class:`~terminal.verifier.Verifier`; what
cannot be a card code (no QR code in the picture, another barcode symbology, a frame the
scanner cut or overfilled, bytes that are not text) becomes an INVALID result with a
reason of terminal/reasons.py.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from firmware_tools.serial_scanner import Rejected, ScannerConfig, SerialScanner
from terminal.qr_image import QrImageError, load_image, read_qr
from terminal.reasons import TerminalReason
from terminal.verifier import TerminalResult, Verifier

log = logging.getLogger(__name__)

# A keyboard-wedge or serial line longer than this is not a card code: the largest QR
# code holds 4296 characters (spec §5.2); a little room is left for CR/LF and prefixes.
MAX_LINE_BYTES = 4400
_REJECTED = {"oversize": TerminalReason.SCAN_OVERSIZE, "incomplete": TerminalReason.SCAN_INCOMPLETE,
             "undecodable": TerminalReason.SCAN_UNDECODABLE}
# ISO/IEC 15424 symbology identifiers of QR Code ("]Q" + modifier).
QR_AIM_PREFIX = "]Q"


def verify_image(verifier: Verifier, image: Image.Image | Path, source: str = "image") -> TerminalResult:
    """A picture (file path or camera frame): decode the one QR code in it, then verify."""
    try:
        picture = load_image(image) if isinstance(image, (str, Path)) else image
        read = read_qr(picture)
    except QrImageError as exc:
        return verifier.input_failure(TerminalReason(exc.reason), exc.message, source)
    return verifier.verify_qr_text(read.text, f"{source}, decoded by {read.decoder}")


def verify_scan(verifier: Verifier, text: str, source: str, symbology: str | None = None) -> TerminalResult:
    if symbology is not None and not symbology.startswith(QR_AIM_PREFIX):
        return verifier.input_failure(TerminalReason.BARCODE_NOT_QR,
                                      f"the scanner read a {symbology} symbol, not a QR code", source)
    return verifier.verify_qr_text(text, source)


class ScannerInput(threading.Thread):
    """A serial scanner: each scan is verified; rejected frames are reported too."""

    def __init__(self, verifier: Verifier, device: str, *, terminator: str = "CR", strip_aim: bool = False,
                 baudrate: int = 9600) -> None:
        super().__init__(name=f"scanner {device}", daemon=True)
        self.verifier = verifier
        self.source = f"serial scanner {device}"
        self.state = "starting"
        config = ScannerConfig(port=device, baudrate=baudrate, terminator=terminator, strip_aim=strip_aim,
                               max_length=MAX_LINE_BYTES, max_retries=None)
        self.scanner = SerialScanner(config, on_rejected=self._rejected, on_state=self._state)

    def run(self) -> None:
        try:
            for scan in self.scanner.scans():
                verify_scan(self.verifier, str(scan), self.source, scan.symbology)
        except Exception:  # the agent keeps serving the page; the log says why
            log.exception("%s stopped", self.source)
            self.state = "failed"

    def stop(self) -> None:
        self.scanner.stop()

    def _rejected(self, rejected: Rejected) -> None:
        reason = _REJECTED.get(rejected.reason, TerminalReason.SCAN_INCOMPLETE)
        self.verifier.input_failure(reason, f"the scanner frame was discarded ({rejected.reason}, "
                                            f"{rejected.length} bytes)", self.source)

    def _state(self, state: str) -> None:
        self.state = state


def read_wedge_line(stream: BinaryIO) -> tuple[str | None, TerminalReason | None, bool]:
    """One keyboard-wedge line: (text, problem, end_of_input). The wedge "types" the code
    and presses Enter; an overlong line is consumed to its end and reported, not kept."""
    line = stream.readline(MAX_LINE_BYTES + 1)
    if not line:
        return None, None, True
    if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
        while True:  # drop the rest of this line
            more = stream.readline(65536)
            if not more or more.endswith(b"\n"):
                break
        return None, TerminalReason.SCAN_OVERSIZE, False
    try:
        return line.decode("utf-8"), None, False
    except UnicodeDecodeError:
        return None, TerminalReason.SCAN_UNDECODABLE, False


class WedgeInput(threading.Thread):
    """A keyboard-wedge scanner: one code per line on `stream` (stdin)."""

    def __init__(self, verifier: Verifier, stream: BinaryIO, source: str = "keyboard-wedge scanner") -> None:
        super().__init__(name="keyboard wedge", daemon=True)
        self.verifier, self.stream, self.source = verifier, stream, source

    def run(self) -> None:
        while True:
            try:
                text, problem, done = read_wedge_line(self.stream)
            except (OSError, ValueError):
                return
            if done:
                return
            if problem is not None:
                self.verifier.input_failure(problem, "the typed line is not a card code", self.source)
            elif text.strip("\r\n"):
                self.verifier.verify_qr_text(text, self.source)
