"""The reference card: every command, every refusal, the lifecycle, persistence, faults."""

import os
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from firmware_tools.card import apdus
from firmware_tools.card import profile as p
from firmware_tools.card.emulator import CardImage, CardRemoved, FaultPlan, ImageError, ReferenceCard
from firmware_tools.card.traces import EXAMPLE_PIN, EXAMPLE_PUK, example_file, example_image
from firmware_tools.iso7816.apdu import CommandApdu, ResponseApdu
from firmware_tools.iso7816.atr import Atr
from firmware_tools.iso7816.tlv import Tlv

L = p.Lifecycle


def send(card, command) -> ResponseApdu:
    raw = command.encode() if isinstance(command, CommandApdu) else bytes.fromhex(command.replace(" ", ""))
    return ResponseApdu.decode(card.process_apdu(raw))


def sw(card, command) -> int:
    return send(card, command).sw


def make(tmp_path, state=L.ISSUED, faults=None, name="card.cbor", select=True) -> ReferenceCard:
    card = ReferenceCard(example_image(state), faults, path=tmp_path / name)
    card.save()
    card.power_on()
    if select:
        assert sw(card, apdus.select_application()) == 0x9000
    return card


def read_file(card, ef, chunk=256) -> bytes:
    assert sw(card, apdus.select_file(ef)) == 0x9000
    out = b""
    while True:
        response = send(card, apdus.read_binary(len(out), chunk))
        out += response.data
        if response.sw != 0x9000:
            assert response.sw == 0x6282
            return out


@pytest.fixture
def issued(tmp_path):
    return make(tmp_path)


@pytest.fixture
def perso(tmp_path):
    return make(tmp_path, L.PERSONALISING)


@pytest.fixture
def blank(tmp_path):
    card = ReferenceCard.blank(tmp_path / "blank.json", pin=EXAMPLE_PIN, puk=EXAMPLE_PUK)
    card.power_on()
    assert sw(card, apdus.select_application()) == 0x9000
    return card


# --- SELECT ---------------------------------------------------------------------------------

def test_select_application_variants(tmp_path):
    card = make(tmp_path, select=False)
    fci = send(card, apdus.select_application(fci=True))
    assert fci.sw == 0x9000
    template = Tlv.decode(fci.data)
    assert template.tag == 0x6F and template.child(0x84).value == p.AID
    assert template.child(0x8A).value == bytes((L.ISSUED,))
    fcp = send(card, CommandApdu(0, 0xA4, 0x04, 0x04, p.AID, ne=256))
    assert Tlv.decode(fcp.data).tag == 0x62
    assert sw(card, CommandApdu(0, 0xA4, 0x04, 0x0C, p.AID[:7])) == 0x9000       # right-truncated
    assert sw(card, CommandApdu(0, 0xA4, 0x04, 0x00, p.AID)) == 0x9000           # no Le: no data
    assert send(card, CommandApdu(0, 0xA4, 0x04, 0x00, p.AID)).data == b""


@pytest.mark.parametrize("command, status", [
    (CommandApdu(0, 0xA4, 0x04, 0x0C, p.AID[:5]), 0x6A82),          # shorter than the prefix
    (CommandApdu(0, 0xA4, 0x04, 0x0C, bytes.fromhex("a0000000030000")), 0x6A82),
    (CommandApdu(0, 0xA4, 0x04, 0x0C, p.AID + b"\x00"), 0x6A82),
    (CommandApdu(0, 0xA4, 0x04, 0x0C), 0x6700),
    (CommandApdu(0, 0xA4, 0x04, 0x02, p.AID), 0x6A86),               # next occurrence
    (CommandApdu(0, 0xA4, 0x08, 0x0C, b"\x01\x01"), 0x6A86),         # by path
    (CommandApdu(0, 0xA4, 0x02, 0x0C, b"\x01\x01\x01"), 0x6700),
    (CommandApdu(0, 0xA4, 0x02, 0x0C, b"\x02\x02"), 0x6A82),
])
def test_select_refusals(issued, command, status):
    assert sw(issued, command) == status


def test_select_file_before_and_after_the_application(tmp_path):
    card = make(tmp_path, select=False)
    assert sw(card, apdus.select_file(p.DG1)) == 0x6A82
    assert sw(card, apdus.select_application()) == 0x9000
    fcp = Tlv.decode(send(card, apdus.select_file(p.DG1, fcp=True)).data)
    assert fcp.child(0x83).value == b"\x01\x01" and fcp.child(0x88).value == b"\x01"
    assert int.from_bytes(fcp.child(0x80).value, "big") == len(example_file(p.DG1))
    assert sw(card, CommandApdu(0, 0xA4, 0x00, 0x0C, b"\x01\x01")) == 0x9000     # P1 00 works too


