"""render_card(): a credential, its QR text and the holder's photo become the card's front
and back as 300 dpi PNG and as a two-page PDF (page 1 front, page 2 back) of the card's
physical size.

Before anything is drawn, the QR text is checked to belong to this card (same card number
and serial in its claims; the signature is the terminal's business) and the photo against
the credential's photo digest, so that a station never prints one person's QR code or photo
on another person's card. After layout, every text must lie in the safe area, off the chip,
photo and QR areas, and every character must have a glyph: a card is never printed with
overflowing text or empty boxes for characters.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from crypto import cose, qrtext
from crypto.claims import decode_claims
from crypto.errors import SscError
from crypto.schema import CardKind, Credential
from issuer.artwork import layout, raster
from issuer.artwork.errors import ArtworkError
from issuer.artwork.fonts import Fonts, load_fonts
from issuer.artwork.pdf import render_pdf
from issuer.artwork.scene import MM_PER_INCH, Picture, QrSymbol, Scene, layout_problems
from issuer.qr_image import make_qr

DPI = 300
MIN_MODULE_MM = 0.34           # print guidance for the card's QR code
QR_EDGE = 2.0                  # from the QR's quiet zone to the card's right edge, mm
MIN_TEXT_COLUMN = 28.0         # what the back's text needs beside the QR code, mm
MAX_PHOTO_BYTES = 20 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000
PHOTO_DPI = 600                # the photo is kept at up to this resolution (the PDF gets it)


@dataclass(frozen=True)
class CardArtwork:
    card_number: str
    front_png: bytes
    back_png: bytes
    pdf: bytes
    qr_version: int
    module_px: int
    module_mm: float
    warnings: tuple[str, ...] = ()
    holder: str = ""  # "FAMILY, GIVEN NAMES", for labels and logs
    front: Scene = field(repr=False, compare=False, default=None)
    back: Scene = field(repr=False, compare=False, default=None)

    def files(self) -> dict[str, bytes]:
        n = self.card_number
        return {f"{n}-front.png": self.front_png, f"{n}-back.png": self.back_png, f"{n}.pdf": self.pdf}

    def write(self, folder: Path) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, data in self.files().items():
            path = folder / name
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            written.append(path)
        return written


def render_card(credential: Credential, qr_text: str, photo_bytes: bytes | None = None, *,
                check_qr: bool = True, check_photo: bool = True) -> CardArtwork:
    """The card's artwork; ArtworkError says why it cannot be made."""
    if credential.card.kind is not CardKind.PHYSICAL:
        raise ArtworkError(f"card {credential.card.card_number} is an electronic card: it has no printed artwork")
    fonts = load_fonts()
    qr_text = qr_text.strip()
    if check_qr:
        check_qr_matches(credential, qr_text)
    qr, version = qr_symbol(qr_text)
    photo, placeholder = photo_picture(photo_bytes, credential if check_photo else None)
    front = layout.front(fonts, credential, photo, placeholder)
    back = layout.back(fonts, credential, qr)
    for scene, side in ((front, "front"), (back, "back")):
        check_scene(scene, fonts, side)
    return CardArtwork(
        card_number=credential.card.card_number,
        front_png=raster.png_bytes(raster.render(front, fonts, DPI), DPI),
        back_png=raster.png_bytes(raster.render(back, fonts, DPI), DPI),
        pdf=render_pdf([front, back], fonts, title=f"Social security card {credential.card.card_number}"),
        qr_version=version, module_px=qr.module_px, module_mm=qr.module_mm,
        warnings=tuple(front.warnings + back.warnings), front=front, back=back,
        holder=", ".join(n for n in (credential.holder.family_name, credential.holder.given_names) if n))


def check_scene(scene: Scene, fonts: Fonts, side: str) -> None:
    missing = sorted({ch for t in scene.texts() for ch in fonts[t.face].missing(t.text)})
    if missing:
        raise ArtworkError(f"the card font has no glyph for {', '.join(repr(c) for c in missing)} "
                           f"(U+{ord(missing[0]):04X}): the {side} cannot be printed correctly")
    problems = layout_problems(scene, layout.SAFE)
    if problems:
        raise ArtworkError(f"the {side} of the card does not lay out: " + "; ".join(problems[:5]))


def check_qr_matches(credential: Credential, qr_text: str) -> None:
    """The QR text is an SSC1 text whose claims name this card."""
    try:
        sign1 = cose.decode_sign1(qrtext.decode_qr_text(qr_text), max_size=qrtext.MAX_COSE_BYTES)
        claims = decode_claims(sign1.payload, issuer_code=credential.card.issuing_centre)
    except SscError as exc:
        raise ArtworkError(f"the QR text is not a card credential: {exc.message}") from None
    card = credential.card
    if (claims.card_number, claims.serial) != (card.card_number, card.serial):
        raise ArtworkError(f"the QR text belongs to card {claims.card_number} (serial {claims.serial}), "
                           f"not to card {card.card_number} (serial {card.serial}): wrong QR file?")


