"""A realistic camera frame for the QR decoders: 1280x720, a counter scene with clutter
(shapes, printed text lines, a barcode-like stripe pattern, sensor noise), the QR code
held a little rotated and not filling the frame, slightly out of focus.

Deterministic for a seed, so benchmarks and tests decode the same picture.
"""

from __future__ import annotations

import random

import qrcode
import qrcode.util
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 1280, 720


def qr_image(text: str, *, box_size: int = 4, border: int = 4) -> Image.Image:
    """The QR code as printed: alphanumeric mode, level Q."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=box_size, border=border)
    code.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def camera_frame(text: str, *, seed: int = 7, qr_width: int = 330, angle: float = 8.0,
                 blur: float = 0.8, noise: int = 10) -> Image.Image:
    rng = random.Random(seed)
    frame = Image.new("L", (WIDTH, HEIGHT), 150)
    draw = ImageDraw.Draw(frame)
    for _ in range(40):  # furniture, papers, a hand: light and dark blocks
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        w, h = rng.randrange(40, 300), rng.randrange(30, 200)
        shade = rng.randrange(40, 230)
        if rng.random() < 0.5:
            draw.rectangle((x, y, x + w, y + h), fill=shade)
        else:
            draw.ellipse((x, y, x + w, y + h), fill=shade)
    for _ in range(25):  # printed text lines
        x, y = rng.randrange(WIDTH - 200), rng.randrange(HEIGHT)
        draw.text((x, y), "Social Security Card  SHEHUI BAOZHANG KA  No. M31A00042"[: rng.randrange(10, 40)], fill=20)
    for i in range(60):  # a stripe pattern (a box's barcode at the edge of the view)
        if rng.random() < 0.5:
            draw.rectangle((40 + i * 3, 600, 41 + i * 3, 690), fill=10)
    code = qr_image(text)
    scale = qr_width / code.width
    code = code.resize((qr_width, round(code.height * scale)), Image.Resampling.NEAREST)
    card = Image.new("L", (code.width + 40, code.height + 60), 245)  # the card around the code
    card.paste(code, (20, 20))
    card = card.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=150)
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).polygon(_rotated_box(card.size, code.width + 40, code.height + 60, angle), fill=255)
    frame.paste(card, (WIDTH // 2 - card.width // 2 + 120, HEIGHT // 2 - card.height // 2), mask)
    frame = frame.filter(ImageFilter.GaussianBlur(blur))
    noisy = Image.effect_noise((WIDTH, HEIGHT), noise)
    return Image.blend(frame, noisy, 0.12).convert("RGB")


def _rotated_box(size: tuple[int, int], w: int, h: int, angle: float) -> list[tuple[float, float]]:
    import math

    cx, cy = size[0] / 2, size[1] / 2
    a = math.radians(-angle)
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [(cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a)) for x, y in corners]