def test_select_mf_leaves_the_application(issued):
    for command in (apdus.select_mf(), CommandApdu(0, 0xA4, 0x00, 0x0C)):
        assert sw(issued, apdus.select_application()) == 0x9000
        assert sw(issued, command) == 0x9000
        assert sw(issued, apdus.read_binary(0, ef=p.DG1)) == 0x6985
    mf = Tlv.decode(send(issued, CommandApdu(0, 0xA4, 0x00, 0x04, b"\x3f\x00", ne=256)).data)
    assert mf.child(0x83).value == b"\x3f\x00"


# --- READ BINARY -------------------------------------------------------------------------------

@pytest.mark.parametrize("ef", [p.CARD_INFO, p.DG1, p.DG5, p.SECURITY_OBJECT])
def test_read_whole_files(issued, ef):
    assert read_file(issued, ef) == issued.image.files[ef.fid]
    assert read_file(issued, ef, chunk=7) == issued.image.files[ef.fid]


def test_read_by_short_ef_identifier(issued):
    content = example_file(p.DG1)
    response = send(issued, apdus.read_binary(2, 5, ef=p.DG1))
    assert (response.data, response.sw) == (content[2:7], 0x9000)
    # the SFI read made DG1 current: an offset read continues there
    assert send(issued, apdus.read_binary(7, 3)).data == content[7:10]


@pytest.mark.parametrize("command, status", [
    (apdus.read_binary(0, ef=p.DG4), 0x6982),                        # PIN needed
    (CommandApdu(0, 0xB0, 0x90, 0x00, ne=1), 0x6A82),                 # SFI 10: no such EF
    (CommandApdu(0, 0xB0, 0xC1, 0x00, ne=1), 0x6A86),                 # P1 bits 7-6 not 00
    (CommandApdu(0, 0xB0, 0x81, 0x00), 0x6700),                       # no Le
    (CommandApdu(0, 0xB0, 0x81, 0x00, b"\x00", ne=1), 0x6700),        # data field
    (CommandApdu(0, 0xB0, 0x00, 0x00, ne=1), 0x6986),                 # no current EF
    (CommandApdu(0, 0xB0, 0x81, 0xFF, ne=1), 0x6B00),                 # offset beyond the end
])
def test_read_refusals(issued, command, status):
    assert sw(issued, command) == status


def test_read_at_the_end_of_the_file(issued):
    size = len(example_file(p.DG1))
    assert sw(issued, apdus.select_file(p.DG1)) == 0x9000
    end = send(issued, apdus.read_binary(size, 1))
    assert (end.data, end.sw) == (b"", 0x6282)
    assert sw(issued, apdus.read_binary(size + 1, 1)) == 0x6B00


def test_read_pin_protected_file_after_verify(issued):
    assert sw(issued, apdus.verify(EXAMPLE_PIN)) == 0x9000
    assert read_file(issued, p.DG4) == example_file(p.DG4)


def test_extended_read_of_a_16_kib_photo(perso):
    photo = os.urandom(p.PHOTO_MAX_BYTES)
    import cbor2
    content = p.DG2.wrap(cbor2.dumps(photo))
    for command in apdus.write_file(p.DG2, content):
        assert sw(perso, command) == 0x9000
    whole = send(perso, apdus.read_binary(0, 65536))
    assert (whole.data, whole.sw) == (content, 0x6282)
    exact = send(perso, apdus.read_binary(0, len(content)))
    assert (exact.data, exact.sw) == (content, 0x9000)
    assert p.DG2.unwrap(exact.data) == cbor2.dumps(photo)


# --- UPDATE / ERASE BINARY ----------------------------------------------------------------------

def test_update_binary_writes_extends_and_persists(perso):
    assert sw(perso, apdus.select_file(p.DG3)) == 0x9000
    assert sw(perso, apdus.update_binary(0, b"\x63\x03\x53")) == 0x9000
    assert sw(perso, apdus.update_binary(3, b"\x01\xa0")) == 0x9000
    assert sw(perso, apdus.update_binary(1, b"\x03")) == 0x9000                   # overwrite in place
    assert perso.image.files[p.DG3.fid] == bytes.fromhex("6303" "5301a0")
    assert CardImage.load(perso.path).files[p.DG3.fid] == bytes.fromhex("63035301a0")
    assert sw(perso, CommandApdu(0, 0xD6, 0x83, 0x05, b"\x00")) == 0x9000           # SFI form, append


