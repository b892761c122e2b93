"""Base45 (RFC 9285) and the SSC1 QR text (docs/spec.md §5)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from crypto import base45
from crypto.errors import QrTextError
from crypto.qrtext import MAX_TEXT_LENGTH, PREFIX, decode_qr_text, encode_qr_text
from crypto.reasons import Reason

# RFC 9285 §4.3 examples.
RFC_VECTORS = [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0")]


@pytest.mark.parametrize("raw,text", RFC_VECTORS)
def test_rfc9285_examples(raw, text):
    assert base45.encode(raw) == text
    assert base45.decode(text) == raw


@given(st.binary(max_size=600))
def test_base45_round_trip(data):
    assert base45.decode(base45.encode(data)) == data


@pytest.mark.parametrize("text,reason", [
    ("GGW", Reason.BASE45_VALUE),      # 65536: one above the largest 3-character group
    ("ZZ", Reason.BASE45_VALUE),       # 2024: a 2-character group above 255
    ("A", Reason.BASE45_LENGTH),
    ("ABCD", Reason.BASE45_LENGTH),
    ("AB_", Reason.QR_CHARACTER),
    ("AB\u00e9", Reason.QR_CHARACTER),
])
def test_base45_rejections(text, reason):
    with pytest.raises(QrTextError) as err:
        base45.decode(text)
    assert err.value.reason is reason


def test_every_group_value_up_to_the_limit():
    for n in (0, 1, 44, 45, 2024, 2025, 65535):
        data = n.to_bytes(2, "big")
        assert base45.decode(base45.encode(data)) == data


GOOD = encode_qr_text(b"\xd2\x84\x43\xa1\x01\x26\xa0\x41\x00\x40")


@pytest.mark.parametrize("suffix", ["\r", "\n", "\r\n"])
def test_scanner_terminator_is_stripped(suffix):
    assert decode_qr_text(GOOD + suffix) == decode_qr_text(GOOD)


@pytest.mark.parametrize("text,reason,fragment", [
    ("", Reason.QR_EMPTY, "empty"),
    ("\r\n", Reason.QR_EMPTY, "empty"),
    ("SSC1:", Reason.QR_EMPTY, "no content"),
    (GOOD.lower(), Reason.QR_LOWERCASE, "lowercase"),
    (GOOD[:9] + GOOD[9:].lower(), Reason.QR_LOWERCASE, "caps-lock"),
    (GOOD[:8] + "\t" + GOOD[8:], Reason.QR_WHITESPACE, "position 8"),
    (GOOD[:8] + "\n" + GOOD[8:], Reason.QR_WHITESPACE, "whitespace"),
    ("HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC", Reason.QR_PREFIX, "EU Digital COVID"),
    ("WIFI:S:cafe;T:WPA;P:secret;;", Reason.QR_PREFIX, "Wi-Fi"),
    ("SSC2:ABCDEF", Reason.QR_PREFIX, "'SSC2'"),
    ("https://example.org/card", Reason.QR_PREFIX, "web link"),
    ("12345678901234", Reason.QR_PREFIX, "does not start with SSC1"),
    ("SSC1:" + "0" * (MAX_TEXT_LENGTH), Reason.QR_TOO_LONG, "no QR code holds"),
    ("SSC1:AB\u00e9", Reason.QR_CHARACTER, "non-ASCII"),
])
def test_rejections_say_why(text, reason, fragment):
    with pytest.raises(QrTextError) as err:
        decode_qr_text(text)
    assert err.value.reason is reason
    assert fragment in err.value.message


def test_not_text_is_rejected():
    with pytest.raises(QrTextError):
        decode_qr_text(b"SSC1:ABC")  # type: ignore[arg-type]


def test_prefix_and_alphabet():
    text = encode_qr_text(bytes(range(256)))
    assert text.startswith(PREFIX)
    assert set(text[len(PREFIX):]) <= set(base45.ALPHABET)
