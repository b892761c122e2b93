"""Proof sheets: cards (front beside back) on A4 at 300 dpi, for checking colour, text and
QR codes before a batch goes to the card printer.

Each card gets crop marks at its corners, a hairline frame, and a label (its position on
the sheet, card number, holder, side, QR version and module size). A 100 mm ruler at the
foot of every page checks that the sheet was printed at 100 % scale.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image

from issuer.artwork import raster
from issuer.artwork.card import DPI, CardArtwork
from issuer.artwork.errors import ArtworkError
from issuer.artwork.fonts import Fonts, load_fonts
from issuer.artwork.layout import CARD_H, CARD_W, GREY, INK
from issuer.artwork.pdf import render_pdf
from issuer.artwork.scene import MM_PER_INCH, Para, Polyline, Rect, Scene, fit_block, moved, set_text

A4_W, A4_H = 210.0, 297.0
PER_PAGE = 4
GUTTER = 12.0            # between the front and the back
ROW_PITCH = CARD_H + 12.5
TOP = 22.0
MARK_GAP, MARK_LEN, MARK_W = 1.5, 4.0, 0.12
FRAME = (170, 176, 186)


@dataclass(frozen=True)
class ProofSheet:
    pages_png: tuple[bytes, ...]
    pdf: bytes
    cards: int

    @property
    def pages(self) -> int:
        return len(self.pages_png)

    def write(self, folder: Path, stem: str = "proof") -> list[Path]:
        """`stem`-1.png, `stem`-2.png, ... and `stem`.pdf in `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        named = [(f"{stem}-{i}.png", png) for i, png in enumerate(self.pages_png, start=1)]
        written = []
        for name, data in named + [(f"{stem}.pdf", self.pdf)]:
            path = folder / name
            tmp = path.with_name(name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            written.append(path)
        return written


def _grid(value: float) -> float:
    """`value` mm moved onto the 300 dpi pixel grid, so that the cards' QR modules stay whole pixels."""
    step = MM_PER_INCH / DPI
    return round(value / step) * step


def card_positions() -> list[tuple[float, float, float]]:
    """(front x, back x, y) of each card slot on a page, top-left corners in mm."""
    left = _grid((A4_W - 2 * CARD_W - GUTTER) / 2)
    back = _grid(left + CARD_W + GUTTER)
    return [(left, back, _grid(TOP + i * ROW_PITCH)) for i in range(PER_PAGE)]


def _crop_marks(scene: Scene, x: float, y: float) -> None:
    for cx, sx in ((x, -1), (x + CARD_W, 1)):
        for cy, sy in ((y, -1), (y + CARD_H, 1)):
            scene.add(Polyline(((cx + sx * MARK_GAP, cy), (cx + sx * (MARK_GAP + MARK_LEN), cy)), INK, MARK_W),
                      Polyline(((cx, cy + sy * MARK_GAP), (cx, cy + sy * (MARK_GAP + MARK_LEN))), INK, MARK_W))


def _ruler(fonts: Fonts, scene: Scene, x: float, y: float) -> None:
    scene.add(Polyline(((x, y), (x + 100, y)), INK, 0.15))
    for mm in range(101):
        tick = 3.0 if mm % 10 == 0 else 1.8 if mm % 5 == 0 else 1.0
        scene.add(Polyline(((x + mm, y), (x + mm, y - tick)), INK, 0.1))
        if mm % 10 == 0:
            scene.add(set_text(fonts, x + mm, y + 2.6, str(mm), size=5, color=GREY, align="center"))
    scene.add(set_text(fonts, x + 104, y + 0.6, "100 mm：按 100% 比例打印 / print at 100 % scale", size=6,
                       color=GREY))


def _page(fonts: Fonts, cards: Sequence[tuple[int, CardArtwork]], page: int, pages: int, total: int,
          date: dt.date) -> tuple[Scene, list, list]:
    """A page's own scene (header, frames, marks, labels, ruler), the card images to paste on it,
    and the cards' items placed on the page (for the PDF)."""
    scene = Scene(A4_W, A4_H)
    scene.add(Rect(0, 0, A4_W, A4_H, fill=(255, 255, 255)))
    left = card_positions()[0][0]
    scene.add(*fit_block(fonts, [Para(f"证卡打样 Card proof sheet  ·  {date.isoformat()}  ·  page {page} of {pages}"
                                      f"  ·  {total} card{'s' * (total != 1)}", 9, "bold", INK, gap_after=0.5),
                                 Para(f"300 dpi · ID-1 card {CARD_W:.2f} × {CARD_H:.2f} mm (ISO/IEC 7810) · "
                                      "front 正面 left, back 背面 right · the white area left of the photo is the "
                                      "chip's, not printed", 6, "regular", GREY)],
                         (left, 8.0, A4_W - left, 17.0)))
    pastes, placed = [], []
    for (number, art), (fx, bx, y) in zip(cards, card_positions()):
        for x, side, zh in ((fx, "front", "正面"), (bx, "back", "背面")):
            scene.add(Rect(x - 0.25, y - 0.25, CARD_W + 0.5, CARD_H + 0.5, stroke=FRAME, stroke_mm=0.1))
            _crop_marks(scene, x, y)
            holder = art.holder if len(art.holder) <= 30 else art.holder[:29] + "…"
            text = f"#{number}  {art.card_number}  {holder}  ·  {zh} {side}"
            if side == "back":
                text += f"  ·  QR {art.qr_version}-Q, module {art.module_mm:.3f} mm"
            scene.add(*fit_block(fonts, [Para(text, 6, "regular", INK)],
                                 (x + 6.0, y + CARD_H + 1.6, x + CARD_W - 6.0, y + CARD_H + 5.0), align="center"))
            face = art.front if side == "front" else art.back
            if face is None:
                raise ArtworkError("a proof sheet needs cards made by render_card (their layouts)")
            pastes.append((Image.open(io.BytesIO(art.front_png if side == "front" else art.back_png)), x, y))
            placed.extend(moved(item, x, y) for item in face.items)
    _ruler(fonts, scene, left, A4_H - 12.0)
    return scene, pastes, placed


def render_proof_sheet(cards: Sequence[CardArtwork], *, date: dt.date | None = None) -> ProofSheet:
    """Every card of `cards`, front and back, PER_PAGE to an A4 page: PNG pages and one PDF."""
    if not cards:
        raise ArtworkError("a proof sheet needs at least one card")
    fonts = load_fonts()
    date = date or dt.date.today()
    numbered = list(enumerate(cards, start=1))
    chunks = [numbered[i:i + PER_PAGE] for i in range(0, len(numbered), PER_PAGE)]
    pngs, pdf_pages = [], []
    for page, chunk in enumerate(chunks, start=1):
        scene, pastes, placed = _page(fonts, chunk, page, len(chunks), len(cards), date)
        image = raster.render(scene, fonts, DPI, supersample=1, pastes=pastes)
        pngs.append(raster.png_bytes(image, DPI))
        pdf_pages.append(Scene(A4_W, A4_H, scene.items + placed))
    pdf = render_pdf(pdf_pages, fonts, title=f"Card proof sheet {date.isoformat()} ({len(cards)} cards)")
    return ProofSheet(tuple(pngs), pdf, len(cards))
