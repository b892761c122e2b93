"""The card's two faces as Scenes: what goes where on an ID-1 card (ISO/IEC 7810, 85.60 x
53.98 mm). The chip's contacts sit on the front at the place ISO/IEC 7816-2 gives them; the
artwork leaves that area unprinted. The QR code is on the back."""

from __future__ import annotations

import math

from crypto.schema import Credential, PermitCategory, Sex
from issuer.artwork.fonts import Fonts
from issuer.artwork.scene import (Gradient, Para, Picture, Polyline, QrSymbol, Rect, Scene,
                                  fit_block, set_text)

CARD_W, CARD_H = 85.60, 53.98
SAFE = 2.0                       # no text closer to the edge (printer registration, edge finish)
CHIP = (8.6, 17.4, 22.2, 30.6)   # ISO/IEC 7816-2 contact area (10.25..19.87 x 19.23..28.55) + module + 1 mm
PHOTO = (62.6, 15.2, 81.6, 40.53)  # 19 x 25.33 mm, 3:4

NAVY, BLUE, SKY = (11, 45, 99), (25, 88, 168), (232, 239, 249)
GOLD, INK, GREY = (196, 154, 44), (18, 22, 30), (88, 99, 116)
PAPER, LINE = (250, 251, 254), (208, 220, 238)
LABEL_PT = 3.7
LABEL_H = LABEL_PT * 25.4 / 72 + 0.01  # one line of label text, mm

TITLE_ZH = "中华人民共和国社会保障卡"
TITLE_EN = "SOCIAL SECURITY CARD OF THE PEOPLE'S REPUBLIC OF CHINA"
PERMIT_ZH, PERMIT_EN = "外国人工作许可", "FOREIGNER'S WORK PERMIT"
LABELS = {
    "name": ("姓名", "Name"), "nationality": ("国籍", "Nationality"), "birth": ("出生日期", "Date of birth"),
    "sex": ("性别", "Sex"), "ssn": ("社会保障号码", "Social security number"), "card": ("卡号", "Card number"),
    "category": ("工作许可类别", "Permit category"), "valid": ("有效期至", "Valid until"),
    "centre": ("发卡机构", "Issuing centre"), "permit_no": ("工作许可证号", "Work permit number"),
    "employer": ("工作单位", "Employer"), "position": ("职位", "Position"),
    "issued": ("发卡日期", "Date of issue"), "expiry": ("卡有效期至", "Card valid until"),
}
SEX = {Sex.MALE: "男 M", Sex.FEMALE: "女 F", Sex.NOT_KNOWN: "未说明 X", Sex.NOT_APPLICABLE: "未说明 X"}
CATEGORY = {PermitCategory.A: "A类 · 高端人才 High-end talent", PermitCategory.B: "B类 · 专业人才 Professional",
            PermitCategory.C: "C类 · 其他人员 Other"}
NOTICE = ("本卡为持卡人的社会保障卡及外国人工作许可凭证，仅限本人使用。拾到者请交当地人力资源和社会保障部门。"
          "This card is the holder's social security card and Foreigner's Work Permit, for the holder's use "
          "only. If found, please hand it to a human resources and social security bureau. 服务热线 Hotline 12333")


def label(key: str) -> str:
    zh, en = LABELS[key]
    return f"{zh} {en}"


def _field(fonts: Fonts, scene: Scene, key: str, value: str, box, *, size: float = 6.4, face: str = "bold",
           lines: int = 1) -> float:
    """A bilingual label with its value underneath, each fitted into `box`; the bottom of the value."""
    x0, y0, x1, y1 = box
    lab = fit_block(fonts, [Para(label(key), LABEL_PT, color=GREY)], (x0, y0, x1, y0 + LABEL_H), max_lines=1,
                    min_scale=0.7, warn=scene.warnings, what=f"the label {LABELS[key][1]}")
    top = lab[-1].box[3] + 0.3
    val = fit_block(fonts, [Para(value, size, face, INK)], (x0, top, x1, y1), max_lines=lines, min_scale=0.62,
                    warn=scene.warnings, what=LABELS[key][1])
    scene.add(*lab, *val)
    return val[-1].box[3]


