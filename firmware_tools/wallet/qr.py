"""Drawing the presentation's QR code: a PNG (what the phone's screen shows) and the same in
a terminal with half-block characters. Level M (spec §12.4: phone screens are flat and
lit, and M keeps the symbol at version 15 or below for a typical record)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import qrcode
from qrcode.constants import ERROR_CORRECT_M

BOX_PIXELS = 6  # per module: a version-15 symbol (77 modules + quiet zone) is 510 px wide


def qr_code(text: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=BOX_PIXELS, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    return qr


def write_png(text: str, path: Path) -> int:
    """Write the QR code of `text` to `path` (replaced atomically); returns its version."""
    qr = qr_code(text)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    qr.make_image(fill_color="black", back_color="white").save(tmp, format="PNG")
    os.replace(tmp, path)
    return qr.version


def terminal_text(text: str) -> str:
    """The QR code for a terminal (dark modules on a light background, two rows per line)."""
    out = io.StringIO()
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=2)
    qr.add_data(text)
    qr.make(fit=True)
    qr.print_ascii(out=out, tty=False, invert=True)
    return out.getvalue()