@pytest.mark.parametrize("command, status", [
    (apdus.update_binary(0x10, b"\x00"), 0x6B00),                     # gap after the end
    (CommandApdu(0, 0xD6, 0x00, 0x00), 0x6700),                       # no data
    (apdus.update_binary(p.DG3.max_size, b"\x00"), 0x6B00),
])
def test_update_refusals(perso, command, status):
    assert sw(perso, apdus.select_file(p.DG3)) == 0x9000
    assert sw(perso, command) == status


def test_update_beyond_the_allocated_size(perso):
    assert sw(perso, apdus.select_file(p.DG5)) == 0x9000
    assert sw(perso, apdus.select_file(p.DG3)) == 0x9000
    assert sw(perso, apdus.erase_binary(0)) == 0x9000
    for offset in range(0, p.DG3.max_size, 255):
        assert sw(perso, apdus.update_binary(offset, bytes(min(255, p.DG3.max_size - offset)))) == 0x9000
    assert sw(perso, apdus.update_binary(p.DG3.max_size - 1, b"\x00\x00")) == 0x6A84


def test_chip_key_file_is_written_by_the_card_only(perso):
    assert sw(perso, CommandApdu(0, 0xD6, 0x85, 0x00, b"\x00")) == 0x6982
    assert sw(perso, CommandApdu(0, 0x0E, 0x85, 0x00)) == 0x6982
    assert sw(perso, CommandApdu(0, 0xD6, 0x00, 0x00, b"\x00")) == 0x6982        # DG5 is current now


def test_update_without_current_ef(perso):
    assert sw(perso, apdus.update_binary(0, b"\x00")) == 0x6986


def test_erase_binary(perso):
    assert sw(perso, apdus.select_file(p.DG1)) == 0x9000
    assert sw(perso, apdus.erase_binary(4)) == 0x9000
    assert perso.image.files[p.DG1.fid] == example_file(p.DG1)[:4]
    assert sw(perso, apdus.erase_binary(9)) == 0x6B00
    assert sw(perso, CommandApdu(0, 0x0E, 0, 0, b"\x00")) == 0x6700
    assert sw(perso, apdus.erase_binary(0)) == 0x9000
    assert p.DG1.fid not in CardImage.load(perso.path).files


# --- GET DATA, GET RESPONSE --------------------------------------------------------------------

def test_get_data(issued, blank):
    assert send(issued, apdus.get_lifecycle()).data == b"\x8a\x01\x05"
    assert send(blank, apdus.get_lifecycle()).data == b"\x8a\x01\x01"
    assert send(issued, apdus.get_card_info()).data == example_file(p.CARD_INFO)
    assert sw(blank, apdus.get_card_info()) == 0x6A88
    assert sw(issued, apdus.get_data(0x5F20)) == 0x6A88
    assert sw(issued, CommandApdu(0, 0xCA, 0, 0x8A, b"\x00", ne=3)) == 0x6700


def test_get_data_works_without_the_application(tmp_path):
    card = make(tmp_path, select=False)
    assert send(card, apdus.get_lifecycle()).data == b"\x8a\x01\x05"


def test_response_longer_than_le_waits_for_get_response(issued):
    info = example_file(p.CARD_INFO)
    first = send(issued, apdus.get_data(0x60, ne=10))
    assert (first.data, first.sw) == (info[:10], 0x6100 | (len(info) - 10))
    second = send(issued, apdus.get_response(ne=5))
    assert (second.data, second.sw) == (info[10:15], 0x6100 | (len(info) - 15))
    rest = send(issued, apdus.get_response())
    assert (rest.data, rest.sw) == (info[15:], 0x9000)
    assert sw(issued, apdus.get_response()) == 0x6985                  # nothing left


def test_pending_response_is_dropped_by_any_other_command(issued):
    assert send(issued, apdus.get_data(0x60, ne=10)).sw1 == 0x61
    assert sw(issued, apdus.get_lifecycle()) == 0x9000
    assert sw(issued, apdus.get_response()) == 0x6985


