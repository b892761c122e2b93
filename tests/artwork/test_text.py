"""Text on the card: Chinese is really drawn (not boxes for missing glyphs), long names fit
inside the card, nothing runs onto the chip, the photo or the QR code."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from crypto import parse_credential, samples
from issuer.artwork import ArtworkError, FontMissing, render_card
from issuer.artwork import fonts as fonts_module
from issuer.artwork import raster
from issuer.artwork.fonts import FAMILY, load_fonts, locate
from issuer.artwork.layout import CARD_H, CARD_W, CHIP, PHOTO, SAFE
from issuer.artwork.scene import Scene, fit_block, inside, layout_problems, overlaps, Para, wrap

MISSING = "\ue000"  # a private-use code point: no font has a glyph for it, so .notdef (a box) is drawn
PX = 300 / 25.4


def test_the_font_is_noto_sans_cjk_sc():
    fonts = load_fonts()
    for face in (fonts.regular, fonts.bold):
        assert face._tt["name"].getDebugName(1) == FAMILY
        assert face.missing("中华人民共和国社会保障卡 外国人工作许可 姓名 Name") == []
        assert face.missing(MISSING) == [MISSING]


def crop(image_bytes: bytes, box) -> np.ndarray:
    image = Image.open(io.BytesIO(image_bytes)).convert("L")
    return np.asarray(image.crop([round(v * PX) for v in box]), dtype=int)


def _with_missing_glyphs(scene: Scene) -> Scene:
    """The same scene with every Chinese character replaced by a character the font lacks."""
    def swap(text: str) -> str:
        return "".join(MISSING if "\u3400" <= ch <= "\u9fff" else ch for ch in text)
    items = [dataclasses.replace(i, text=swap(i.text)) if hasattr(i, "offsets") else i for i in scene.items]
    return Scene(scene.width, scene.height, items)


@pytest.mark.parametrize("label", ["中华人民共和国社会保障卡", "姓名 Name", "社会保障号码 Social security number",
                                   "工作许可类别 Permit category"])
def test_chinese_glyphs_are_drawn_not_boxes(typical_art, label):
    fonts = load_fonts()
    text = next(t for t in typical_art.front.texts() if t.text == label)
    zh = "".join(ch for ch in text.text if ch >= "\u3400")
    box = (text.x, text.box[1], text.x + fonts[text.face].width_mm(zh, text.size_pt), text.box[3])
    drawn = crop(typical_art.front_png, box)
    tofu = crop(raster.png_bytes(raster.render(_with_missing_glyphs(typical_art.front), fonts)), box)
    background = crop(raster.png_bytes(raster.render(
        Scene(CARD_W, CARD_H, [i for i in typical_art.front.items if i is not text]), fonts)), box)
    ink = np.abs(drawn - background)
    assert (ink > 96).mean() > 0.05, "the label region is blank"
    assert np.abs(drawn - tofu).mean() > 8, "the label looks like the boxes of missing glyphs"
    # every Chinese character's own glyph differs from the missing-glyph box
    font = fonts[text.face].pil(40)
    notdef = np.asarray(font.getmask(MISSING), dtype=int)
    for ch in zh:
        glyph = np.asarray(font.getmask(ch), dtype=int)
        assert glyph.shape != notdef.shape or np.abs(glyph - notdef).mean() > 10, ch


def test_a_character_the_font_lacks_is_refused(sign):
    record = samples.typical_record()
    record["permit"]["position"] = "Engineer " + MISSING  # the schema allows any text in the position
    credential = parse_credential(record)
    with pytest.raises(ArtworkError, match=r"no glyph for .*U\+E000.*the back cannot be printed"):
        render_card(credential, sign(credential))


def test_font_missing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("SSC_ARTWORK_FONT_DIR", str(tmp_path))
    with pytest.raises(FontMissing, match="fonts-noto-cjk"):
        locate("regular")
    monkeypatch.delenv("SSC_ARTWORK_FONT_DIR")
    monkeypatch.setattr(fonts_module, "_fc_match", lambda weight: None)
    monkeypatch.setattr(fonts_module, "FONT_DIR", tmp_path)
    with pytest.raises(FontMissing, match="make deps"):
        locate("bold")


def test_fc_match_finds_the_installed_font():
    found = locate("bold")
    assert found.path.is_file() and "Bold" in found.path.name


def check_card_text(scene: Scene, front: bool) -> None:
    assert layout_problems(scene, SAFE) == []
    card = (0, 0, CARD_W, CARD_H)
    for t in scene.texts():
        assert inside(t.box, card), t.text
        if front:
            assert not overlaps(t.box, CHIP), t.text
            assert t.within == "photo" or not overlaps(t.box, PHOTO), t.text


def test_long_names_fit_without_overflowing(long_art, long_credential):
    check_card_text(long_art.front, True)
    check_card_text(long_art.back, False)
    assert long_art.warnings == ()  # nothing had to be shortened
    front = " ".join(t.text for t in long_art.front.texts())
    for part in ("MONTGOMERY-", "WHITFIELD DE LA CRUZ", "ALEXANDRA CHRISTINE MARIE", "蒙哥马利·亚历山德拉"):
        assert part in front
    back = "".join(t.text for t in long_art.back.texts())
    assert long_credential.permit.employer.name in back  # wrapped over two lines, complete
    names = [t for t in long_art.front.texts() if 13 < t.box[1] < 28 and 25 <= t.x < PHOTO[0]]
    assert len(names) == 5 and all(t.box[2] <= PHOTO[0] for t in names)


def test_the_largest_values_the_schema_allows_still_lay_out(sign):
    record = samples.long_record()
    record["holder"]["family_name"] = "W" * 30 + " " + "M" * 33          # 64 wide letters
    record["holder"]["given_names"] = " ".join(["MAXIMILIAN"] * 5) + " ABCDEFGHI"  # 64
    record["holder"]["chinese_name"] = "蒙" * 32
    record["permit"]["employer"]["name"] = "上海" * 50                   # 100 characters
    record["permit"]["position"] = "W" * 64
    credential = parse_credential(record)
    # its own QR claim set would be version 29: more than a card's back holds (tested in test_card)
    with pytest.raises(ArtworkError, match="version 29-Q.*too large for a printed card"):
        render_card(credential, sign(credential))
    art = render_card(credential, sign(samples.typical()), check_qr=False)
    check_card_text(art.front, True)
    check_card_text(art.back, False)
    assert any("shortened" in w for w in art.warnings)  # said, not silently cut
    assert Image.open(io.BytesIO(art.front_png)).size == (1011, 638)


def test_wrap_keeps_chinese_punctuation_off_the_start_of_a_line():
    fonts = load_fonts()
    text = "本卡为持卡人的社会保障卡及外国人工作许可凭证，仅限本人使用。拾到者请交当地部门。"
    for width in (10.0, 12.3, 15.0, 21.7):
        lines = wrap(fonts, text, "regular", 6, width)
        assert "".join(lines) == text
        assert not any(line[0] in "，。" for line in lines)
        assert all(fonts.regular.width_mm(line, 6) <= width + 1e-6 for line in lines)


def test_wrap_splits_a_word_wider_than_the_line():
    fonts = load_fonts()
    lines = wrap(fonts, "A" * 60, "bold", 8, 20.0)
    assert "".join(lines) == "A" * 60 and len(lines) > 1
    assert all(fonts.bold.width_mm(line, 8) <= 20.0 for line in lines)


def test_fit_block_shrinks_then_cuts_with_an_ellipsis_and_a_warning():
    fonts = load_fonts()
    warnings: list[str] = []
    box = (0.0, 0.0, 20.0, 4.0)
    texts = fit_block(fonts, [Para("WORD " * 40, 6)], box, max_lines=2, warn=warnings, what="the test")
    assert len(texts) <= 2 and texts[-1].text.endswith("…")
    assert all(inside(t.box, box) for t in texts)
    assert warnings == ["the test was too long for the card and is shortened"]
    short = fit_block(fonts, [Para("SHORT", 6)], box, warn=warnings)
    assert short[0].size_pt == 6 and len(warnings) == 1
