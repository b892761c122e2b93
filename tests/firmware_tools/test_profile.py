"""The card profile: its tables are consistent, and docs/card.md is rendered from them."""

import cbor2
import pytest

from firmware_tools.card import docs
from firmware_tools.card import profile as p
from firmware_tools.card.emulator import HANDLERS
from firmware_tools.card.traces import TRACES, run_trace
from firmware_tools.iso7816.atr import Atr
from firmware_tools.iso7816.sw import is_known
from firmware_tools.iso7816.tlv import Tlv, TlvError


def test_docs_card_md_is_in_sync_with_the_profile():
    assert docs.DOC_PATH.read_text() == docs.render_markdown(), \
        "docs/card.md is stale: run .venv/bin/python -m firmware_tools.card.docs"
    assert docs.main(["--check"]) == 0


def test_docs_check_flags_a_stale_file(tmp_path):
    stale = tmp_path / "card.md"
    stale.write_text("old\n")
    assert docs.main(["--check", "--output", str(stale)]) == 1
    assert docs.main(["--output", str(stale)]) == 0
    assert docs.main(["--check", "--output", str(stale)]) == 0


def test_docs_show_every_file_and_command():
    text = docs.render_markdown()
    for ef in p.FILES:
        assert f"| {ef.name} | {ef.fid:04X} | {ef.sfi:02X} | {ef.tag:02X} |" in text
    for command in p.COMMANDS:
        assert f"| {command.name} |" in text
    assert p.AID.hex(" ").upper() in text


def test_aid_is_proprietary():
    assert 5 <= len(p.AID) <= 16
    assert p.AID[0] >> 4 == 0xF
    assert p.AID == bytes.fromhex("f0") + b"SSCARD" + b"\x01"


def test_file_identifiers_are_unique_and_valid():
    for attribute in ("fid", "sfi", "tag", "name"):
        values = [getattr(ef, attribute) for ef in p.FILES]
        assert len(values) == len(set(values)), attribute
    for ef in p.FILES:
        assert ef.fid not in (0x3F00, 0x3FFF, 0xFFFF)       # reserved (ISO/IEC 7816-4:2005 §5.3.1.1)
        assert 1 <= ef.sfi <= 30
        assert Tlv(ef.tag).constructed and Tlv(ef.tag).tag_class == "application"
        assert len(ef.wrap(b"\xa0")) <= ef.max_size
    assert p.BY_FID[0x0104] is p.DG4 and p.BY_SFI[0x1D] is p.SECURITY_OBJECT and p.BY_TAG[0x75] is p.DG2


def test_security_object_covers_every_data_group_and_the_chip_key():
    keys = [ef.so_key for ef in p.FILES if ef.so_key is not None]
    assert len(keys) == len(set(keys))
    covered = {ef for ef in p.FILES if ef.so_key is not None}
    assert {p.DG1, p.DG2, p.DG3, p.DG4, p.DG5, p.CARD_INFO} == covered
    assert p.SECURITY_OBJECT.so_key is None


def test_photo_of_16_kib_fits():
    photo = cbor2.dumps(bytes(p.PHOTO_MAX_BYTES))
    assert len(p.DG2.wrap(photo)) <= p.DG2.max_size
    with pytest.raises(ValueError):
        p.DG2.wrap(cbor2.dumps(bytes(p.DG2.max_size)))


def test_wrap_and_unwrap():
    raw = p.DG3.wrap(b"\xa1\x01\x02")
    assert raw == bytes.fromhex("6305" "5303" "a10102")
    assert p.DG3.unwrap(raw) == b"\xa1\x01\x02"
    with pytest.raises(TlvError):
        p.DG1.unwrap(raw)                                  # DG3 bytes are not DG1


def test_access_rules():
    assert [ef.name for ef in p.FILES if ef.read is p.Read.PIN] == ["EF.DG4"]
    assert [ef.name for ef in p.FILES if ef.write is p.Write.CARD] == ["EF.DG5"]
    assert set(p.REQUIRED_FOR_ISSUE) <= set(p.FILES)


def test_every_command_has_a_handler_and_a_unique_header():
    assert set(HANDLERS) == set(p.BY_NAME)
    headers = [(c.cla, ins) for c in p.COMMANDS for ins in c.ins]
    assert len(headers) == len(set(headers))
    for command in p.COMMANDS:
        assert all(is_known(sw) for sw in command.status_words), command.name
        assert command.states, command.name


def test_lifecycle_transitions_use_commands_allowed_in_their_state():
    for transition in p.LIFECYCLE:
        command = p.BY_NAME[transition.command]
        assert transition.before in command.states
    assert p.Lifecycle.TERMINATED not in {t.before for t in p.LIFECYCLE}   # terminal state
    assert [s.value for s in p.Lifecycle] == [0x01, 0x03, 0x05, 0x0C]     # ISO/IEC 7816-4 Table 13


def test_pin_blocks():
    assert p.pin_block("123456") == bytes.fromhex("313233343536ffff")
    assert p.pin_block("12345678") == b"12345678"
    assert p.parse_pin_block(bytes.fromhex("313233343536ffff")) == "123456"
    for bad in (b"1234", bytes.fromhex("ffffffffffffffff"), bytes.fromhex("3132ff3334353637"),
                bytes.fromhex("31323334353637ff00")):
        assert p.parse_pin_block(bad) is None
    for bad in ("12345a", "123456789", "１２３４５６"):
        with pytest.raises(ValueError):
            p.pin_block(bad)
    assert p.valid_pin("123456") and not p.valid_pin("12345") and not p.valid_pin(None)
    assert p.valid_puk("12345678") and not p.valid_puk("1234567")


def test_chip_key_payload_round_trip():
    point = b"\x04" + bytes(range(32)) + bytes(range(32, 64))
    payload = p.chip_key_payload(point)
    assert cbor2.loads(payload) == {1: 2, -1: 1, -2: point[1:33], -3: point[33:]}
    assert p.chip_key_point(payload) == point
    for bad in (cbor2.dumps({1: 2, -1: 2, -2: point[1:33], -3: point[33:]}),
                cbor2.dumps({1: 2, -1: 1, -2: point[1:33]}),
                cbor2.dumps({1: 2, -1: 1, -2: point[1:32], -3: point[33:]}),
                cbor2.dumps([1, 2])):
        with pytest.raises(ValueError):
            p.chip_key_point(bad)
    with pytest.raises(ValueError):
        p.chip_key_payload(point[:-1])


def test_aa_message_is_context_then_challenge():
    assert p.aa_message(b"\x01\x02") == b"SSCARD-AA-v1\x00\x01\x02"


def test_atr_advertises_the_application_and_extended_length():
    atr = Atr.decode(p.answer_to_reset())
    assert atr.protocols == (1,)
    assert atr.compact_tlv()[0xF] == p.AID
    assert atr.extended_length
    assert not Atr.decode(p.answer_to_reset(extended_length=False)).extended_length


@pytest.mark.parametrize("trace", TRACES, ids=[t.title for t in TRACES])
def test_documented_traces_are_what_the_card_answers(trace):
    assert len(run_trace(trace)) == len(trace.steps)
