"""Proof sheets: A4 at 300 dpi, fronts beside backs, crop marks and a label per card, the QR
codes still readable on the sheet."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from issuer.artwork import ArtworkError
from issuer.artwork.layout import CARD_H, CARD_W
from issuer.artwork.proof import MARK_GAP, MARK_LEN, PER_PAGE, card_positions, render_proof_sheet

PX = 300 / 25.4
DATE = dt.date(2026, 1, 5)


@pytest.fixture(scope="module")
def sheet(typical_art, long_art):
    return render_proof_sheet([typical_art, long_art, typical_art, long_art, typical_art], date=DATE)


def page(sheet, index: int) -> Image.Image:
    image = Image.open(io.BytesIO(sheet.pages_png[index]))
    image.load()
    return image


def test_pages_are_a4_at_300_dpi(sheet):
    assert sheet.cards == 5 and sheet.pages == 2  # PER_PAGE cards a page
    for i in range(sheet.pages):
        image = page(sheet, i)
        assert image.size == (2480, 3508)
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    doc = pypdfium2.PdfDocument(sheet.pdf)
    assert len(doc) == 2
    for p in doc:
        width, height = p.get_size()
        assert width * 25.4 / 72 == pytest.approx(210, abs=0.1)
        assert height * 25.4 / 72 == pytest.approx(297, abs=0.1)


def test_every_qr_on_the_sheet_reads(sheet, typical_art, long_art, typical, long_credential, sign):
    expected = {sign(typical), sign(long_credential)}
    first = zxingcpp.read_barcodes(page(sheet, 0), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(first) == PER_PAGE
    assert {r.text for r in first} == expected
    second = zxingcpp.read_barcodes(page(sheet, 1), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in second] == [sign(typical)]
    pdf_page = pypdfium2.PdfDocument(sheet.pdf)[0].render(scale=300 / 72).to_pil()
    assert {r.text for r in zxingcpp.read_barcodes(pdf_page, formats=zxingcpp.BarcodeFormat.QRCode)} == expected


def test_cards_are_pasted_pixel_for_pixel(sheet, typical_art):
    image = np.asarray(page(sheet, 0).convert("RGB"))
    fx, bx, y = card_positions()[0]
    front = np.asarray(Image.open(io.BytesIO(typical_art.front_png)).convert("RGB"))
    x0, y0 = round(fx * PX), round(y * PX)
    assert np.array_equal(image[y0:y0 + front.shape[0], x0:x0 + front.shape[1]], front)


def test_crop_marks_at_every_card_corner(sheet):
    image = np.asarray(page(sheet, 0).convert("L"))
    for fx, bx, y in card_positions():
        for x in (fx, bx):
            for cx, sx in ((x, -1), (x + CARD_W, 1)):
                for cy, sy in ((y, -1), (y + CARD_H, 1)):
                    # the middle of the horizontal mark and of the vertical one are dark
                    hx = cx + sx * (MARK_GAP + MARK_LEN / 2)
                    vy = cy + sy * (MARK_GAP + MARK_LEN / 2)
                    assert image[round(cy * PX) - 1:round(cy * PX) + 2, round(hx * PX)].min() < 100
                    assert image[round(vy * PX), round(cx * PX) - 1:round(cx * PX) + 2].min() < 100


def test_labels_name_card_side_and_qr(typical_art, long_art):
    from issuer.artwork.fonts import load_fonts
    from issuer.artwork.proof import _page
    scene, pastes, placed = _page(load_fonts(), [(1, typical_art), (2, long_art)], 1, 1, 2, DATE)
    labels = [t.text for t in scene.texts() if t.text.startswith("#")]
    assert labels == [
        "#1  M31A00042  MUELLER, ANNA  ·  正面 front",
        "#1  M31A00042  MUELLER, ANNA  ·  背面 back  ·  QR 16-Q, module 0.423 mm",
        "#2  M31A12345678  MONTGOMERY-WHITFIELD DE LA CR…  ·  正面 front",
        "#2  M31A12345678  MONTGOMERY-WHITFIELD DE LA CR…  ·  背面 back  ·  QR 21-Q, module 0.423 mm"]
    assert len(pastes) == 4
    header = " ".join(t.text for t in scene.texts())
    assert "page 1 of 1" in header and "2026-01-05" in header and "100 mm" in header


def test_no_cards_no_sheet():
    with pytest.raises(ArtworkError, match="at least one card"):
        render_proof_sheet([])


def test_write_names_the_pages(sheet, tmp_path):
    names = [p.name for p in sheet.write(tmp_path)]
    assert names == ["proof-1.png", "proof-2.png", "proof.pdf"]