def test_get_response_refusals(issued):
    assert send(issued, apdus.get_data(0x60, ne=10)).sw1 == 0x61
    assert sw(issued, CommandApdu(0, 0xC0, 0, 1, ne=5)) == 0x6A86
    assert send(issued, apdus.get_data(0x60, ne=10)).sw1 == 0x61
    assert sw(issued, CommandApdu(0, 0xC0, 0, 0)) == 0x6700


# --- PIN ----------------------------------------------------------------------------------------

def test_pin_try_counter_blocks_after_three(issued):
    assert sw(issued, apdus.verify_status()) == 0x63C3
    assert [sw(issued, apdus.verify("000000")) for _ in range(3)] == [0x63C2, 0x63C1, 0x63C0]
    assert sw(issued, apdus.verify(EXAMPLE_PIN)) == 0x6983
    assert sw(issued, apdus.verify_status()) == 0x6983
    assert sw(issued, apdus.read_binary(0, ef=p.DG4)) == 0x6982
    assert CardImage.load(issued.path).pin_tries == 0


def test_right_pin_restores_the_counter(issued):
    assert sw(issued, apdus.verify("000000")) == 0x63C2
    assert sw(issued, apdus.verify(EXAMPLE_PIN)) == 0x9000
    assert sw(issued, apdus.verify_status()) == 0x9000
    assert issued.image.pin_tries == p.PIN_TRIES
    assert sw(issued, apdus.forget_pin()) == 0x9000
    assert sw(issued, apdus.verify_status()) == 0x63C3


def test_wrong_pin_is_counted_before_the_comparison(tmp_path):
    card = make(tmp_path)
    assert sw(card, apdus.verify("000000")) == 0x63C2
    assert ReferenceCard.load(card.path).image.pin_tries == 2


@pytest.mark.parametrize("command, status", [
    (CommandApdu(0, 0x20, 0x00, 0x81, b"123456"), 0x6700),                         # not a block
    (CommandApdu(0, 0x20, 0x00, 0x81, b"12ab56\xff\xff"), 0x6A80),
    (CommandApdu(0, 0x20, 0x00, 0x81, b"12345\xff\xff\xff"), 0x6A80),               # 5 digits
    (CommandApdu(0, 0x20, 0x00, 0x82, p.pin_block("123456")), 0x6A88),              # no such PIN
    (CommandApdu(0, 0x20, 0x01, 0x81, p.pin_block("123456")), 0x6A86),
    (CommandApdu(0, 0x20, 0xFF, 0x81, b"\x00"), 0x6700),
])
def test_verify_refusals_do_not_count(issued, command, status):
    assert sw(issued, command) == status
    assert issued.image.pin_tries == p.PIN_TRIES


def test_verification_is_lost_on_reset_and_reselect(issued):
    assert sw(issued, apdus.verify(EXAMPLE_PIN)) == 0x9000
    assert sw(issued, apdus.select_application()) == 0x9000
    assert sw(issued, apdus.verify_status()) == 0x63C3
    assert sw(issued, apdus.verify(EXAMPLE_PIN)) == 0x9000
    assert issued.reset() == issued.atr
    assert sw(issued, apdus.verify_status()) == 0x6985                # nothing selected after reset
    assert sw(issued, apdus.select_application()) == 0x9000
    assert sw(issued, apdus.verify_status()) == 0x63C3


def test_change_pin(issued):
    assert sw(issued, apdus.change_pin(EXAMPLE_PIN, "24682468")) == 0x9000
    assert sw(issued, apdus.verify(EXAMPLE_PIN)) == 0x63C2
    assert sw(issued, apdus.verify("24682468")) == 0x9000
    assert CardImage.load(issued.path).pin == "24682468"
    assert sw(issued, apdus.change_pin("000000", "111111")) == 0x63C2
    assert sw(issued, CommandApdu(0, 0x24, 0, 0x81, p.pin_block("24682468") + b"12\xff\xff\xff\xff\xff\xff")) == 0x6A80
    assert sw(issued, CommandApdu(0, 0x24, 0, 0x81, p.pin_block("24682468"))) == 0x6700
    assert sw(issued, CommandApdu(0, 0x24, 1, 0x81, bytes(16))) == 0x6A86


def test_change_pin_when_blocked(issued):
    for _ in range(3):
        send(issued, apdus.verify("000000"))
    assert sw(issued, apdus.change_pin(EXAMPLE_PIN, "111111")) == 0x6983


def test_unblock_with_new_pin(issued):
    for _ in range(3):
        send(issued, apdus.verify("000000"))
    assert sw(issued, apdus.unblock_pin(EXAMPLE_PUK, "111111")) == 0x9000
    assert sw(issued, apdus.verify_status()) == 0x63C3
    assert sw(issued, apdus.verify("111111")) == 0x9000