def _waves(scene: Scene, x0: float, y0: float, x1: float, y1: float, count: int, amp: float, period: float,
           phase: float = 0.0) -> None:
    """The fine wavy lines of a security background."""
    for k in range(count):
        y = y0 + (y1 - y0) * (k + 0.5) / count
        pts = []
        steps = 120
        for s in range(steps + 1):
            x = x0 + (x1 - x0) * s / steps
            pts.append((x, y + amp * math.sin(2 * math.pi * x / period + phase + k * 0.55)))
        scene.add(Polyline(tuple(pts), LINE, 0.12))


def _rosette(scene: Scene, cx: float, cy: float, r: float, petals: int = 14) -> None:
    for k in range(6):
        rr = r * (1 - k * 0.12)
        pts = []
        for s in range(361):
            t = math.radians(s)
            rad = rr * (0.82 + 0.18 * math.cos(petals * t + k))
            pts.append((cx + rad * math.cos(t), cy + rad * math.sin(t)))
        scene.add(Polyline(tuple(pts), LINE, 0.12))


def _background(scene: Scene, header: float) -> None:
    scene.add(Rect(0, 0, CARD_W, CARD_H, fill=PAPER))
    _waves(scene, 0, header + 1, CARD_W, CARD_H, 11, 1.1, 23.0)
    _rosette(scene, 44.0, 37.0, 13.0)
    scene.add(Gradient(0, 0, CARD_W, header, NAVY, BLUE))
    scene.add(Rect(0, header, CARD_W, 0.55, fill=GOLD))


def _header(fonts: Fonts, scene: Scene) -> None:
    scene.add(*fit_block(fonts, [Para(TITLE_ZH, 9.6, "bold", (255, 255, 255), gap_after=0.3),
                                 Para(TITLE_EN, 4.3, "regular", (222, 232, 247))],
                         (4.0, 2.3, 58.5, 10.6), warn=scene.warnings, what="title"))
    scene.add(Rect(60.8, 2.4, 20.8, 7.4, fill=None, stroke=GOLD, stroke_mm=0.3, radius=1.2))
    scene.add(*fit_block(fonts, [Para(PERMIT_ZH, 6.6, "bold", (247, 214, 120), gap_after=0.2),
                                 Para(PERMIT_EN, 3.5, "regular", (247, 225, 160))],
                         (61.4, 3.2, 81.0, 9.4), align="center", warn=scene.warnings, what="permit title"))


def front(fonts: Fonts, cred: Credential, photo: Picture, placeholder: bool) -> Scene:
    scene = Scene(CARD_W, CARD_H)
    _background(scene, 11.6)
    _header(fonts, scene)
    scene.keep_out["chip"] = CHIP
    scene.keep_out["photo"] = PHOTO
    # the chip area stays unprinted (white): the contacts are there
    scene.add(Rect(CHIP[0], CHIP[1], CHIP[2] - CHIP[0], CHIP[3] - CHIP[1], fill=(255, 255, 255), radius=1.6))
    px0, py0, px1, py1 = PHOTO
    scene.add(Rect(px0 - 0.45, py0 - 0.45, px1 - px0 + 0.9, py1 - py0 + 0.9, fill=(255, 255, 255),
                   stroke=LINE, stroke_mm=0.15))
    scene.add(photo)
    if placeholder:
        cx = (px0 + px1) / 2
        scene.add(set_text(fonts, cx, py1 - 3.2, "无照片", face="bold", size=5.5, color=GREY, align="center",
                           within="photo"),
                  set_text(fonts, cx, py1 - 1.2, "NO PHOTO", size=4.2, color=GREY, align="center", within="photo"))
    h = cred.holder
    names = [Para(h.family_name, 8.2, "bold", INK, gap_after=0.25)]
    if h.given_names:
        names.append(Para(h.given_names, 7.0, "regular", INK, gap_after=0.25))
    if h.chinese_name:
        names.append(Para(h.chinese_name, 7.6, "bold", INK))
    name_label = set_text(fonts, 25.0, 13.6 + LABEL_H * 0.88, label("name"), size=LABEL_PT, color=GREY)
    scene.add(name_label, *fit_block(fonts, names, (25.0, name_label.box[3] + 0.4, 60.6, 27.6), min_scale=0.55,
                                     warn=scene.warnings, what="the name"))
    _field(fonts, scene, "birth", h.birth_date.isoformat(), (25.0, 28.4, 43.0, 33.6))
    _field(fonts, scene, "sex", SEX[h.sex], (44.0, 28.4, 60.6, 33.6))
    _field(fonts, scene, "nationality", h.nationality, (SAFE + 2.0, 32.2, 23.0, 37.4))
    _field(fonts, scene, "ssn", cred.identifiers.social_security_number, (25.0, 34.6, 60.6, 39.8))
    _field(fonts, scene, "card", cred.card.card_number, (SAFE + 2.0, 38.6, 23.0, 43.8), size=6.0)
    # the work permit line along the bottom
    scene.add(Rect(0, 44.6, CARD_W, 0.25, fill=LINE))
    _field(fonts, scene, "category", CATEGORY[cred.permit.category], (4.0, 45.8, 40.0, 51.4), size=5.8)
    _field(fonts, scene, "valid", cred.permit.valid_until.isoformat(), (41.5, 45.8, 62.0, 51.4))
    _field(fonts, scene, "centre", cred.card.issuing_centre, (63.0, 45.8, 81.6, 51.4))
    return scene


