"""What is drawn, in millimetres from the top-left corner: a list of primitives that the
PNG back-end (raster.py) and the PDF back-end (pdf.py) both draw, so the two agree.

Text is set here, once: every Text carries its glyph positions, computed from the font's
advance widths, and its bounding box, which the layout checks use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Union

from PIL import Image

from issuer.artwork.fonts import Fonts

MM_PER_INCH = 25.4
PT_TO_MM = 25.4 / 72
Color = tuple[int, int, int]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: Color | None = None
    stroke: Color | None = None
    stroke_mm: float = 0.0
    radius: float = 0.0


@dataclass(frozen=True)
class Gradient:
    """A rectangle shaded from `start` (left or top) to `end` (right or bottom)."""
    x: float
    y: float
    w: float
    h: float
    start: Color
    end: Color
    horizontal: bool = True


@dataclass(frozen=True)
class Ellipse:
    x: float
    y: float
    w: float
    h: float
    fill: Color | None = None
    stroke: Color | None = None
    stroke_mm: float = 0.0


@dataclass(frozen=True)
class Polyline:
    points: tuple[tuple[float, float], ...]
    color: Color
    width_mm: float
    dash_mm: float = 0.0  # 0: solid


@dataclass(frozen=True)
class Text:
    x: float          # left edge of the first glyph
    baseline: float
    text: str
    face: str         # "regular" or "bold"
    size_pt: float
    color: Color
    offsets: tuple[float, ...]  # each glyph's x offset from `x`, mm
    width: float
    ascent: float     # mm above the baseline
    descent: float    # mm below the baseline
    within: str = ""  # the keep-out area this text belongs to (a caption on the photo placeholder)

    @property
    def box(self) -> Box:
        return (self.x, self.baseline - self.ascent, self.x + self.width, self.baseline + self.descent)


@dataclass(frozen=True, eq=False)
class Picture:
    x: float
    y: float
    w: float
    h: float
    image: Image.Image
    jpeg: bytes | None = None  # the same picture as JPEG, for the PDF


@dataclass(frozen=True)
class QrSymbol:
    """A QR code with its quiet zone, `module_px` device pixels per module at `dpi`."""
    x: float
    y: float
    matrix: tuple[tuple[bool, ...], ...]
    module_px: int
    dpi: int

    @property
    def module_mm(self) -> float:
        return self.module_px * MM_PER_INCH / self.dpi

    @property
    def size(self) -> float:
        return len(self.matrix) * self.module_mm


Item = Union[Rect, Gradient, Ellipse, Polyline, Text, Picture, QrSymbol]


@dataclass
class Scene:
    width: float
    height: float
    items: list[Item] = field(default_factory=list)
    keep_out: dict[str, Box] = field(default_factory=dict)  # areas text must not enter
    warnings: list[str] = field(default_factory=list)

    def add(self, *items: Item) -> None:
        self.items.extend(items)

    def texts(self) -> list[Text]:
        return [i for i in self.items if isinstance(i, Text)]


def set_text(fonts: Fonts, x: float, baseline: float, text: str, *, face: str = "regular", size: float,
             color: Color, align: str = "left", within: str = "") -> Text:
    """`text` set at `size` pt: `x` is the left edge, the centre or the right edge by `align`."""
    f = fonts[face]
    scale = size * PT_TO_MM
    offsets, pos = [], 0.0
    for adv in f.advances(text):
        offsets.append(pos)
        pos += adv * scale
    if align == "right":
        x -= pos
    elif align == "center":
        x -= pos / 2
    return Text(x, baseline, text, face, size, color, tuple(offsets), pos, f.ascent * scale, f.descent * scale,
                within)


_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


# Chinese line breaking: these never start a line (they stay with the character before them)
_NO_LINE_START = set("，。、；：？！）》」』】〉…·・,.;:!?)%")


def _tokens(text: str) -> list[str]:
    """Pieces a line may break after: words with their trailing space or hyphen, single CJK characters."""
    out: list[str] = []
    for word in re.findall(r"[^\s-]*[\s-]*", text):
        if not word:
            continue
        pieces = list(word) if _CJK.search(word) else [word]
        for piece in pieces:
            if out and piece[0] in _NO_LINE_START and not out[-1].endswith(" "):
                out[-1] += piece
            else:
                out.append(piece)
    return out


def wrap(fonts: Fonts, text: str, face: str, size: float, width: float) -> list[str]:
    """`text` broken into lines no wider than `width` mm (a word wider than that is split)."""
    f = fonts[face]
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if f.width_mm((line + token).rstrip(), size) <= width:
            line += token
            continue
        if line:
            lines.append(line.rstrip())
            line = ""
        while token and f.width_mm(token.rstrip(), size) > width:  # a word wider than a line: split it
            cut = 1
            while cut < len(token) and f.width_mm(token[:cut + 1], size) <= width:
                cut += 1
            lines.append(token[:cut])
            token = token[cut:]
        line = token
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


@dataclass(frozen=True)
class Para:
    text: str
    size: float
    face: str = "regular"
    color: Color = (0, 0, 0)
    gap_after: float = 0.0  # extra space after the paragraph, mm


def fit_block(fonts: Fonts, paras: list[Para], box: Box, *, min_scale: float = 0.6, leading: float = 1.12,
              align: str = "left", valign: str = "top", max_lines: int | None = None,
              warn: list[str] | None = None, what: str = "text") -> list[Text]:
    """The paragraphs set top-down in `box`, shrunk (down to `min_scale`) and wrapped so that
    every line fits its width and the block its height. What still does not fit at the
    smallest size is cut with an ellipsis, and said in `warn`: nothing is drawn outside `box`."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    scale = 1.0
    while True:
        lines = []
        for p in paras:
            size = p.size * scale
            for i, line in enumerate(wrap(fonts, p.text, p.face, size, width)):
                lines.append((p, size, line, i))
        total = _block_height(fonts, lines, leading)
        too_many = max_lines is not None and len(lines) > max_lines
        if (total <= height + 1e-6 and not too_many) or scale <= min_scale + 1e-9:
            break
        scale = max(min_scale, scale - 0.04)
    if total > height + 1e-6 or too_many:
        lines = _cut(fonts, lines, height, leading, max_lines, width)
        if warn is not None:
            warn.append(f"{what} was too long for the card and is shortened")
    out, y = [], y0
    if valign == "bottom":
        y = y1 - _block_height(fonts, lines, leading)
    prev = None
    for p, size, line, _ in lines:
        y += fonts[p.face].ascent * size * PT_TO_MM if prev is None else _advance(fonts, prev, p, size, leading)
        x = {"left": x0, "center": (x0 + x1) / 2, "right": x1}[align]
        out.append(set_text(fonts, x, y, line, face=p.face, size=size, color=p.color, align=align))
        prev = (p, size)
    return out