def test_unblock_keeping_the_pin(issued):
    for _ in range(3):
        send(issued, apdus.verify("000000"))
    assert sw(issued, apdus.unblock_pin(EXAMPLE_PUK)) == 0x9000
    assert sw(issued, apdus.verify(EXAMPLE_PIN)) == 0x9000


def test_unblocking_code_has_its_own_counter(issued):
    statuses = [sw(issued, apdus.unblock_pin("87654321")) for _ in range(p.PUK_TRIES)]
    assert statuses == [0x63C0 | n for n in range(p.PUK_TRIES - 1, -1, -1)]
    assert sw(issued, apdus.unblock_pin(EXAMPLE_PUK)) == 0x6983
    assert CardImage.load(issued.path).puk_tries == 0


@pytest.mark.parametrize("command, status", [
    (CommandApdu(0, 0x2C, 0x00, 0x81, b"12345678"), 0x6700),                      # P1 00 wants 16
    (CommandApdu(0, 0x2C, 0x01, 0x81, b"12345678" + p.pin_block("111111")), 0x6700),
    (CommandApdu(0, 0x2C, 0x01, 0x81, p.pin_block("123456")), 0x6A80),           # 6-digit code
    (CommandApdu(0, 0x2C, 0x00, 0x81, b"12345678" + b"1\xff" * 4), 0x6A80),       # bad new PIN
    (CommandApdu(0, 0x2C, 0x02, 0x81, b""), 0x6A86),
    (CommandApdu(0, 0x2C, 0x01, 0x80, b"12345678"), 0x6A88),
])
def test_unblock_refusals(issued, command, status):
    assert sw(issued, command) == status
    assert issued.image.puk_tries == p.PUK_TRIES


# --- chip key ------------------------------------------------------------------------------------

def _public_key(template: bytes) -> ec.EllipticCurvePublicKey:
    outer = Tlv.decode(template)
    assert outer.tag == 0x7F49
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), outer.child(0x86).value)


def _verify(public_key, challenge: bytes, signature: bytes) -> None:
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    public_key.verify(der, p.aa_message(challenge), ec.ECDSA(hashes.SHA256()))


def test_generate_key_pair_then_internal_authenticate(perso):
    generated = send(perso, apdus.generate_key_pair())
    assert generated.sw == 0x9000
    public_key = _public_key(generated.data)
    point = Tlv.decode(generated.data).child(0x86).value
    assert p.chip_key_point(p.DG5.unwrap(read_file(perso, p.DG5))) == point
    assert send(perso, apdus.read_public_key()).data == generated.data
    assert send(perso, CommandApdu(0, 0x47, 0x81, 0x00, ne=256)).data == generated.data  # INS 47 too
    for size in (8, 16, 32, 64):
        challenge = os.urandom(size)
        response = send(perso, apdus.internal_authenticate(challenge))
        assert response.sw == 0x9000 and len(response.data) == 64
        _verify(public_key, challenge, response.data)
        with pytest.raises(InvalidSignature):
            _verify(public_key, challenge[::-1] + b"x", response.data)


def test_generate_again_replaces_the_key(perso):
    first = send(perso, apdus.generate_key_pair()).data
    second = send(perso, apdus.generate_key_pair()).data
    assert first != second
    assert CardImage.load(perso.path).private_key == perso.image.private_key


def test_the_private_key_never_appears_in_a_response(perso):
    send(perso, apdus.generate_key_pair())
    scalar = perso.image.private_key
    seen = b"".join(card_bytes for card_bytes in (
        send(perso, apdus.read_public_key()).data, read_file(perso, p.DG5),
        send(perso, apdus.internal_authenticate(bytes(16))).data))
    assert scalar not in seen


def test_internal_authenticate_with_the_example_key(issued):
    public_key = ec.derive_private_key(int.from_bytes(issued.image.private_key, "big"),
                                       ec.SECP256R1()).public_key()
    challenge = bytes(range(16))
    _verify(public_key, challenge, send(issued, apdus.internal_authenticate(challenge)).data)


def test_internal_authenticate_short_le_and_no_le(issued):
    first = send(issued, CommandApdu(0, 0x88, 0, 0, bytes(16), ne=40))
    assert (len(first.data), first.sw) == (40, 0x6118)
    rest = send(issued, apdus.get_response())
    assert len(rest.data) == 24 and rest.sw == 0x9000
    bare = send(issued, CommandApdu(0, 0x88, 0, 0, bytes(16)))
    assert (bare.data, bare.sw) == (b"", 0x9000)