def back(fonts: Fonts, cred: Credential, qr: QrSymbol) -> Scene:
    scene = Scene(CARD_W, CARD_H)
    scene.add(Rect(0, 0, CARD_W, CARD_H, fill=PAPER))
    _waves(scene, 0, 0, CARD_W, CARD_H, 13, 1.1, 23.0, phase=1.3)
    qr_box = (qr.x, qr.y, qr.x + qr.size, qr.y + qr.size)
    scene.keep_out["QR code"] = qr_box
    scene.add(Rect(qr.x - 0.3, qr.y - 0.3, qr.size + 0.6, qr.size + 0.6, fill=(255, 255, 255), stroke=LINE,
                   stroke_mm=0.15))
    scene.add(qr)
    x0, x1 = 4.0, qr.x - 2.6
    scene.add(Gradient(0, 0, x1 + 1.2, 8.6, NAVY, BLUE), Rect(0, 8.6, x1 + 1.2, 0.45, fill=GOLD))
    scene.add(*fit_block(fonts, [Para(PERMIT_ZH, 7.0, "bold", (255, 255, 255), gap_after=0.2),
                                 Para(PERMIT_EN, 3.9, "regular", (222, 232, 247))],
                         (x0, 2.1, x1, 8.0), warn=scene.warnings, what="permit title"))
    notice = fit_block(fonts, [Para(NOTICE, 3.5, "regular", GREY)], (x0, 36.0, x1, CARD_H - SAFE - 0.4),
                       leading=1.08, min_scale=0.75, valign="bottom", warn=scene.warnings, what="the notice")
    limit = notice[0].box[1] - 1.4
    scene.add(Rect(x0, limit + 0.5, x1 - x0, 0.2, fill=LINE), *notice)
    trial = Scene(CARD_W, CARD_H)
    spare = limit - _back_fields(fonts, trial, cred, x0, x1, limit, 1.0)
    _back_fields(fonts, scene, cred, x0, x1, limit, 1.0 + min(2.4, max(0.0, spare) / 4))
    return scene


def _back_fields(fonts: Fonts, scene: Scene, cred: Credential, x0: float, x1: float, limit: float,
                 gap: float) -> float:
    """The back's fields stacked from the top, `gap` mm apart; the bottom of the last."""
    p, c = cred.permit, cred.card
    y = 10.4 + gap / 2
    for key, value, size, face, lines, height in (
            ("permit_no", cred.identifiers.work_permit_number, 6.2, "bold", 1, 5.0),
            ("employer", p.employer.name, 5.8, "regular", 2, 7.4),
            ("position", p.position, 5.8, "regular", 2, 7.4)):
        y = _field(fonts, scene, key, value, (x0, y, x1, min(y + height, limit - 4.6)), size=size, face=face,
                   lines=lines) + gap
    half = (x0 + x1) / 2
    issued = c.issue_date.isoformat() if c.issue_date else "—"
    bottom = _field(fonts, scene, "issued", issued, (x0, y, half - 0.8, limit), size=5.8)
    return max(bottom, _field(fonts, scene, "expiry", c.expiry_date.isoformat(), (half + 0.8, y, x1, limit),
                              size=5.8))
