"""Rendering the card's QR code (DESIGN.md §3): alphanumeric mode, error-correction
level Q, a 4-module quiet zone (ISO/IEC 18004 §7.3.8)."""

from __future__ import annotations

from pathlib import Path

import qrcode
import qrcode.constants
import qrcode.util

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
QUIET_ZONE = 4


def make_qr(text: str, *, error_correction: int = ERROR_CORRECTION) -> qrcode.QRCode:
    """The smallest QR code holding `text`, in alphanumeric mode."""
    data = qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM)
    code = qrcode.QRCode(version=None, error_correction=error_correction, border=QUIET_ZONE)
    code.add_data(data)
    code.make(fit=True)
    return code


def write_png(text: str, path: Path, *, box_size: int = 8) -> int:
    """Write `text` as a QR PNG; returns the QR version used."""
    code = make_qr(text)
    code.box_size = box_size
    image = code.make_image(fill_color="black", back_color="white")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return code.version