@pytest.mark.parametrize("command, status", [
    (apdus.internal_authenticate(bytes(7)), 0x6700),
    (apdus.internal_authenticate(bytes(65)), 0x6700),
    (CommandApdu(0, 0x88, 0, 0, ne=256), 0x6700),
    (CommandApdu(0, 0x88, 0, 1, bytes(16), ne=256), 0x6A86),
    (apdus.generate_key_pair(), 0x6985),                               # issued: no new key
    (CommandApdu(0, 0x46, 0x81, 0x01, ne=256), 0x6A86),
    (CommandApdu(0, 0x46, 0x82, 0x00, ne=256), 0x6A86),
    (CommandApdu(0, 0x46, 0x81, 0x00, b"\x00", ne=256), 0x6700),
])
def test_chip_key_refusals(issued, command, status):
    assert sw(issued, command) == status


def test_no_key_yet(tmp_path):
    card = make(tmp_path, L.PERSONALISING)
    card.image.private_key = None
    assert sw(card, apdus.read_public_key()) == 0x6A88
    assert sw(card, apdus.internal_authenticate(bytes(16))) == 0x6A88


# --- lifecycle -----------------------------------------------------------------------------------

def test_full_lifecycle_from_blank(blank):
    assert sw(blank, apdus.select_file(p.DG1)) == 0x9000
    assert sw(blank, apdus.update_binary(0, b"\x00")) == 0x6985        # blank: no writes yet
    assert sw(blank, apdus.generate_key_pair()) == 0x6985
    assert sw(blank, apdus.start_personalisation()) == 0x9000
    assert sw(blank, apdus.start_personalisation()) == 0x6985           # only once
    for ef in (p.CARD_INFO, p.DG1):
        assert all(sw(blank, c) == 0x9000 for c in apdus.write_file(ef, example_file(ef)))
    assert sw(blank, apdus.activate()) == 0x6985                        # no key, no SO
    assert sw(blank, apdus.generate_key_pair()) == 0x9000
    assert sw(blank, apdus.activate()) == 0x6985                        # no SO
    assert all(sw(blank, c) == 0x9000 for c in apdus.write_file(p.SECURITY_OBJECT, b"\x77\x03\x53\x01\xa0"))
    assert sw(blank, apdus.activate()) == 0x9000
    assert ReferenceCard.load(blank.path).image.lifecycle is L.ISSUED


def test_writes_are_refused_after_lock(issued):
    before = issued.path.read_bytes()
    assert sw(issued, apdus.select_file(p.DG1)) == 0x9000
    for command in (apdus.update_binary(0, b"\x00"), CommandApdu(0, 0xD6, 0x81, 0, b"\x00"),
                    apdus.erase_binary(0), apdus.generate_key_pair(), apdus.start_personalisation(),
                    apdus.activate()):
        assert sw(issued, command) == 0x6985
    assert issued.path.read_bytes() == before


def test_terminate_issued_card_needs_the_pin(issued):
    assert sw(issued, apdus.terminate()) == 0x6982
    assert sw(issued, apdus.verify(EXAMPLE_PIN)) == 0x9000
    assert sw(issued, apdus.terminate()) == 0x9000
    assert ReferenceCard.load(issued.path).image.lifecycle is L.TERMINATED


def test_terminated_card(tmp_path):
    card = make(tmp_path, L.PERSONALISING)
    assert sw(card, apdus.terminate()) == 0x9000                       # spoiled during personalisation
    selected = send(card, apdus.select_application(fci=True))
    assert selected.sw == 0x6285 and Tlv.decode(selected.data).child(0x8A).value == b"\x0c"
    assert sw(card, apdus.select_application()) == 0x6285
    assert send(card, apdus.get_lifecycle()).data == b"\x8a\x01\x0c"
    for command in (apdus.read_binary(0, ef=p.DG1), apdus.verify(EXAMPLE_PIN), apdus.terminate(),
                    apdus.internal_authenticate(bytes(16)), apdus.start_personalisation(),
                    apdus.unblock_pin(EXAMPLE_PUK)):
        assert sw(card, command) == 0x6985


def test_application_commands_need_the_application(tmp_path):
    card = make(tmp_path, select=False)
    for command in (apdus.read_binary(0, ef=p.DG1), apdus.verify_status(), apdus.internal_authenticate(bytes(8)),
                    apdus.terminate()):
        assert sw(card, command) == 0x6985


