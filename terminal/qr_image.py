"""Reading QR codes from images and camera frames: zxing-cpp first, pyzbar second
(DESIGN.md §5: zxing-cpp is ~5x faster on camera frames). The result says which decoder
read it; an image without a readable QR code is a typed error, never a crash."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000


class QrImageError(Exception):
    """No SSC QR code could be read from the image."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class QrRead:
    text: str
    decoder: str  # "zxing-cpp" or "pyzbar"


def load_image(path: Path) -> Image.Image:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise QrImageError("IMAGE_UNREADABLE", f"cannot read {path}: {exc.strerror}") from None
    if size > MAX_IMAGE_BYTES:
        raise QrImageError("IMAGE_TOO_LARGE", f"{path} is {size} bytes; at most {MAX_IMAGE_BYTES} are accepted")
    try:
        image = Image.open(path)
        if image.width * image.height > MAX_PIXELS:
            raise QrImageError("IMAGE_TOO_LARGE", f"{path} has {image.width}x{image.height} pixels, too many")
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise QrImageError("IMAGE_UNREADABLE", f"{path} is not an image this terminal can read ({exc})") from None
    return image


def _zxing(image: Image.Image) -> list[str]:
    import zxingcpp

    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in results if r.valid]


def _pyzbar(image: Image.Image) -> list[str]:
    from pyzbar import pyzbar

    results = pyzbar.decode(image.convert("L"), symbols=[pyzbar.ZBarSymbol.QRCODE])
    out = []
    for r in results:
        try:
            out.append(r.data.decode("ascii"))
        except UnicodeDecodeError:
            out.append(r.data.decode("latin-1"))
    return out


DECODERS = {"zxing-cpp": _zxing, "pyzbar": _pyzbar}


def read_qr(image: Image.Image, decoders: tuple[str, ...] = ("zxing-cpp", "pyzbar")) -> QrRead:
    """The text of the one QR code in `image`."""
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    for name in decoders:
        try:
            texts = DECODERS[name](image)
        except Exception:  # a decoder library failing is a reason to try the next one
            continue
        if len(texts) > 1:
            raise QrImageError("QR_SEVERAL", f"the image shows {len(texts)} QR codes: show one at a time")
        if texts:
            return QrRead(texts[0], name)
    other = _other_barcode(image)
    if other:
        raise QrImageError("BARCODE_NOT_QR", f"the image shows another kind of barcode ({other}), not the card's QR code")
    raise QrImageError("QR_NOT_FOUND", "no QR code could be read from the image (hold it flat, fill the frame)")


def _other_barcode(image: Image.Image) -> str | None:
    """The format of another kind of barcode in the image (EAN-13, Code 128, ...), if any:
    only looked for once no QR code was found, so that the reason can say what it is."""
    try:
        import zxingcpp

        for r in zxingcpp.read_barcodes(image):
            if r.valid and r.format != zxingcpp.BarcodeFormat.QRCode:
                return str(r.format).rsplit(".", 1)[-1]
    except Exception:  # the reason stays QR_NOT_FOUND
        return None
    return None


def read_qr_file(path: Path, decoders: tuple[str, ...] = ("zxing-cpp", "pyzbar")) -> QrRead:
    return read_qr(load_image(path), decoders)
