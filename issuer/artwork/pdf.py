"""Scenes as PDF pages (reportlab), page size = the scene's size in millimetres.

Everything is vector except the photo: shapes as paths, the QR code as filled module runs of
exactly the raster's module size, and text as glyph outlines (each glyph once, as a form
XObject). The photo is embedded as JPEG at the resolution it was prepared at.
"""

from __future__ import annotations

import io

from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas as rl_canvas

from issuer.artwork.fonts import Fonts
from issuer.artwork.scene import (MM_PER_INCH, Ellipse, Gradient, Picture, Polyline, QrSymbol, Rect,
                                  Scene, Text)

PT_PER_MM = 72 / MM_PER_INCH


def render_pdf(scenes: list[Scene], fonts: Fonts, *, title: str = "", author: str = "sscard issuer") -> bytes:
    out = io.BytesIO()
    c = rl_canvas.Canvas(out, pagesize=(scenes[0].width * PT_PER_MM, scenes[0].height * PT_PER_MM),
                         pageCompression=1, invariant=1)
    c.setTitle(title)
    c.setAuthor(author)
    c.setCreator("sscard issuer.artwork")
    forms: set[str] = set()
    for scene in scenes:
        c.setPageSize((scene.width * PT_PER_MM, scene.height * PT_PER_MM))
        _Page(c, scene, fonts, forms).draw()
        c.showPage()
    c.save()
    return out.getvalue()


def _rgb(color) -> tuple[float, float, float]:
    return tuple(v / 255 for v in color)


