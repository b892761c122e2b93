"""The card's PNG and PDF: physical size, resolution, and the QR code read back from what
was rendered (DESIGN.md §3: level Q, quiet zone, modules of at least 0.34 mm)."""

from __future__ import annotations

import io
import re

import numpy as np
import pypdfium2
import pytest
import zxingcpp
from PIL import Image, ImageStat
from pyzbar import pyzbar

from crypto import samples
from issuer.artwork import MIN_MODULE_MM, ArtworkError, render_card
from issuer.artwork.card import module_px_for

CARD_MM = (85.60, 53.98)
CARD_PX = (1011, 638)  # ISO/IEC 7810 ID-1 at 300 dpi


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("side", ["front_png", "back_png"])
@pytest.mark.parametrize("card", ["typical_art", "long_art"])
def test_png_is_cr80_at_300_dpi(request, card, side):
    image = png(getattr(request.getfixturevalue(card), side))
    assert image.format == "PNG"
    assert image.size == CARD_PX
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert image.mode == "RGB"


def pdf_pages_mm(data: bytes) -> list[tuple[float, float]]:
    doc = pypdfium2.PdfDocument(data)
    return [(w * 25.4 / 72, h * 25.4 / 72) for w, h in (page.get_size() for page in doc)]


@pytest.mark.parametrize("card", ["typical_art", "long_art"])
def test_pdf_has_two_pages_of_card_size(request, card):
    art = request.getfixturevalue(card)
    assert art.pdf.startswith(b"%PDF-")
    pages = pdf_pages_mm(art.pdf)
    assert len(pages) == 2  # front, back
    for width, height in pages:
        assert width == pytest.approx(CARD_MM[0], abs=0.1)
        assert height == pytest.approx(CARD_MM[1], abs=0.1)
    boxes = re.findall(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", art.pdf)
    assert len(boxes) == 2 and all(float(w) * 25.4 / 72 == pytest.approx(85.60, abs=0.1) for w, _ in boxes)


def zxing_read(image: Image.Image):
    results = [r for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode) if r.valid]
    assert len(results) == 1
    return results[0]


def module_px_measured(image: Image.Image, result) -> float:
    """Pixels per module, measured on the top-left finder pattern's top edge (7 modules dark)."""
    grey = image.convert("L")
    x0, y0 = result.position.top_left.x, result.position.top_left.y
    x = x0
    while grey.getpixel((x, y0 + 1)) < 128:
        x += 1
    return (x - x0) / 7


@pytest.mark.parametrize("card", ["typical_art", "long_art"])
def test_qr_read_back_from_the_rendered_png_with_zxing_and_pyzbar(request, card, sign):
    art = request.getfixturevalue(card)
    credential = request.getfixturevalue("typical" if card == "typical_art" else "long_credential")
    expected = sign(credential)
    back = png(art.back_png)
    result = zxing_read(back)
    assert result.text == expected
    assert result.ec_level == "Q"
    zbar = pyzbar.decode(back.convert("L"), symbols=[pyzbar.ZBarSymbol.QRCODE])
    assert [r.data.decode("ascii") for r in zbar] == [expected]
    # the modules as printed: whole pixels, at least 0.34 mm
    measured = module_px_measured(back, result)
    assert measured == art.module_px == 5
    assert measured * 25.4 / 300 >= MIN_MODULE_MM
    assert art.module_mm == pytest.approx(0.4233, abs=1e-4)


def test_qr_has_its_white_quiet_zone(typical_art):
    back = png(typical_art.back_png).convert("L")
    result = zxing_read(back)
    m = typical_art.module_px
    left, top = result.position.top_left.x, result.position.top_left.y
    bottom = result.position.bottom_left.y
    zone = back.crop((left - 4 * m, top - 4 * m, left, bottom + 1))  # the 4 modules left of the symbol
    assert zone.getextrema() == (255, 255)


def test_qr_read_back_from_the_pdf_rendered_by_pdfium(typical_art, typical, sign):
    page = pypdfium2.PdfDocument(typical_art.pdf)[1]
    image = page.render(scale=300 / 72).to_pil()
    assert zxing_read(image).text == sign(typical)


def test_the_front_has_no_qr_and_the_back_one(typical_art):
    assert zxingcpp.read_barcodes(png(typical_art.front_png), formats=zxingcpp.BarcodeFormat.QRCode) == []


