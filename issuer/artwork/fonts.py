"""The font of the card: Noto Sans CJK SC (Debian fonts-noto-cjk), Regular and Bold.

One face renders both the Chinese and the Latin text. Widths come from the font's own
advance table (fontTools), so that the PNG and the PDF lay out the same text at exactly
the same positions; Pillow (FreeType) draws the glyphs of the PNG, and the PDF gets each
glyph's outline as a vector path (text converted to outlines, as prepress expects: the
PDF carries no font a printer's RIP could lack or substitute).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fontTools.pens.recordingPen import RecordingPen
from fontTools.ttLib import TTCollection, TTFont
from PIL import ImageFont

from issuer.artwork.errors import FontMissing

FAMILY = "Noto Sans CJK SC"
FONT_DIR = Path("/usr/share/fonts/opentype/noto")
FALLBACK_FILES = {"regular": "NotoSansCJK-Regular.ttc", "bold": "NotoSansCJK-Bold.ttc"}
FC_STYLE = {"regular": "", "bold": ":bold"}
INSTALL_HINT = ("run `make deps` (it installs the Debian package fonts-noto-cjk), or "
                "`apt-get install fonts-noto-cjk`; SSC_ARTWORK_FONT_DIR may point at another folder "
                "holding NotoSansCJK-Regular.ttc and NotoSansCJK-Bold.ttc")


@dataclass(frozen=True)
class FontFile:
    path: Path
    index: int


def _family_index(path: Path) -> int | None:
    """The index of FAMILY inside the font collection at `path`."""
    try:
        fonts = TTCollection(str(path), lazy=True).fonts if path.suffix.lower() in (".ttc", ".otc") \
            else [TTFont(str(path), lazy=True)]
    except Exception:  # an unreadable file is no candidate
        return None
    for i, font in enumerate(fonts):
        if font["name"].getDebugName(1) == FAMILY:
            return i
    return None


def _fc_match(weight: str) -> FontFile | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{family}\n%{file}\n%{index}", FAMILY + FC_STYLE[weight]],
                             capture_output=True, text=True, timeout=20, check=True).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    # fc-match always answers something: a DejaVu answer means the CJK font is not installed
    if len(out) < 3 or FAMILY not in out[0].split(",") or not out[2].strip().isdigit():
        return None
    path = Path(out[1])
    return FontFile(path, int(out[2])) if path.is_file() else None


def locate(weight: str) -> FontFile:
    """Where the `weight` ("regular" or "bold") face is; FontMissing with the fix if nowhere."""
    folder = os.environ.get("SSC_ARTWORK_FONT_DIR")
    candidates = [Path(folder)] if folder else []
    if not folder:
        found = _fc_match(weight)
        if found is not None:
            return found
        candidates.append(FONT_DIR)
    for base in candidates:
        path = base / FALLBACK_FILES[weight]
        if path.is_file():
            index = _family_index(path)
            if index is not None:
                return FontFile(path, index)
    raise FontMissing(f"the font {FAMILY} ({weight}) that renders the card's Chinese text is not installed: "
                      + INSTALL_HINT)


class Face:
    """One weight of the card font: metrics, glyph outlines, Pillow fonts."""

    def __init__(self, name: str, file: FontFile):
        self.name = name
        self.file = file
        self._tt = TTFont(str(file.path), fontNumber=file.index, lazy=True)
        self.cmap = self._tt.getBestCmap()
        self.units = self._tt["head"].unitsPerEm
        os2 = self._tt["OS/2"]
        self.ascent = os2.sTypoAscender / self.units      # in em
        self.descent = -os2.sTypoDescender / self.units   # in em, positive
        self._hmtx = self._tt["hmtx"]
        self._glyphs = self._tt.getGlyphSet()

    def missing(self, text: str) -> list[str]:
        """The characters of `text` this face has no glyph for."""
        return sorted({ch for ch in text if ord(ch) not in self.cmap and ch not in "\n"})

    def advance(self, ch: str) -> float:
        """The advance width of `ch` in em."""
        name = self.cmap.get(ord(ch), ".notdef")
        return self._hmtx[name][0] / self.units

    def advances(self, text: str) -> list[float]:
        return [self.advance(ch) for ch in text]

    def width_mm(self, text: str, size_pt: float) -> float:
        return sum(self.advances(text)) * size_pt * 25.4 / 72

    @functools.lru_cache(maxsize=4096)
    def outline(self, ch: str) -> tuple:
        """The glyph of `ch` as pen operations, in font units (y up)."""
        pen = RecordingPen()
        self._glyphs[self.cmap.get(ord(ch), ".notdef")].draw(pen)
        return tuple(pen.value)

    @functools.lru_cache(maxsize=256)
    def pil(self, size_px: float) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(str(self.file.path), size=size_px, index=self.file.index,
                                  layout_engine=ImageFont.Layout.BASIC)


@dataclass(frozen=True)
class Fonts:
    regular: Face
    bold: Face

    def __getitem__(self, name: str) -> Face:
        return self.bold if name == "bold" else self.regular


@functools.lru_cache(maxsize=1)
def load_fonts() -> Fonts:
    """The card's two faces (cached): FontMissing says how to install them."""
    return Fonts(Face("regular", locate("regular")), Face("bold", locate("bold")))