class _Page:
    def __init__(self, c: rl_canvas.Canvas, scene: Scene, fonts: Fonts, forms: set[str]):
        self.c, self.scene, self.fonts, self.forms = c, scene, fonts, forms

    def x(self, mm: float) -> float:
        return mm * PT_PER_MM

    def y(self, mm: float) -> float:  # PDF's y axis points up
        return (self.scene.height - mm) * PT_PER_MM

    def draw(self) -> None:
        items = self.scene.items
        for item in items:
            if isinstance(item, Rect):
                self._rect(item)
            elif isinstance(item, Gradient):
                self._gradient(item)
            elif isinstance(item, Ellipse):
                self._ellipse(item)
            elif isinstance(item, Polyline):
                self._polyline(item)
        for kind, method in ((Picture, self._picture), (QrSymbol, self._qr), (Text, self._text)):
            for item in items:
                if isinstance(item, kind):
                    method(item)

    def _paint(self, fill, stroke, stroke_mm) -> dict:
        c = self.c
        if fill is not None:
            c.setFillColorRGB(*_rgb(fill))
        if stroke is not None:
            c.setStrokeColorRGB(*_rgb(stroke))
            c.setLineWidth(stroke_mm * PT_PER_MM)
        return {"fill": int(fill is not None), "stroke": int(stroke is not None)}

    def _rect(self, r: Rect) -> None:
        paint = self._paint(r.fill, r.stroke, r.stroke_mm)
        # a stroke is drawn inside the box in the PNG: the same here
        inset = r.stroke_mm / 2 if r.stroke else 0.0
        args = (self.x(r.x + inset), self.y(r.y + r.h - inset), (r.w - 2 * inset) * PT_PER_MM,
                (r.h - 2 * inset) * PT_PER_MM)
        if r.radius:
            self.c.roundRect(*args, r.radius * PT_PER_MM, **paint)
        else:
            self.c.rect(*args, **paint)

    def _ellipse(self, e: Ellipse) -> None:
        paint = self._paint(e.fill, e.stroke, e.stroke_mm)
        self.c.ellipse(self.x(e.x), self.y(e.y + e.h), self.x(e.x + e.w), self.y(e.y), **paint)

    def _gradient(self, g: Gradient) -> None:
        c = self.c
        c.saveState()
        path = c.beginPath()
        path.rect(self.x(g.x), self.y(g.y + g.h), g.w * PT_PER_MM, g.h * PT_PER_MM)
        c.clipPath(path, stroke=0, fill=0)
        if g.horizontal:
            c.linearGradient(self.x(g.x), 0, self.x(g.x + g.w), 0, (_rgb(g.start), _rgb(g.end)), extend=True)
        else:
            c.linearGradient(0, self.y(g.y), 0, self.y(g.y + g.h), (_rgb(g.start), _rgb(g.end)), extend=True)
        c.restoreState()

    def _polyline(self, line: Polyline) -> None:
        c = self.c
        c.saveState()
        c.setStrokeColorRGB(*_rgb(line.color))
        c.setLineWidth(line.width_mm * PT_PER_MM)
        c.setLineJoin(1)
        c.setLineCap(0 if line.dash_mm else 1)
        if line.dash_mm:
            c.setDash(line.dash_mm * PT_PER_MM, line.dash_mm * PT_PER_MM)
        path = c.beginPath()
        (x0, y0), rest = line.points[0], line.points[1:]
        path.moveTo(self.x(x0), self.y(y0))
        for x, y in rest:
            path.lineTo(self.x(x), self.y(y))
        c.drawPath(path, stroke=1, fill=0)
        c.restoreState()

    def _picture(self, p: Picture) -> None:
        if p.jpeg is not None:
            source = ImageReader(io.BytesIO(p.jpeg))
        else:
            source = ImageReader(p.image.convert("RGB"))
        self.c.drawImage(source, self.x(p.x), self.y(p.y + p.h), p.w * PT_PER_MM, p.h * PT_PER_MM)

    def _qr(self, q: QrSymbol) -> None:
        c, m = self.c, q.module_mm
        n = len(q.matrix)
        c.setFillColorRGB(1, 1, 1)
        c.rect(self.x(q.x), self.y(q.y + n * m), n * m * PT_PER_MM, n * m * PT_PER_MM, stroke=0, fill=1)
        c.setFillColorRGB(0, 0, 0)
        path = c.beginPath()
        for row, cells in enumerate(q.matrix):
            col = 0
            while col < n:
                if not cells[col]:
                    col += 1
                    continue
                start = col
                while col < n and cells[col]:
                    col += 1
                path.rect(self.x(q.x + start * m), self.y(q.y + (row + 1) * m), (col - start) * m * PT_PER_MM,
                          m * PT_PER_MM)
        c.drawPath(path, stroke=0, fill=1)

    def _glyph_form(self, face: str, ch: str) -> str | None:
        name = f"g_{face}_{ord(ch):x}"
        if name in self.forms:
            return name
        ops = self.fonts[face].outline(ch)
        if not ops:
            return None
        c = self.c
        c.beginForm(name, lowerx=-2000, lowery=-2000, upperx=4000, uppery=4000)
        path = c.beginPath()
        for op, args in _cubic(ops):
            getattr(path, op)(*[v for pt in args for v in pt])
        c.drawPath(path, stroke=0, fill=1, fillMode=rl_canvas.FILL_NON_ZERO)  # as font outlines expect
        c.endForm()
        self.forms.add(name)
        return name

    def _text(self, t: Text) -> None:
        c = self.c
        face = self.fonts[t.face]
        scale = t.size_pt / face.units
        c.setFillColorRGB(*_rgb(t.color))
        for ch, dx in zip(t.text, t.offsets):
            if ch.isspace():
                continue
            form = self._glyph_form(t.face, ch)
            if form is None:
                continue
            c.saveState()
            c.translate(self.x(t.x + dx), self.y(t.baseline))
            c.scale(scale, scale)
            c.doForm(form)
            c.restoreState()


def _cubic(ops: tuple):
    """Pen operations as reportlab path calls: quadratic segments raised to cubic ones."""
    current = (0.0, 0.0)
    start = current
    for op, args in ops:
        if op == "moveTo":
            current = start = args[0]
            yield "moveTo", args
        elif op == "lineTo":
            current = args[0]
            yield "lineTo", args
        elif op == "curveTo":
            current = args[-1]
            yield "curveTo", args
        elif op == "qCurveTo":
            from fontTools.pens.basePen import decomposeQuadraticSegment

            for c1, end in decomposeQuadraticSegment(args):
                q0 = current
                yield "curveTo", ((q0[0] + 2 / 3 * (c1[0] - q0[0]), q0[1] + 2 / 3 * (c1[1] - q0[1])),
                                  (end[0] + 2 / 3 * (c1[0] - end[0]), end[1] + 2 / 3 * (c1[1] - end[1])), end)
                current = end
        elif op in ("closePath", "endPath"):
            current = start
            yield "close", ()
