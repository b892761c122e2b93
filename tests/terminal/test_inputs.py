"""QR inputs and bad input (issue 6 item 2, "Bad input"): image files and camera frames,
serial scanners, keyboard-wedge lines. Whatever comes in: a clear INVALID reason, never
an exception, never VALID."""

from __future__ import annotations

import io
import threading
import time

import pytest
import zxingcpp
from hypothesis import given, settings, strategies as st
from PIL import Image, ImageOps

from bench.camera import camera_frame, qr_image
from crypto import TrustStore
from firmware_tools.serial_scanner import SimulatedScanner
from terminal.inputs import MAX_LINE_BYTES, ScannerInput, WedgeInput, read_wedge_line, verify_image, verify_scan
from terminal.policy import load_policy
from terminal.verifier import Verifier
from tests.terminal.support import record


@pytest.fixture
def verifier(pki):
    store = TrustStore(pki.dev.root)
    store.update(pki.trust_list(1))
    return Verifier(load_policy("pharmacy"), lambda: store)


def barcode(text: str, fmt) -> Image.Image:
    raw = zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(text, fmt), scale=4)
    image = Image.frombuffer("L", (raw.shape[1], raw.shape[0]), bytes(memoryview(raw)), "raw", "L", 0, 1)
    return ImageOps.expand(image, 40, fill=255)


def codes(result) -> list[str]:
    return [r["code"] for r in result.reasons()]


def test_qr_image_and_camera_frame_are_valid_and_say_the_decoder(verifier, pki):
    text = pki.qr()
    result = verify_image(verifier, qr_image(text))
    assert result.outcome == "VALID" and result.source == "image, decoded by zxing-cpp"
    result = verify_image(verifier, camera_frame(text), "camera")
    assert result.outcome == "VALID" and result.source.startswith("camera, decoded by")
    assert result.shown["name"]["family_name"] == "MUELLER"


def test_pyzbar_reads_when_zxing_is_not_asked(pki):
    from terminal.qr_image import read_qr

    text = pki.qr()
    assert read_qr(camera_frame(text), ("pyzbar",)).decoder == "pyzbar"


BAD_IMAGES = {
    "noise": (lambda: Image.effect_noise((400, 300), 90).convert("RGB"), "QR_NOT_FOUND"),
    "blank": (lambda: Image.new("RGB", (640, 480), "white"), "QR_NOT_FOUND"),
    "ean13": (lambda: barcode("5901234123457", zxingcpp.BarcodeFormat.EAN13), "BARCODE_NOT_QR"),
    "code128": (lambda: barcode("SSC1:NOT-A-QR", zxingcpp.BarcodeFormat.Code128), "BARCODE_NOT_QR"),
    "datamatrix": (lambda: barcode("SSC1:ABC", zxingcpp.BarcodeFormat.DataMatrix), "BARCODE_NOT_QR"),
    "web link": (lambda: qrcode_any("https://example.com/pay?x=1"), "QR_PREFIX"),
    "eu dcc": (lambda: qrcode_any("HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH"), "QR_PREFIX"),
    "wifi": (lambda: qrcode_any("WIFI:S:counter;T:WPA;P:secret;;"), "QR_PREFIX"),
    "binary": (lambda: qrcode_any(bytes(range(256))), "QR_PREFIX"),
    "chinese text": (lambda: qrcode_any("社会保障卡"), "QR_PREFIX"),
    "two codes": (lambda: two_codes(), "QR_SEVERAL"),
}


def qrcode_any(data) -> Image.Image:
    import qrcode

    return qrcode.make(data).get_image().convert("RGB")


def two_codes() -> Image.Image:
    a, b = qrcode_any("SSC1:AAA"), qrcode_any("SSC1:BBB")
    both = Image.new("RGB", (a.width + b.width, max(a.height, b.height)), "white")
    both.paste(a, (0, 0))
    both.paste(b, (a.width, 0))
    return both


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_bad_images_are_invalid_with_a_reason(verifier, name):
    make, reason = BAD_IMAGES[name]
    result = verify_image(verifier, make())
    assert result.outcome == "INVALID" and reason in codes(result), result.to_public()
    assert result.shown == {}
    assert all(r["en"] and r["zh"] for r in result.reasons())


