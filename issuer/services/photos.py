"""Holder photos: accept a JPEG or PNG upload, check it, and normalise it into the JPEG the
chip carries (EF.DG2 holds at most firmware_tools' PHOTO_MAX_BYTES, 16 KiB).

Checks, in order, before any pixel is decoded where possible: upload size; the format from
the file's own header (never the client's content type or file name); the pixel count
(Pillow's decompression-bomb guard, as an error); the dimensions; a full decode. The photo is
then re-encoded: EXIF and every other metadata is dropped (no GPS position or camera serial
on the card), orientation applied, scaled to at most 240 x 320, baseline JPEG whose quality
is lowered until it fits the chip.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from firmware_tools.card.profile import PHOTO_MAX_BYTES
from issuer.services.errors import PhotoRejected, PhotoTooLarge, UnsupportedMediaType

ACCEPTED_FORMATS = {"JPEG", "PNG"}
CHIP_SIZE = (240, 320)
MAX_DIMENSION = 8000


def normalise_photo(data: bytes, *, max_bytes: int, min_width: int, min_height: int, max_pixels: int) -> bytes:
    """The chip JPEG for an uploaded photo; raises a PhotoRejected subclass with the reason."""
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"the photo is {len(data)} bytes; at most {max_bytes} are accepted")
    if not data:
        raise PhotoRejected("the photo is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=sorted(ACCEPTED_FORMATS))
            width, height = image.size
            if width * height > max_pixels or max(width, height) > MAX_DIMENSION:
                raise PhotoRejected(f"the photo is {width} x {height} pixels: too large to process "
                                    f"(at most {MAX_DIMENSION} on a side and {max_pixels} pixels)")
            if width < min_width or height < min_height:
                raise PhotoRejected(f"the photo is {width} x {height} pixels; at least "
                                    f"{min_width} x {min_height} are needed")
            image.load()
    except UnidentifiedImageError:
        raise UnsupportedMediaType("the photo must be a JPEG or PNG image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("the photo has too many pixels to process") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt files
        raise PhotoRejected(f"the photo cannot be decoded: {exc}") from None
    return _to_chip_jpeg(image)


def _to_chip_jpeg(image: Image.Image) -> bytes:
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    image.thumbnail(CHIP_SIZE, Image.Resampling.LANCZOS)
    for quality in (85, 75, 65, 55, 45, 35, 25):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= PHOTO_MAX_BYTES:
            return out.getvalue()
    raise PhotoRejected("the photo cannot be compressed to fit the chip")