def test_the_module_size_rounds_up_to_whole_pixels():
    assert module_px_for(300) == 5           # 4 px would be 0.339 mm, under 0.34
    assert module_px_for(600) == 9           # 0.381 mm
    assert 4 * 25.4 / 300 < MIN_MODULE_MM


def test_the_chip_area_is_left_unprinted(typical_art):
    front = png(typical_art.front_png).convert("L")
    # ISO/IEC 7816-2 contacts: 10.25..19.87 mm from the left, 19.23..28.55 mm from the top
    box = [round(v * 300 / 25.4) for v in (10.25, 19.23, 19.87, 28.55)]
    assert front.crop(box).getextrema() == (255, 255)


def test_the_photo_is_on_the_front(typical_art, long_art):
    from issuer.artwork.layout import PHOTO
    box = [round(v * 300 / 25.4) + d for v, d in zip(PHOTO, (3, 3, -3, -3))]
    with_photo = png(typical_art.front_png).crop(box)
    placeholder = png(long_art.front_png).crop(box)
    # the generated photo's dark blue jacket fills much of its lower half
    pixels = np.asarray(with_photo, dtype=int)
    jacket = (np.abs(pixels - (40, 60, 92)).sum(axis=2) < 30).mean()
    assert jacket > 0.2
    # the placeholder: light grey silhouette, and its caption
    assert ImageStat.Stat(placeholder.convert("L")).mean[0] > 180
    texts = [t.text for t in long_art.front.texts() if t.within == "photo"]
    assert texts == ["无照片", "NO PHOTO"]


def test_a_png_photo_with_transparency_is_accepted(sign, make_photo, with_photo):
    photo = make_photo("PNG", mode="RGBA")
    credential = with_photo(samples.typical_record(), photo)
    art = render_card(credential, sign(credential), photo)
    from issuer.artwork.layout import PHOTO
    corner = png(art.front_png).getpixel((round(PHOTO[0] * 300 / 25.4) + 4, round(PHOTO[1] * 300 / 25.4) + 4))
    assert corner == (255, 255, 255)  # the transparent background became white


def test_a_photo_that_is_not_the_enrolled_one_is_refused(typical, sign, make_photo):
    other = make_photo(size=(300, 400))
    with pytest.raises(ArtworkError, match="not the one the credential was issued with"):
        render_card(typical, sign(typical), other)
    assert render_card(typical, sign(typical), other, check_photo=False).card_number == "M31A00042"


@pytest.mark.parametrize("data, message", [
    (b"GIF89a\x01\x00\x01\x00", "must be a JPEG or PNG"),
    (b"\xff\xd8\xff\xe0 truncated jpeg", "JPEG or PNG|cannot be decoded"),
])
def test_a_bad_photo_is_a_clear_error(typical, sign, data, message):
    with pytest.raises(ArtworkError, match=message):
        render_card(typical, sign(typical), data, check_photo=False)


def test_the_qr_of_another_card_is_refused(typical, long_credential, sign):
    with pytest.raises(ArtworkError, match="belongs to card M31A12345678"):
        render_card(typical, sign(long_credential))


@pytest.mark.parametrize("text, message", [
    ("HC1:6BFOXN", "not a card credential"),
    ("SSC1:", "not a card credential"),
    ("ssc1:abc", "not a card credential"),
])
def test_a_qr_text_that_is_no_credential_is_refused(typical, text, message):
    with pytest.raises(ArtworkError, match=message):
        render_card(typical, text)


def test_a_qr_too_large_for_the_card_is_refused():
    from issuer.artwork.card import qr_symbol
    qr, version = qr_symbol("SSC1:" + "A" * 400)
    assert qr.module_px == 5 and version >= 10
    with pytest.raises(ArtworkError, match="too large for a printed card"):
        qr_symbol("SSC1:" + "A" * 1400)


def test_an_electronic_card_has_no_artwork(sign):
    from crypto import parse_credential
    record = samples.typical_record()
    record["card"]["kind"] = 2
    credential = parse_credential(record)
    with pytest.raises(ArtworkError, match="electronic card: it has no printed artwork"):
        render_card(credential, sign(credential))


def test_files_are_named_by_card_number(typical_art, tmp_path):
    written = typical_art.write(tmp_path / "out")
    assert sorted(p.name for p in written) == ["M31A00042-back.png", "M31A00042-front.png", "M31A00042.pdf"]
    assert (tmp_path / "out" / "M31A00042.pdf").read_bytes() == typical_art.pdf
    assert not list((tmp_path / "out").glob("*.tmp"))