def test_unreadable_and_truncated_files(verifier, tmp_path, pki):
    bogus = tmp_path / "bogus.png"
    bogus.write_bytes(b"\x89PNG not really")
    assert codes(verify_image(verifier, bogus)) == ["IMAGE_UNREADABLE"]
    good = tmp_path / "good.png"
    qr_image(pki.qr()).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert verify_image(verifier, cut).outcome == "INVALID"
    assert codes(verify_image(verifier, tmp_path / "missing.png")) == ["IMAGE_UNREADABLE"]


def test_truncated_and_oversized_texts(verifier, pki):
    text = pki.qr()
    for cut in (len(text) - 1, len(text) - 2, len(text) // 2, 6, 5):
        result = verifier.verify_qr_text(text[:cut], "test")
        assert result.outcome == "INVALID", (cut, result.to_public())
    assert "QR_TOO_LONG" in codes(verifier.verify_qr_text("SSC1:" + "A" * 5000, "test"))
    assert "QR_EMPTY" in codes(verifier.verify_qr_text("", "test"))
    assert "QR_LOWERCASE" in codes(verifier.verify_qr_text(text.lower(), "test"))


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=600), st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:",
                                                 max_size=600).map(lambda s: "SSC1:" + s)))
def test_random_text_is_never_valid_and_never_raises(pki, text):
    store = TrustStore(pki.dev.root)
    store.update(pki.trust_list(1))
    result = Verifier(load_policy("bureau"), lambda: store).verify_qr_text(text, "fuzz")
    assert result.outcome == "INVALID"


def test_scanner_with_aim_identifier_refuses_other_symbologies(verifier, pki):
    assert codes(verify_scan(verifier, "5901234123457", "scanner", "]E0")) == ["BARCODE_NOT_QR"]
    assert verify_scan(verifier, pki.qr(), "scanner", "]Q1").outcome == "VALID"


def collect(verifier) -> tuple[list, threading.Event]:
    got, event = [], threading.Event()

    def listener(result):
        got.append(result)
        event.set()
    verifier.subscribe(listener)
    return got, event


def wait_for(got: list, n: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(got) >= n, got


def test_serial_scanner_on_a_pty(verifier, pki, tmp_path):
    got, _ = collect(verifier)
    with SimulatedScanner(terminator="CR", link=tmp_path / "scanner") as device:
        scanner = ScannerInput(verifier, device.device)
        scanner.start()
        try:
            deadline = time.monotonic() + 5
            while scanner.state != "connected" and time.monotonic() < deadline:
                time.sleep(0.02)
            device.scan(pki.qr(), chunk=64, delay=0.001)  # a slow 9600 bit/s line delivers in pieces
            device.scan("5901234123457")
            device.scan(b"\xff\xfe\xfd")
            device.write(b"SSC1:" + b"A" * (MAX_LINE_BYTES + 100) + b"\r")
            wait_for(got, 4)
        finally:
            scanner.stop()
            scanner.join(5)
    outcomes = [(r.outcome, codes(r)) for r in got]
    assert outcomes[0] == ("VALID", []) and got[0].source.startswith("serial scanner")
    assert outcomes[1] == ("INVALID", ["QR_PREFIX"])
    assert outcomes[2] == ("INVALID", ["SCAN_UNDECODABLE"])
    assert outcomes[3] == ("INVALID", ["SCAN_OVERSIZE"])


def test_keyboard_wedge_lines(verifier, pki):
    revoked_text = pki.qr(record(serial=7))
    lines = (pki.qr() + "\r\n" + "\n" + "not a code\n" + "SSC1:" + "B" * (MAX_LINE_BYTES + 10) + "\n"
             + revoked_text + "\n").encode() + b"\xc3\x28\n"
    got, _ = collect(verifier)
    wedge = WedgeInput(verifier, io.BytesIO(lines))
    wedge.start()
    wedge.join(10)
    assert [r.outcome for r in got] == ["VALID", "INVALID", "INVALID", "VALID", "INVALID"]
    assert codes(got[1]) == ["QR_PREFIX"] and codes(got[2]) == ["SCAN_OVERSIZE"]
    assert codes(got[4]) == ["SCAN_UNDECODABLE"]


def test_read_wedge_line_end_of_input():
    assert read_wedge_line(io.BytesIO(b"")) == (None, None, True)