def module_px_for(dpi: int = DPI) -> int:
    """The smallest whole number of device pixels that makes a module at least MIN_MODULE_MM."""
    return math.ceil(MIN_MODULE_MM * dpi / MM_PER_INCH - 1e-9)


def qr_symbol(qr_text: str, dpi: int = DPI) -> tuple[QrSymbol, int]:
    """The QR code (level Q, quiet zone 4) placed on the back: right-aligned, centred vertically,
    on the pixel grid."""
    try:
        code = make_qr(qr_text)
    except Exception as exc:  # qrcode raises plain exceptions for data no version holds
        raise ArtworkError(f"the QR text cannot be encoded as a QR code: {exc}") from None
    matrix = tuple(tuple(bool(v) for v in row) for row in code.get_matrix())  # includes the quiet zone
    module_px = module_px_for(dpi)
    px_mm = MM_PER_INCH / dpi
    size = len(matrix) * module_px * px_mm
    most = min(layout.CARD_H - 2 * QR_EDGE, layout.CARD_W - QR_EDGE - 4.0 - 2.6 - MIN_TEXT_COLUMN)
    if size > most:
        raise ArtworkError(f"the QR code (version {code.version}-Q, {len(matrix)} modules with the quiet zone) "
                           f"needs {size:.1f} mm at modules of {module_px * px_mm:.3f} mm (at least "
                           f"{MIN_MODULE_MM} mm); the back of the card holds {most:.1f} mm: the QR claim set "
                           "is too large for a printed card")
    x = round((layout.CARD_W - QR_EDGE - size) / px_mm) * px_mm
    y = round((layout.CARD_H - size) / 2 / px_mm) * px_mm
    return QrSymbol(x, y, matrix, module_px, dpi), code.version


def _open_photo(data: bytes) -> Image.Image:
    if len(data) > MAX_PHOTO_BYTES:
        raise ArtworkError(f"the photo is {len(data)} bytes; at most {MAX_PHOTO_BYTES} are accepted")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["JPEG", "PNG"])
            if image.width * image.height > MAX_PHOTO_PIXELS:
                raise ArtworkError(f"the photo has {image.width} x {image.height} pixels: too many")
            image.load()
    except UnidentifiedImageError:
        raise ArtworkError("the photo must be a JPEG or PNG image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ArtworkError("the photo has too many pixels to process") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ArtworkError(f"the photo cannot be decoded: {exc}") from None
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def photo_picture(photo_bytes: bytes | None, credential: Credential | None) -> tuple[Picture, bool]:
    """The photo cropped to the card's 3:4 box (or a placeholder), and whether it is the placeholder."""
    x0, y0, x1, y1 = layout.PHOTO
    w_mm, h_mm = x1 - x0, y1 - y0
    if photo_bytes is None:
        return Picture(x0, y0, w_mm, h_mm, _placeholder()), True
    digest = credential.holder.photo_digest if credential is not None else None
    if digest is not None and hashlib.sha256(photo_bytes).digest() != digest:
        raise ArtworkError("the photo is not the one the credential was issued with (its SHA-256 differs from "
                           "the credential's photo digest): use the holder's enrolled photo")
    image = _open_photo(photo_bytes)
    target = w_mm / h_mm
    if image.width / image.height > target:   # too wide: cut the sides
        w = round(image.height * target)
        image = image.crop(((image.width - w) // 2, 0, (image.width - w) // 2 + w, image.height))
    else:                                     # too tall: cut mostly the bottom, keep the head
        h = round(image.width / target)
        top = (image.height - h) // 4
        image = image.crop((0, top, image.width, top + h))
    most = round(w_mm * PHOTO_DPI / MM_PER_INCH)
    if image.width > most:
        image = image.resize((most, round(most / target)), Image.Resampling.LANCZOS)
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=92)
    return Picture(x0, y0, w_mm, h_mm, image, jpeg.getvalue()), False


def _placeholder() -> Image.Image:
    """A neutral silhouette (the caption 'no photo' is drawn as text by the layout)."""
    w, h = 300, 400
    image = Image.new("RGB", (w, h), (226, 231, 238))
    draw = ImageDraw.Draw(image)
    shade = (190, 198, 210)
    draw.ellipse((w * 0.30, h * 0.16, w * 0.70, h * 0.52), fill=shade)
    draw.ellipse((w * 0.08, h * 0.56, w * 0.92, h * 1.20), fill=shade)
    return image