def _advance(fonts: Fonts, prev: tuple, p: Para, size: float, leading: float) -> float:
    prev_p, prev_size = prev
    gap = prev_p.gap_after if prev_p is not p else 0.0
    return fonts[prev_p.face].descent * prev_size * PT_TO_MM + gap + (leading - 1.0) * size * PT_TO_MM \
        + fonts[p.face].ascent * size * PT_TO_MM


def _block_height(fonts: Fonts, lines: list, leading: float) -> float:
    if not lines:
        return 0.0
    p0, s0 = lines[0][0], lines[0][1]
    h = fonts[p0.face].ascent * s0 * PT_TO_MM
    for prev, cur in zip(lines, lines[1:]):
        h += _advance(fonts, (prev[0], prev[1]), cur[0], cur[1], leading)
    last_p, last_s = lines[-1][0], lines[-1][1]
    return h + fonts[last_p.face].descent * last_s * PT_TO_MM


def _cut(fonts: Fonts, lines: list, height: float, leading: float, max_lines: int | None, width: float) -> list:
    keep = list(lines)
    while len(keep) > 1 and (_block_height(fonts, keep, leading) > height + 1e-6
                             or (max_lines is not None and len(keep) > max_lines)):
        keep.pop()
    p, size, line, i = keep[-1]
    f = fonts[p.face]
    while line and f.width_mm(line + "…", size) > width:
        line = line[:-1]
    keep[-1] = (p, size, line.rstrip() + "…", i)
    return keep


def overlaps(a: Box, b: Box, tol: float = 1e-6) -> bool:
    return a[0] < b[2] - tol and b[0] < a[2] - tol and a[1] < b[3] - tol and b[1] < a[3] - tol


def inside(a: Box, outer: Box, tol: float = 1e-6) -> bool:
    return a[0] >= outer[0] - tol and a[1] >= outer[1] - tol and a[2] <= outer[2] + tol and a[3] <= outer[3] + tol


def layout_problems(scene: Scene, safe: float) -> list[str]:
    """Text outside the safe area (`safe` mm in from every edge), on a keep-out area, or on
    other text; an empty list when the layout is clean."""
    area = (safe, safe, scene.width - safe, scene.height - safe)
    texts = [t for t in scene.texts() if t.text.strip()]
    problems = [f"{t.text!r} runs outside the card's safe area" for t in texts if not inside(t.box, area)]
    for name, box in scene.keep_out.items():
        problems += [f"{t.text!r} overlaps the {name}" for t in texts if t.within != name and overlaps(t.box, box)]
    for i, a in enumerate(texts):
        problems += [f"{a.text!r} overlaps {b.text!r}" for b in texts[i + 1:] if overlaps(a.box, b.box)]
    return problems


def moved(item: Item, dx: float, dy: float) -> Item:
    """`item` shifted by (dx, dy) mm."""
    if isinstance(item, Polyline):
        return replace(item, points=tuple((x + dx, y + dy) for x, y in item.points))
    if isinstance(item, Text):
        return replace(item, x=item.x + dx, baseline=item.baseline + dy)
    return replace(item, x=item.x + dx, y=item.y + dy)