@pytest.mark.parametrize("command", [CommandApdu(0x80, 0xF0, 0, 1), CommandApdu(0x80, 0xF0, 0, 0, b"x"),
                                     CommandApdu(0, 0x44, 1, 0), CommandApdu(0, 0xFE, 0, 0, b"x")])
def test_lifecycle_command_parameters(tmp_path, command):
    card = make(tmp_path, L.BLANK if command.cla == 0x80 else L.PERSONALISING)
    assert sw(card, command) in (0x6A86, 0x6700)
    assert card.image.lifecycle is (L.BLANK if command.cla == 0x80 else L.PERSONALISING)


# --- class, instruction, malformed APDUs ---------------------------------------------------------

@pytest.mark.parametrize("cla, status", [
    (0x01, 0x6881), (0x03, 0x6881), (0x04, 0x6882), (0x0C, 0x6882), (0x10, 0x6884),
    (0x40, 0x6881), (0x20, 0x6E00), (0x3F, 0x6E00), (0xA0, 0x6E00), (0xFF, 0x6E00),
    (0x84, 0x6882), (0x90, 0x6884), (0xC0, 0x6E00),
])
def test_class_byte(issued, cla, status):
    assert sw(issued, CommandApdu(cla, 0xCA, 0x00, 0x8A, ne=3)) == status


@pytest.mark.parametrize("header", ["00 12 00 00", "80 A4 04 00", "00 F0 00 00", "00 B1 00 00", "00 60 00 00"])
def test_unknown_instructions(issued, header):
    assert sw(issued, header) == 0x6D00


@pytest.mark.parametrize("raw", ["", "00", "00 A4", "00 A4 04", "00 A4 04 0C 09 F0 53", "00 B0 00 00 00 00",
                                 "00 D6 00 00 00 00 00 01"])
def test_malformed_apdus_get_6700(issued, raw):
    response = issued.process_apdu(bytes.fromhex(raw.replace(" ", "")))
    assert response == b"\x67\x00"


# --- power, persistence ---------------------------------------------------------------------------

def test_atr_and_power(tmp_path):
    card = ReferenceCard.blank()
    atr = card.power_on()
    assert atr == card.atr == p.answer_to_reset() and Atr.decode(atr).extended_length
    card.power_off()
    # an APDU to an unpowered card powers it first
    assert sw(card, apdus.select_application()) == 0x9000
    assert card.path is None


def test_persistence_across_reload(tmp_path):
    for name in ("card.json", "card.cbor"):
        card = ReferenceCard.blank(tmp_path / name)
        card.power_on()
        send(card, apdus.select_application())
        send(card, apdus.start_personalisation())
        generated = send(card, apdus.generate_key_pair()).data
        send(card, apdus.verify("000000"))
        again = ReferenceCard.load(tmp_path / name)
        assert again.image == card.image
        again.power_on()
        send(again, apdus.select_application())
        assert send(again, apdus.read_public_key()).data == generated
        assert sw(again, apdus.verify_status()) == 0x63C2
    assert (tmp_path / "card.json").read_text().lstrip().startswith("{")
    assert sorted(os.listdir(tmp_path)) == ["card.cbor", "card.json"]   # no temporary files left
    assert (tmp_path / "card.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("content", [b"", b"not json", b'{"format": 2}', b'{"format": 1}',
                                     b'{"format": 1, "lifecycle": "ISSUED", "files": {"9999": ""}, "pin": "123456",'
                                     b' "pin_tries": 3, "puk": "12345678", "puk_tries": 10, "private_key": null}',
                                     b'{"format": 1, "lifecycle": "ISSUED", "files": {}, "pin": "12", '
                                     b'"pin_tries": 3, "puk": "12345678", "puk_tries": 10, "private_key": null}',
                                     b'{"format": 1, "lifecycle": "ISSUED", "files": {}, "pin": "123456", '
                                     b'"pin_tries": 9, "puk": "12345678", "puk_tries": 10, "private_key": null}'])
def test_bad_image_files(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ImageError):
        ReferenceCard.load(path)


def test_missing_image_file(tmp_path):
    with pytest.raises(ImageError):
        ReferenceCard.load(tmp_path / "none.cbor")


def test_blank_refuses_bad_codes():
    for kwargs in ({"pin": "12"}, {"puk": "123"}, {"pin": "abcdef"}):
        with pytest.raises(ImageError):
            ReferenceCard.blank(**kwargs)


