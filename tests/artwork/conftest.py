"""Fixtures of the artwork tests: a development PKI made once, signed QR texts of the sample
records, a generated photo, and the sample cards rendered once per session."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image, ImageDraw

from crypto import parse_credential, samples
from crypto.credential import qr_text_for
from crypto.pki import DevelopmentPki
from issuer.artwork import render_card


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> DevelopmentPki:
    return DevelopmentPki.create(tmp_path_factory.mktemp("artwork-pki"), b"artwork-test-passphrase")


@pytest.fixture(scope="session")
def sign(pki):
    """The QR text of a credential; the same text for the same credential (ECDSA signatures are
    randomised, so each credential is signed once)."""
    texts: dict = {}

    def qr_text(credential) -> str:
        key = repr(credential)
        if key not in texts:
            texts[key] = qr_text_for(credential, pki.issuer, iat=samples.SAMPLE_IAT)
        return texts[key]
    return qr_text


def _make_photo(fmt: str = "JPEG", size=(480, 640), mode: str = "RGB") -> bytes:
    image = Image.new(mode, size, (196, 212, 228, 0) if mode == "RGBA" else (196, 212, 228))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.3, h * 0.18, w * 0.7, h * 0.55), fill=(222, 184, 158))
    draw.ellipse((w * 0.1, h * 0.6, w * 0.9, h * 1.3), fill=(40, 60, 92))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="session")
def make_photo():
    """make_photo(fmt="JPEG", size=(480, 640), mode="RGB") -> the bytes of a generated portrait."""
    return _make_photo


@pytest.fixture(scope="session")
def photo() -> bytes:
    return _make_photo()


def _with_photo(record: dict, photo: bytes):
    record["holder"]["photo_digest"] = hashlib.sha256(photo).digest()
    return parse_credential(record)


@pytest.fixture(scope="session")
def with_photo():
    """with_photo(record, photo) -> the record's credential, its photo digest that of `photo`."""
    return _with_photo


@pytest.fixture(scope="session")
def typical(photo):
    return _with_photo(samples.typical_record(), photo)


@pytest.fixture(scope="session")
def long_credential():
    return samples.long()


@pytest.fixture(scope="session")
def typical_art(typical, sign, photo):
    return render_card(typical, sign(typical), photo)


@pytest.fixture(scope="session")
def long_art(long_credential, sign):
    return render_card(long_credential, sign(long_credential))  # no photo: the placeholder
