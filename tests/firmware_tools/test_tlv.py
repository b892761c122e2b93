"""BER-TLV (ISO/IEC 7816-4:2005 §5.2.2). The `_test_vectors` tables run in test_apdu.py."""

import pytest
from hypothesis import given, strategies as st

from firmware_tools.iso7816 import tlv
from firmware_tools.iso7816.tlv import Tlv, TlvError, TlvTagError, TlvTruncatedError


def tags():
    one = st.integers(0x01, 0xFE).filter(lambda b: b & 0x1F != 0x1F)
    two = st.tuples(st.sampled_from([0x1F, 0x5F, 0x7F, 0x9F, 0xBF, 0xDF, 0xFF & 0xDF]),
                    st.integers(0x1F, 0x7F)).map(lambda t: t[0] << 8 | t[1])
    three = st.tuples(st.sampled_from([0x5F, 0x7F, 0xDF]), st.integers(0x81, 0xFF),
                      st.integers(0x00, 0x7F)).map(lambda t: t[0] << 16 | t[1] << 8 | t[2])
    return st.one_of(one, two, three)


@given(tags(), st.binary(max_size=70000).filter(lambda b: len(b) < 300 or len(b) > 60000))
def test_round_trip(tag, value):
    item = Tlv(tag, value)
    raw = item.encode()
    assert Tlv.decode(raw) == item
    assert tlv.total_length(raw[:8]) == len(raw)


@given(st.binary(max_size=200))
def test_decoder_raises_only_tlv_errors(raw):
    try:
        items = tlv.decode_all(raw)
    except TlvError:
        return
    assert b"".join(i.encode() for i in items) == raw   # strict: accepted means canonical


def test_constructed_children():
    holder = Tlv.of(0x61, [Tlv(0x53, b"\xa1\x01\x02"), Tlv(0x5F1F, b"x")])
    assert holder.constructed and holder.tag_class == "application"
    assert holder.children() == [Tlv(0x53, b"\xa1\x01\x02"), Tlv(0x5F1F, b"x")]
    assert holder.child(0x5F1F) == Tlv(0x5F1F, b"x") and holder.child(0x99) is None
    with pytest.raises(TlvTagError):
        Tlv(0x53, b"").children()
    with pytest.raises(TlvTagError):
        Tlv.of(0x53, [])


def test_tag_and_length_fields():
    assert tlv.encode_tag(0x7F49) == b"\x7f\x49"
    assert Tlv(0xDF8100).tag_class == "private" and Tlv(0x8A).tag_class == "context-specific"
    assert tlv.encode_length(0x7F) == b"\x7f"
    assert tlv.encode_length(0x80) == b"\x81\x80"
    assert tlv.encode_length(0x1_0000) == b"\x83\x01\x00\x00"
    assert tlv.encode_length(0xFFFF_FFFF) == b"\x84\xff\xff\xff\xff"
    assert tlv.decode_header(b"\x53\x84\x01\x00\x00\x00") == (0x53, 0x1000000, 6)
    for bad in (0, -1, 0x1F, 0x5F, 0x5F01, 0x5F8001, 0x12345678):
        with pytest.raises(TlvTagError):
            tlv.encode_tag(bad)
    with pytest.raises(TlvError):
        tlv.encode_length(1 << 32)


def test_total_length_needs_the_whole_header():
    with pytest.raises(TlvTruncatedError):
        tlv.total_length(b"\x75\x82\x3f")
    assert tlv.total_length(b"\x75\x82\x3f\x00") == 4 + 0x3F00


def test_errors_are_named_and_documented():
    for error in (tlv.TlvTruncatedError, tlv.TlvTagError, tlv.TlvLengthError, tlv.TlvTrailingBytesError):
        assert issubclass(error, TlvError) and error.__doc__.count("\n") == 0
