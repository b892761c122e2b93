"""APDU and status-word codecs, and the generic walk over every `_test_vectors` table.

pySim's habit: vectors live next to the definitions (`_test_vectors = [(hex, decoded)]`,
`_test_invalid = [(type, hex, error)]`); this file finds every module of the codecs and of
the card profile that declares them, so a new definition brings its tests along.
"""

import importlib
import pkgutil

import pytest
from hypothesis import given, strategies as st

import firmware_tools.card
import firmware_tools.iso7816
from firmware_tools.iso7816 import sw
from firmware_tools.iso7816.apdu import (ApduError, ApduFieldError, ApduLengthError, ApduTooShortError,
                                         CommandApdu, ResponseApdu)


def _modules():
    for package in (firmware_tools.iso7816, firmware_tools.card):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            yield importlib.import_module(info.name)


_MODULES = list(_modules())
VECTORS = [pytest.param(h, d, id=f"{m.__name__.split('.')[-1]}-{i}")
           for m in _MODULES for i, (h, d) in enumerate(getattr(m, "_test_vectors", []))]
INVALID = [pytest.param(t, h, e, id=f"{m.__name__.split('.')[-1]}-{i}")
           for m in _MODULES for i, (t, h, e) in enumerate(getattr(m, "_test_invalid", []))]


def test_the_walk_finds_every_codec():
    names = {m.__name__ for m in _MODULES if hasattr(m, "_test_vectors")}
    assert {"firmware_tools.iso7816.apdu", "firmware_tools.iso7816.sw", "firmware_tools.iso7816.tlv",
            "firmware_tools.card.profile"} <= names


@pytest.mark.parametrize("hex_, decoded", VECTORS)
def test_vector_decodes_and_encodes(hex_, decoded):
    raw = bytes.fromhex(hex_)
    assert type(decoded).decode(raw) == decoded
    assert decoded.encode() == raw


@pytest.mark.parametrize("kind, hex_, error", INVALID)
def test_invalid_vector_is_refused(kind, hex_, error):
    with pytest.raises(error):
        kind.decode(bytes.fromhex(hex_))


@pytest.mark.parametrize("command, case", [
    (CommandApdu(0, 0xA4, 0, 0), "1"),
    (CommandApdu(0, 0xB0, 0, 0, ne=1), "2S"),
    (CommandApdu(0, 0xD6, 0, 0, b"x"), "3S"),
    (CommandApdu(0, 0x88, 0, 0, b"x", ne=256), "4S"),
    (CommandApdu(0, 0xB0, 0, 0, ne=257), "2E"),
    (CommandApdu(0, 0xD6, 0, 0, bytes(256)), "3E"),
    (CommandApdu(0, 0x88, 0, 0, b"x", ne=65536), "4E"),
    (CommandApdu(0, 0x88, 0, 0, b"x", ne=2, extended=True), "4E"),
])
def test_cases(command, case):
    assert command.case == case
    assert CommandApdu.decode(command.encode()) == command


def test_le_limits():
    assert CommandApdu.decode(bytes.fromhex("00b0000000")).ne == 256
    assert CommandApdu.decode(bytes.fromhex("00b00000000000")).ne == 65536
    assert CommandApdu(0, 0xB0, 0, 0, ne=256).encode()[-1] == 0
    assert CommandApdu(0, 0xB0, 0, 0, ne=65536).encode()[-3:] == b"\x00\x00\x00"


@pytest.mark.parametrize("kwargs", [dict(cla=256, ins=0, p1=0, p2=0), dict(cla=0, ins=-1, p1=0, p2=0),
                                    dict(cla=0, ins=0, p1=0, p2=0, ne=65537),
                                    dict(cla=0, ins=0, p1=0, p2=0, data=bytes(65536))])
def test_field_errors(kwargs):
    with pytest.raises(ApduFieldError):
        CommandApdu(**kwargs)


def test_error_hierarchy():
    for error in (ApduTooShortError, ApduLengthError, ApduFieldError):
        assert issubclass(error, ApduError) and issubclass(error, ValueError)
        assert error.__doc__ and "\n" not in error.__doc__.strip()


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
       st.binary(max_size=300), st.integers(0, 65536), st.booleans())
def test_any_command_round_trips(cla, ins, p1, p2, data, ne, extended):
    command = CommandApdu(cla, ins, p1, p2, data, ne, extended)
    assert CommandApdu.decode(command.encode()) == command


@given(st.binary(max_size=300))
def test_decode_raises_only_apdu_errors(raw):
    try:
        command = CommandApdu.decode(raw)
    except ApduError:
        return
    assert command.encode() == raw


def test_response_parts():
    response = ResponseApdu.decode(bytes.fromhex("01026982"))
    assert (response.data, response.sw, response.sw1, response.sw2) == (b"\x01\x02", 0x6982, 0x69, 0x82)
    assert response.status.name == "SECURITY_STATUS"
    assert str(response) == "01 02 6982"


# --- status words -------------------------------------------------------------------------

def test_status_word_table_is_complete():
    for value in (0x9000, 0x6282, 0x6581, 0x6700, 0x6982, 0x6983, 0x6984, 0x6985, 0x6986, 0x6A80,
                  0x6A82, 0x6A84, 0x6A86, 0x6A88, 0x6B00, 0x6D00, 0x6E00):
        assert sw.is_known(value) and sw.StatusWord(value).name != "UNKNOWN"
    for value in (0x6100, 0x61FF, 0x6C10, 0x63C0, 0x63C3):
        assert sw.is_known(value)
    assert not sw.is_known(0x1234) and not sw.is_known(0x63D0)


def test_status_word_meanings():
    assert sw.StatusWord(0x63C2).meaning == "verification failed, 2 tries left"
    assert sw.StatusWord(0x6100).meaning.startswith("256 more")
    assert sw.StatusWord(0x6C40).meaning == "wrong Le: 64 bytes are available"
    assert str(sw.StatusWord(0x6A82)) == "6A82 FILE_NOT_FOUND: file or application not found"
    assert sw.StatusWord(0x1234).name == "UNKNOWN"
    assert sw.StatusWord(0x6105).is_success and not sw.StatusWord(0x6282).is_success


def test_status_word_helpers():
    assert sw.counter(2) == 0x63C2 and sw.counter(-1) == 0x63C0 and sw.counter(99) == 0x63CF
    assert sw.bytes_remaining(300) == 0x6100 and sw.bytes_remaining(16) == 0x6110
    assert sw.wrong_le(64) == 0x6C40
    with pytest.raises(ValueError):
        sw.StatusWord.decode(b"\x90")
