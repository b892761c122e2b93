"""The terminal's chip read (firmware_tools.reader): passive and active authentication, the
verdict, PIN, removal and bad cards. In process (EmulatorLink), and through the real pcscd."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import Check, Outcome, Reason, Status
from crypto.chip import Group
from firmware_tools.card import apdus
from firmware_tools.card.emulator import FaultPlan, ReferenceCard
from firmware_tools.card.image import CardImage
from firmware_tools.card.profile import CARD_INFO, DG1, DG2, DG3, DG5, SECURITY_OBJECT, Lifecycle
from firmware_tools.card.traces import example_image
from firmware_tools.card_io import CountingLink
from firmware_tools.link import EmulatorLink
from firmware_tools.pcsc import PcscLink
from firmware_tools.reader import (EXTENDED_BLOCK, HEAD_BYTES, SHORT_BLOCK, CardReader, ChipReason, ReadStatus,
                                   read_card, verify_aa_signature)
from tests.firmware_tools.chip_fixtures import PIN, chip_issuer  # noqa: F401

PUBLIC = (Group.CARD_INFO, Group.HOLDER, Group.PHOTO, Group.PERMIT)
EVERY = tuple(g for g in Group if g is not Group.CHIP_KEY)


def read(card: ReferenceCard, issuer, groups=PUBLIC, pin=None, store=None, **options):
    link = EmulatorLink(card)
    link.connect()
    return read_card(link, groups, store or issuer.store(), issuer.now, pin, **options)


def failed(result, check: Check):
    assert result.status is ReadStatus.COMPLETE
    assert result.verdict.outcome is Outcome.INVALID, result.to_dict()
    found = result.verdict.result(check)
    assert found is not None and found.status is Status.FAILED, result.to_dict()
    return found.reason


# -- a good card --------------------------------------------------------------------------

def test_issued_card_is_valid_with_passive_and_active_authentication(chip_issuer):
    card = chip_issuer.issued_card()
    result = read(card, chip_issuer)
    assert result.valid, result.to_dict()
    checks = {c.check: c.status for c in result.verdict.checks}
    assert checks[Check.CHIP_DATA] is Status.PASSED and checks[Check.CHIP_GENUINE] is Status.PASSED
    assert set(result.groups) == set(PUBLIC)
    assert result.groups[Group.HOLDER][2][1] == "MONTGOMERY-WHITFIELD DE LA CRUZ"
    assert hashlib.sha256(result.groups[Group.PHOTO]).digest() == result.groups[Group.HOLDER][2][7]
    assert result.security_object.serial == 12345678
    assert result.chip_id and len(result.chip_id) == 16
    assert result.traffic.apdus > 0 and result.traffic.bytes_received > len(result.groups[Group.PHOTO])


def test_only_the_requested_groups_are_read(chip_issuer):
    card = chip_issuer.issued_card()
    small = read(card, chip_issuer, groups=[Group.HOLDER])
    assert small.valid and set(small.groups) == {Group.HOLDER}
    with_photo = read(card, chip_issuer, groups=[Group.HOLDER, Group.PHOTO])
    photo_file = len(card.image.files[DG2.fid])
    assert with_photo.traffic.bytes_received - small.traffic.bytes_received >= photo_file


def test_insurance_needs_the_pin(chip_issuer):
    card = chip_issuer.issued_card()
    assert read(card, chip_issuer, groups=EVERY).status is ReadStatus.PIN_REQUIRED
    wrong = read(card, chip_issuer, groups=EVERY, pin="654321")
    assert wrong.status is ReadStatus.PIN_WRONG and wrong.tries_left == 2 and wrong.verdict is None
    good = read(card, chip_issuer, groups=EVERY, pin=PIN)
    assert good.valid, good.to_dict()
    assert good.groups[Group.INSURANCE][5][0][0] == 1     # pension: normal
    for _ in range(3):
        read(card, chip_issuer, groups=[Group.INSURANCE], pin="000000")
    blocked = read(card, chip_issuer, groups=[Group.INSURANCE], pin=PIN)
    assert blocked.status is ReadStatus.PIN_BLOCKED and blocked.verdict is None


def test_without_insurance_no_pin_is_asked(chip_issuer):
    card = chip_issuer.issued_card()
    result = read(card, chip_issuer, pin=None)
    assert result.valid and Group.INSURANCE not in result.groups


def test_a_group_the_card_does_not_have_is_absent_not_invalid(chip_issuer):
    card = ReferenceCard.blank(pin=PIN)
    content = chip_issuer.content()
    files = {g: b for g, b in content.files.items() if g is not Group.PERMIT}
    from firmware_tools.personalise import CardContent, personalise
    link = EmulatorLink(card)
    link.connect()
    personalise(link, CardContent(files), chip_issuer.signer(), pin=PIN)
    result = read_card(link, PUBLIC, chip_issuer.store(), chip_issuer.now)
    assert result.valid and result.absent == (Group.PERMIT,)


# -- cards that must not pass ---------------------------------------------------------------

def test_copied_card_fails_chip_genuine(chip_issuer):
    original = chip_issuer.issued_card()
    other = chip_issuer.issued_card()  # another chip, its own key
    copy = CardImage(lifecycle=Lifecycle.ISSUED, files=dict(original.image.files), pin=PIN,
                     private_key=other.image.private_key)
    result = read(ReferenceCard(copy), chip_issuer)
    assert failed(result, Check.CHIP_GENUINE) is ChipReason.CHIP_NOT_GENUINE
    assert result.verdict.result(Check.CHIP_DATA).status is Status.PASSED


def test_a_copied_card_never_receives_the_pin(chip_issuer):
    original, other = chip_issuer.issued_card(), chip_issuer.issued_card()
    copy = CardImage(lifecycle=Lifecycle.ISSUED, files=dict(original.image.files), pin=PIN,
                     private_key=other.image.private_key)
    instructions = []

    class Spy(EmulatorLink):
        def transmit(self, apdu):
            instructions.append(apdu[1])
            return super().transmit(apdu)
    link = Spy(ReferenceCard(copy))
    link.connect()
    result = read_card(link, EVERY, chip_issuer.store(), chip_issuer.now, PIN)
    assert result.verdict.result(Check.CHIP_GENUINE).reason is ChipReason.CHIP_NOT_GENUINE
    assert 0x20 not in instructions and Group.INSURANCE not in result.groups   # no VERIFY was sent
    instructions.clear()
    good = Spy(chip_issuer.issued_card())
    good.connect()
    assert read_card(good, EVERY, chip_issuer.store(), chip_issuer.now, PIN).valid
    assert instructions.index(0x20) > instructions.index(0x88)  # VERIFY after INTERNAL AUTHENTICATE
    assert instructions[-1] == 0x20                              # and the PIN forgotten at the end


def test_copy_with_its_own_dg5_fails_chip_data(chip_issuer):
    original = chip_issuer.issued_card()
    other = chip_issuer.issued_card()
    files = dict(original.image.files)
    files[DG5.fid] = other.image.files[DG5.fid]
    copy = CardImage(lifecycle=Lifecycle.ISSUED, files=files, pin=PIN, private_key=other.image.private_key)
    result = read(ReferenceCard(copy), chip_issuer)
    assert failed(result, Check.CHIP_DATA) is ChipReason.CHIP_DIGEST_MISMATCH
    assert result.verdict.result(Check.CHIP_GENUINE).status is Status.NOT_CHECKED


@pytest.mark.parametrize("ef", [CARD_INFO, DG1, DG2, DG3, DG5])
def test_tampered_file_fails_chip_data(chip_issuer, ef):
    card = chip_issuer.issued_card()
    raw = bytearray(card.image.files[ef.fid])
    raw[-3] ^= 0x01  # inside the CBOR item: the TLV still parses
    card.image.files[ef.fid] = bytes(raw)
    result = read(card, chip_issuer)
    assert failed(result, Check.CHIP_DATA) is ChipReason.CHIP_DIGEST_MISMATCH
    assert not result.groups


def test_swapped_group_from_another_card_fails_chip_data(chip_issuer):
    card = chip_issuer.issued_card()
    card.image.files[DG3.fid] = DG3.wrap(b"\xa1\x04\xa0")  # {4: {}}, well-formed, not what was signed
    assert failed(read(card, chip_issuer), Check.CHIP_DATA) is ChipReason.CHIP_DIGEST_MISMATCH


def test_revoked_serial_is_invalid(chip_issuer):
    card = chip_issuer.issued_card()
    result = read(card, chip_issuer, store=chip_issuer.store(revoked={"SH01": [12345678]}))
    assert failed(result, Check.REVOCATION) is Reason.REVOKED
    # the digests were authentic: the chip checks still ran (and passed)
    assert result.verdict.result(Check.CHIP_GENUINE).status is Status.PASSED


def test_stale_revocation_data_is_indeterminate_but_the_chip_is_still_checked(chip_issuer):
    card = chip_issuer.issued_card()
    result = read(card, chip_issuer, revocation_max_age=1)
    assert result.verdict.outcome is Outcome.INDETERMINATE
    assert result.verdict.result(Check.CHIP_GENUINE).status is Status.PASSED


def test_unknown_issuer_stops_before_the_chip_checks(chip_issuer, tmp_path):
    from crypto.pki import DevelopmentPki
    from crypto_support import make_store
    stranger = DevelopmentPki.create(tmp_path, b"another-passphrase")
    result = read(chip_issuer.issued_card(), chip_issuer, store=make_store(stranger, chip_issuer.now))
    assert result.verdict.outcome is Outcome.INVALID
    assert result.verdict.result(Check.CHIP_DATA).status is Status.NOT_CHECKED
    assert not result.groups


@pytest.mark.parametrize(("state", "reason"), [(Lifecycle.BLANK, ChipReason.CHIP_NOT_ISSUED),
                                               (Lifecycle.PERSONALISING, ChipReason.CHIP_NOT_ISSUED),
                                               (Lifecycle.TERMINATED, ChipReason.CHIP_TERMINATED)])
def test_a_card_that_is_not_issued_is_invalid(chip_issuer, state, reason):
    card = chip_issuer.issued_card()
    card.image.lifecycle = state
    result = read(card, chip_issuer)
    assert failed(result, Check.CHIP_DATA) is reason
    assert result.verdict.result(Check.SIGNATURE).status is Status.NOT_CHECKED


def test_the_documentation_example_card_is_invalid_not_a_crash(chip_issuer):
    result = read(ReferenceCard(example_image()), chip_issuer, pin=PIN)
    assert result.verdict.outcome is Outcome.INVALID
    assert result.verdict.result(Check.FORMAT).status is Status.FAILED


@pytest.mark.parametrize("content", [
    b"",                                     # empty
    b"\x77",                                 # header cut short
    b"\x77\x84\x7f\xff\xff\xff",             # claims 2 GB
    b"\x77\x10\x53\x0e",                     # claims more than the file has
    b"\x61\x03\x53\x01\xa0",                 # another file's tag
    SECURITY_OBJECT.wrap(b"\xd2\x84\x40\xa0\xf6\x40"),  # COSE shape, nothing in it
])
def test_malformed_security_object_is_invalid(chip_issuer, content):
    card = chip_issuer.issued_card()
    if content:
        card.image.files[SECURITY_OBJECT.fid] = content
    else:
        del card.image.files[SECURITY_OBJECT.fid]
    result = read(card, chip_issuer)
    assert result.verdict.outcome is Outcome.INVALID and result.verdict.result(Check.FORMAT).status is Status.FAILED


def test_malformed_chip_key_is_invalid(chip_issuer):
    card = chip_issuer.issued_card()
    card.image.files[DG5.fid] = b"\x65\x02\x53\x00"
    assert failed(read(card, chip_issuer), Check.CHIP_DATA) in (ChipReason.CHIP_DIGEST_MISMATCH,
                                                                ChipReason.CHIP_FILE_MALFORMED)


@pytest.fixture(scope="module")
def issued_image(chip_issuer) -> CardImage:
    return chip_issuer.issued_card().image


@settings(max_examples=150, deadline=None)
@given(ef=st.sampled_from([CARD_INFO, DG1, DG2, DG3, DG5, SECURITY_OBJECT]), data=st.binary(max_size=600),
       keep_header=st.booleans())
def test_random_file_content_is_never_valid_and_never_a_crash(chip_issuer, issued_image, ef, data, keep_header):
    card = ReferenceCard(issued_image.copy())
    original = card.image.files[ef.fid]
    content = (original[:4] + data) if keep_header else data
    content = content[:ef.max_size]
    if content == original:
        return
    if content:
        card.image.files[ef.fid] = content
    else:
        card.image.files.pop(ef.fid, None)
    result = read(card, chip_issuer)
    assert result.status is ReadStatus.COMPLETE
    assert result.verdict.outcome is Outcome.INVALID, result.to_dict()


@pytest.mark.parametrize("every", [1, 2, 3, 5, 8])
def test_corrupted_responses_are_never_valid(chip_issuer, every):
    card = chip_issuer.issued_card(FaultPlan(corrupt_every=every))
    result = read(card, chip_issuer)
    assert result.status is ReadStatus.COMPLETE and result.verdict.outcome is Outcome.INVALID


def test_not_an_sscard_card():
    class Foreign:
        removed = False

        def power_on(self):
            return bytes.fromhex("3b00")

        def power_off(self):
            pass

        def process_apdu(self, command):
            return b"\x6a\x82"
    link = EmulatorLink(Foreign())
    link.connect()
    result = read_card(link, PUBLIC, store=None, now=0)
    assert result.status is ReadStatus.NOT_SSCARD and result.verdict is None


# -- the card leaves the reader ---------------------------------------------------------------

def test_removal_at_every_apdu_gives_card_removed_never_a_verdict(chip_issuer):
    full = read(chip_issuer.issued_card(), chip_issuer, groups=EVERY, pin=PIN)
    assert full.valid
    for n in range(full.traffic.apdus):
        card = chip_issuer.issued_card(FaultPlan(remove_after=n))
        result = read(card, chip_issuer, groups=EVERY, pin=PIN)
        assert result.status is ReadStatus.CARD_REMOVED, (n, result.to_dict())
        assert result.verdict is None and not result.groups
        assert result.message == "card removed, insert it again"
    again = read(chip_issuer.issued_card(FaultPlan(remove_after=full.traffic.apdus)), chip_issuer,
                 groups=EVERY, pin=PIN)
    assert again.valid


def test_no_card_in_the_reader(chip_issuer):
    link = EmulatorLink(chip_issuer.issued_card())  # never connected: pcsc says the same
    link.remove()
    result = read_card(link, PUBLIC, chip_issuer.store(), chip_issuer.now)
    assert result.status in (ReadStatus.CARD_REMOVED, ReadStatus.NO_CARD) and result.verdict is None


# -- the file system reader ---------------------------------------------------------------------

def _apdus_for(card, ef):
    link = CountingLink(EmulatorLink(card))
    link.connect()
    reader = CardReader(link)
    reader.select_application()
    before = link.traffic.apdus
    data = reader.read_file(ef)
    assert data == card.image.files[ef.fid]
    return link.traffic.apdus - before


def test_read_file_learns_the_length_and_uses_large_reads_when_it_can(chip_issuer):
    issued = chip_issuer.issued_card()
    size = len(issued.image.files[DG2.fid])
    assert size > 10_000
    assert _apdus_for(issued, DG2) == 2                    # head, then the rest at once
    short = ReferenceCard(issued.image, FaultPlan(short_apdus_only=True))
    assert _apdus_for(short, DG2) == 1 + -(-(size - HEAD_BYTES) // SHORT_BLOCK)
    assert _apdus_for(issued, DG5) == 2
    assert EXTENDED_BLOCK > DG2.max_size


def test_short_apdu_only_card_reads_valid_with_short_apdus_only(chip_issuer):
    card = chip_issuer.issued_card(FaultPlan(short_apdus_only=True))
    sizes = []

    class Spy(EmulatorLink):
        def transmit(self, apdu):
            sizes.append(len(apdu))
            return super().transmit(apdu)
    link = Spy(card)
    link.connect()
    assert not link.extended_length
    result = read_card(link, EVERY, chip_issuer.store(), chip_issuer.now, PIN)
    assert result.valid, result.to_dict()
    assert max(sizes) <= 5 + 255 + 1


def test_active_authentication_detects_the_wrong_key(chip_issuer):
    card = chip_issuer.issued_card()
    other = chip_issuer.issued_card()
    link = EmulatorLink(card)
    link.connect()
    reader = CardReader(link)
    reader.select_application()
    from firmware_tools.card.profile import chip_key_point
    own = chip_key_point(DG5.unwrap(card.image.files[DG5.fid]))
    theirs = chip_key_point(DG5.unwrap(other.image.files[DG5.fid]))
    assert reader.active_authenticate(own)
    assert not reader.active_authenticate(theirs)


def test_aa_signature_checks():
    assert not verify_aa_signature(b"\x04" + b"\x01" * 64, b"challenge", b"\x00" * 64)  # not on the curve
    assert not verify_aa_signature(b"\x04" + b"\x01" * 64, b"challenge", b"\x00" * 63)  # wrong length
    assert apdus.internal_authenticate(b"x" * 32).ne == 256


# -- through pcscd -------------------------------------------------------------------------------

@pytest.mark.pcsc
@pytest.mark.parametrize("short", [False, True])
def test_read_through_pcscd(chip_issuer, attach_card, short):
    card = chip_issuer.issued_card(FaultPlan(short_apdus_only=short))
    session = attach_card(card, slot=0)
    with PcscLink(session_reader(session)) as link:
        assert link.extended_length is not short
        result = read_card(link, EVERY, chip_issuer.store(), chip_issuer.now, PIN)
    assert result.valid, result.to_dict()
    assert Group.INSURANCE in result.groups


@pytest.mark.pcsc
@pytest.mark.parametrize("n", [0, 3, 6, 9])
def test_removal_mid_read_through_pcscd(chip_issuer, attach_card, n):
    card = chip_issuer.issued_card(FaultPlan(remove_after=n))
    session = attach_card(card, slot=0)
    with PcscLink(session_reader(session), removal_grace=2.0) as link:
        result = read_card(link, EVERY, chip_issuer.store(), chip_issuer.now, PIN)
    assert result.status is ReadStatus.CARD_REMOVED, result.to_dict()
    assert result.verdict is None


def session_reader(session) -> str:
    from firmware_tools.vpcd import reader_name_for_slot
    return reader_name_for_slot(session.slot)
