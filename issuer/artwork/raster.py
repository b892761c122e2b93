"""A Scene as a 300 dpi image (Pillow).

Shapes are drawn at 4x and scaled down, so that curves and thin lines are smooth; pictures,
the QR code and text are then drawn at the final resolution: the QR's modules fall on whole
pixels, and the text is FreeType's own anti-aliasing, glyph by glyph at the positions the
scene set (so the PNG and the PDF agree to a fraction of a pixel).
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from issuer.artwork.fonts import Fonts
from issuer.artwork.scene import (MM_PER_INCH, PT_TO_MM, Ellipse, Gradient, Picture, Polyline, QrSymbol, Rect,
                                  Scene, Text)

SUPERSAMPLE = 4
WHITE = (255, 255, 255)


def pixels(mm: float, dpi: int) -> int:
    return round(mm * dpi / MM_PER_INCH)


def render(scene: Scene, fonts: Fonts, dpi: int = 300, *, supersample: int = SUPERSAMPLE,
           pastes: list[tuple[Image.Image, float, float]] = ()) -> Image.Image:
    """The scene as an RGB image; `pastes` (image, x mm, y mm) go on after the shapes (a proof
    sheet's cards, already rendered), before pictures, QR codes and text."""
    size = (pixels(scene.width, dpi), pixels(scene.height, dpi))
    shapes = [i for i in scene.items if isinstance(i, (Rect, Gradient, Ellipse, Polyline))]
    image = _shapes(shapes, size, dpi, supersample)
    for tile, x, y in pastes:
        image.paste(tile.convert("RGB"), (pixels(x, dpi), pixels(y, dpi)))
    for item in scene.items:
        if isinstance(item, Picture):
            _picture(image, item, dpi)
    for item in scene.items:
        if isinstance(item, QrSymbol):
            _qr(image, item, dpi)
    draw = ImageDraw.Draw(image)
    for item in scene.items:
        if isinstance(item, Text):
            _text(draw, item, fonts, dpi)
    return image


def png_bytes(image: Image.Image, dpi: int = 300) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=False)
    return out.getvalue()


def _shapes(items: list, size: tuple[int, int], dpi: int, k: int) -> Image.Image:
    big = Image.new("RGB", (size[0] * k, size[1] * k), WHITE)
    draw = ImageDraw.Draw(big)
    px = dpi * k / MM_PER_INCH

    def box(i):
        return [i.x * px, i.y * px, (i.x + i.w) * px - 1, (i.y + i.h) * px - 1]

    for item in items:
        if isinstance(item, Rect):
            width = max(1, round(item.stroke_mm * px)) if item.stroke else 0
            if item.radius:
                draw.rounded_rectangle(box(item), radius=item.radius * px, fill=item.fill, outline=item.stroke,
                                       width=width)
            else:
                draw.rectangle(box(item), fill=item.fill, outline=item.stroke, width=width)
        elif isinstance(item, Ellipse):
            width = max(1, round(item.stroke_mm * px)) if item.stroke else 0
            draw.ellipse(box(item), fill=item.fill, outline=item.stroke, width=width)
        elif isinstance(item, Gradient):
            _gradient(big, item, px)
        elif isinstance(item, Polyline):
            _polyline(draw, item, px)
    return big.resize(size, Image.Resampling.BOX) if k > 1 else big


def _gradient(image: Image.Image, g: Gradient, px: float) -> None:
    x0, y0 = round(g.x * px), round(g.y * px)
    w, h = round(g.w * px), round(g.h * px)
    ramp = Image.linear_gradient("L")  # 256 x 256, black at the top
    if g.horizontal:
        ramp = ramp.rotate(90, expand=True)  # black on the left
    ramp = ramp.resize((w, h), Image.Resampling.BILINEAR)
    tile = Image.composite(Image.new("RGB", (w, h), g.end), Image.new("RGB", (w, h), g.start), ramp)
    image.paste(tile, (x0, y0))


def _polyline(draw: ImageDraw.ImageDraw, line: Polyline, px: float) -> None:
    pts = [(x * px, y * px) for x, y in line.points]
    width = max(1, round(line.width_mm * px))
    if not line.dash_mm:
        draw.line(pts, fill=line.color, width=width, joint="curve")
        return
    dash = line.dash_mm * px
    for (xa, ya), (xb, yb) in zip(pts, pts[1:]):
        length = ((xb - xa) ** 2 + (yb - ya) ** 2) ** 0.5
        t = 0.0
        while t < length:
            t1 = min(length, t + dash)
            draw.line([(xa + (xb - xa) * t / length, ya + (yb - ya) * t / length),
                       (xa + (xb - xa) * t1 / length, ya + (yb - ya) * t1 / length)], fill=line.color, width=width)
            t += 2 * dash


def _picture(image: Image.Image, pic: Picture, dpi: int) -> None:
    x0, y0 = pixels(pic.x, dpi), pixels(pic.y, dpi)
    w, h = pixels(pic.x + pic.w, dpi) - x0, pixels(pic.y + pic.h, dpi) - y0
    image.paste(pic.image.convert("RGB").resize((w, h), Image.Resampling.LANCZOS), (x0, y0))


def qr_image(matrix: tuple[tuple[bool, ...], ...], module_px: int) -> Image.Image:
    n = len(matrix)
    small = Image.new("L", (n, n), 255)
    small.putdata([0 if dark else 255 for row in matrix for dark in row])
    return small.resize((n * module_px, n * module_px), Image.Resampling.NEAREST)


def _qr(image: Image.Image, qr: QrSymbol, dpi: int) -> None:
    if dpi != qr.dpi:  # another resolution (a preview): scale the whole symbol
        side = pixels(qr.size, dpi)
        symbol = qr_image(qr.matrix, 1).resize((side, side), Image.Resampling.NEAREST)
    else:
        symbol = qr_image(qr.matrix, qr.module_px)
    image.paste(symbol.convert("RGB"), (pixels(qr.x, dpi), pixels(qr.y, dpi)))


def _text(draw: ImageDraw.ImageDraw, t: Text, fonts: Fonts, dpi: int) -> None:
    px = dpi / MM_PER_INCH
    font = fonts[t.face].pil(round(t.size_pt * PT_TO_MM * px, 2))
    y = t.baseline * px
    for ch, dx in zip(t.text, t.offsets):
        if not ch.isspace():
            draw.text(((t.x + dx) * px, y), ch, font=font, fill=t.color, anchor="ls")