def test_save_failure_answers_memory_failure(tmp_path):
    card = make(tmp_path, L.PERSONALISING)
    card.path = tmp_path / "gone" / "card.cbor"
    assert sw(card, apdus.start_personalisation()) == 0x6985
    assert sw(card, apdus.generate_key_pair()) == 0x6581


# --- faults ---------------------------------------------------------------------------------------

def test_removal_after_n_apdus(tmp_path):
    card = make(tmp_path, faults=FaultPlan(remove_after=3))            # SELECT was the first
    assert sw(card, apdus.get_lifecycle()) == 0x9000
    assert sw(card, apdus.get_lifecycle()) == 0x9000
    with pytest.raises(CardRemoved):
        card.process_apdu(apdus.get_lifecycle().encode())
    assert card.removed
    with pytest.raises(CardRemoved):
        card.process_apdu(apdus.get_lifecycle().encode())
    with pytest.raises(CardRemoved):
        card.power_on()
    card.insert()
    assert not card.removed and card.power_on() == card.atr
    assert sw(card, apdus.get_lifecycle()) == 0x9000                   # the fault fired once


def test_tearing_keeps_a_prefix_and_removes_the_card(tmp_path):
    card = make(tmp_path, L.PERSONALISING, faults=FaultPlan(tear_update=2, tear_keep=3))
    assert sw(card, apdus.select_file(p.DG3)) == 0x9000
    assert sw(card, apdus.erase_binary(0)) == 0x9000
    assert sw(card, apdus.update_binary(0, b"\x63\x05")) == 0x9000
    with pytest.raises(CardRemoved):
        card.process_apdu(apdus.update_binary(2, b"\x53\x03\xa1\x01\x02").encode())
    assert card.removed
    assert ReferenceCard.load(card.path).image.files[p.DG3.fid] == b"\x63\x05\x53\x03\xa1"
    card.insert()
    card.power_on()
    send(card, apdus.select_application())
    assert sw(card, apdus.select_file(p.DG3)) == 0x9000
    assert sw(card, apdus.update_binary(5, b"\x01\x02")) == 0x9000     # the encoder resumes
    assert card.image.files[p.DG3.fid] == bytes.fromhex("6305" "5303a10102")


def test_tear_keeping_nothing(tmp_path):
    card = make(tmp_path, L.PERSONALISING, faults=FaultPlan(tear_update=1))
    assert sw(card, apdus.select_file(p.DG3)) == 0x9000
    send(card, apdus.erase_binary(0))
    with pytest.raises(CardRemoved):
        card.process_apdu(apdus.update_binary(0, b"\x63").encode())
    assert p.DG3.fid not in ReferenceCard.load(card.path).image.files


def test_delay_per_apdu(tmp_path):
    card = make(tmp_path, faults=FaultPlan(delay=0.02))
    started = time.monotonic()
    for _ in range(3):
        send(card, apdus.get_lifecycle())
    assert time.monotonic() - started >= 0.06


def test_short_apdus_only(tmp_path):
    card = make(tmp_path, faults=FaultPlan(short_apdus_only=True))
    assert not Atr.decode(card.atr).extended_length
    assert sw(card, apdus.read_binary(0, 300, ef=p.DG1)) == 0x6700
    assert sw(card, CommandApdu(0, 0xB0, 0x81, 0, ne=16, extended=True)) == 0x6700
    assert sw(card, apdus.read_binary(0, 16, ef=p.DG1)) == 0x9000


def test_corrupted_responses(tmp_path):
    clean, faulty = make(tmp_path), make(tmp_path, faults=FaultPlan(corrupt_every=2), name="faulty.cbor")
    results = []
    for offset in (0, 4, 8):
        good, bad = (send(c, apdus.read_binary(offset, 8, ef=p.CARD_INFO)) for c in (clean, faulty))
        assert good.sw == bad.sw == 0x9000
        results.append(sum(a != b for a, b in zip(good.data, bad.data)))
    assert results == [0, 1, 0]                                         # every 2nd response with data
    assert send(faulty, apdus.verify_status()).sw == 0x63C3             # status words are never touched


def test_fault_plan_validation():
    for kwargs in ({"remove_after": -1}, {"tear_update": 0}, {"corrupt_every": 0}, {"delay": -1},
                   {"tear_keep": -1}):
        with pytest.raises(ValueError):
            FaultPlan(**kwargs)
