"""Personalisation (firmware_tools.personalise): the whole script, restarts, and an
interruption at every APDU; in process (EmulatorLink) and through the real pcscd."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crypto import Check, Outcome, Status
from crypto.chip import Group
from crypto.pki import DevelopmentPki
from firmware_tools.card.emulator import FaultPlan, ReferenceCard
from firmware_tools.card.profile import DG2, DG4, DG5, SECURITY_OBJECT, Lifecycle
from firmware_tools.card_io import EF_FOR_GROUP
from firmware_tools.link import EmulatorLink
from firmware_tools.pcsc import PcscLink
from firmware_tools.personalise import (EXTENDED_CHUNK, SHORT_CHUNK, CardContent, CardNotBlankError,
                                        CardRefusedError, PersonalisationError, PersonalisationLinkError,
                                        SigningError, Step, as_security_object_file, personalise, write_commands)
from firmware_tools.reader import ChipReason, ReadStatus, read_card
from firmware_tools.vpcd import reader_name_for_slot
from tests.firmware_tools.pcscd_fixtures import wait_reader_state
from tests.firmware_tools.chip_fixtures import (PASSPHRASE, PIN, chip_issuer, sample_photo,  # noqa: F401
                                                sample_record)
from clock_support import CLOCK

REPO = Path(__file__).resolve().parents[2]
EVERY = tuple(g for g in Group if g is not Group.CHIP_KEY)


def connected(card: ReferenceCard) -> EmulatorLink:
    link = EmulatorLink(card)
    link.connect()
    return link


def verdict_of(card: ReferenceCard, issuer):
    return read_card(connected(card), EVERY, issuer.store(), issuer.now, PIN)


# -- the script --------------------------------------------------------------------------------

def test_blank_card_is_personalised_locked_and_reads_valid(chip_issuer):
    card = ReferenceCard.blank(pin=PIN)
    result = chip_issuer.personalise(card)
    assert card.image.lifecycle is Lifecycle.ISSUED
    assert not result.restarted and result.atr == card.atr
    for group, raw in result.files.items():
        assert card.image.files[EF_FOR_GROUP[group].fid] == raw
    assert card.image.files[SECURITY_OBJECT.fid] == result.security_object
    assert result.public_key[0] == 0x04 and len(result.chip_id) == 16
    assert result.traffic.apdus == 28 and result.traffic.bytes_sent > len(sample_photo())
    read = verdict_of(card, chip_issuer)
    assert read.valid, read.to_dict()
    assert read.chip_id == result.chip_id
    # locked: no more writes
    link = connected(card)
    assert link.transmit(bytes.fromhex("00A4040C08F053534341524401")) == b"\x90\x00"
    assert link.transmit(bytes.fromhex("00D69D000100"))[-2:] == b"\x69\x85"


def test_short_apdu_only_card_is_written_in_255_byte_chunks(chip_issuer):
    card = ReferenceCard.blank(pin=PIN, faults=FaultPlan(short_apdus_only=True))
    sizes = []

    class Spy(EmulatorLink):
        def transmit(self, apdu):
            sizes.append(len(apdu))
            return super().transmit(apdu)
    link = Spy(card)
    link.connect()
    result = personalise(link, chip_issuer.content(), chip_issuer.signer(), pin=PIN)
    assert max(sizes) == 5 + SHORT_CHUNK
    dg2 = len(result.files[Group.PHOTO])
    assert result.traffic.apdus > dg2 // SHORT_CHUNK
    assert verdict_of(card, chip_issuer).valid


def test_write_commands_chunks_and_erase():
    raw = DG2.wrap(b"\x59\x10\x00" + bytes(4096))
    short = write_commands(DG2, raw)
    assert [c.ins for c in short[:2]] == [0xA4, 0xD6] and len(short) == 1 + -(-len(raw) // 255)
    assert len(write_commands(DG2, raw, chunk=EXTENDED_CHUNK, erase=True)) == 3


def test_security_object_may_come_as_cose_or_as_the_file():
    cose = b"\xd2\x84\x40\xa0\xf6\x40"
    assert as_security_object_file(cose) == SECURITY_OBJECT.wrap(cose)
    assert as_security_object_file(SECURITY_OBJECT.wrap(cose)) == SECURITY_OBJECT.wrap(cose)


def test_content_is_checked_before_the_card_is_touched(chip_issuer):
    content = chip_issuer.content()
    with pytest.raises(ValueError, match="DG5"):
        CardContent({**content.files, Group.CHIP_KEY: DG5.wrap(b"\xa0")})
    with pytest.raises(ValueError, match="required"):
        CardContent({Group.HOLDER: content.files[Group.HOLDER]})
    with pytest.raises(ValueError):
        CardContent({**content.files, Group.PHOTO: DG4.wrap(b"\xa0")})  # DG4's tag in DG2
    card = ReferenceCard.blank(pin=PIN)
    link = connected(card)
    with pytest.raises(ValueError, match="PIN"):
        personalise(link, content, chip_issuer.signer())  # DG4 to read back, no PIN
    assert card.image.lifecycle is Lifecycle.BLANK


@pytest.mark.parametrize("state", [Lifecycle.ISSUED, Lifecycle.TERMINATED, Lifecycle.PERSONALISING])
def test_only_a_blank_card_is_personalised(chip_issuer, state):
    card = ReferenceCard.blank(pin=PIN)
    card.image.lifecycle = state
    with pytest.raises(CardNotBlankError) as raised:
        chip_issuer.personalise(card)
    assert raised.value.lifecycle is state and raised.value.step is Step.CHECK_STATE
    assert card.image.lifecycle is state


def test_wrong_transport_pin_stops_before_activation(chip_issuer):
    card = ReferenceCard.blank(pin="111111")
    with pytest.raises(CardRefusedError) as raised:
        chip_issuer.personalise(card)
    assert raised.value.step is Step.VERIFY_PIN
    assert card.image.lifecycle is Lifecycle.PERSONALISING and card.image.pin_tries == 2


def test_signing_failure_leaves_a_restartable_card_that_keeps_its_key(chip_issuer):
    card = ReferenceCard.blank(pin=PIN)

    def broken(files):
        raise RuntimeError("HSM unavailable")
    with pytest.raises(SigningError) as raised:
        personalise(connected(card), chip_issuer.content(), broken, pin=PIN)
    assert raised.value.step is Step.SIGN and "HSM unavailable" in str(raised.value)
    assert card.image.lifecycle is Lifecycle.PERSONALISING
    key = card.image.private_key
    assert verdict_of(card, chip_issuer).verdict.result(Check.CHIP_DATA).reason is ChipReason.CHIP_NOT_ISSUED

    with pytest.raises(SigningError):  # not a security object
        personalise(connected(card), chip_issuer.content(), lambda files: b"nonsense", pin=PIN, allow_restart=True)
    result = chip_issuer.personalise(card, allow_restart=True)
    assert result.restarted and card.image.private_key == key
    assert verdict_of(card, chip_issuer).valid


def test_restart_with_a_new_chip_key(chip_issuer):
    card = ReferenceCard.blank(pin=PIN)
    with pytest.raises(SigningError):
        personalise(connected(card), chip_issuer.content(), lambda files: b"", pin=PIN)
    key = card.image.private_key
    result = chip_issuer.personalise(card, allow_restart=True, new_chip_key=True)
    assert card.image.private_key != key and result.restarted
    assert verdict_of(card, chip_issuer).valid


def test_restart_erases_longer_leftovers(chip_issuer):
    card = ReferenceCard.blank(pin=PIN)
    with pytest.raises(SigningError):
        personalise(connected(card), chip_issuer.content(), lambda files: b"", pin=PIN)
    card.image.files[DG2.fid] += b"\x00" * 100  # a longer earlier photo
    chip_issuer.personalise(card, allow_restart=True)
    assert verdict_of(card, chip_issuer).valid


# -- interrupted at every APDU ----------------------------------------------------------------

def _interrupted(chip_issuer, faults: FaultPlan) -> tuple[ReferenceCard, PersonalisationError | None]:
    card = ReferenceCard.blank(pin=PIN, faults=faults)
    try:
        chip_issuer.personalise(card)
    except PersonalisationError as exc:
        return card, exc
    return card, None


def _never_valid_then_restart(chip_issuer, card: ReferenceCard) -> None:
    card.insert()
    if card.image.lifecycle is Lifecycle.ISSUED:  # only after ACTIVATE FILE: the card is complete
        assert verdict_of(card, chip_issuer).valid
        return
    read = verdict_of(card, chip_issuer)
    assert read.status is ReadStatus.COMPLETE and read.verdict.outcome is Outcome.INVALID
    assert read.verdict.result(Check.CHIP_DATA).reason is ChipReason.CHIP_NOT_ISSUED
    chip_issuer.personalise(card, allow_restart=card.image.lifecycle is Lifecycle.PERSONALISING)
    assert verdict_of(card, chip_issuer).valid


def test_removal_at_every_apdu_leaves_a_card_that_is_never_valid_and_restarts(chip_issuer):
    total = chip_issuer.personalise(ReferenceCard.blank(pin=PIN)).traffic.apdus
    steps = set()
    for n in range(total):
        card, error = _interrupted(chip_issuer, FaultPlan(remove_after=n))
        assert isinstance(error, PersonalisationLinkError) and error.removed, (n, error)
        steps.add(error.step)
        assert card.image.lifecycle is not Lifecycle.ISSUED, n  # ACTIVATE FILE is the last APDU
        _never_valid_then_restart(chip_issuer, card)
    assert {Step.SELECT, Step.START, Step.GENERATE_KEY, Step.WRITE, Step.WRITE_SO, Step.READ_BACK,
            Step.ACTIVATE} <= steps
    card, error = _interrupted(chip_issuer, FaultPlan(remove_after=total))  # leaves after the last APDU
    assert error is None and verdict_of(ReferenceCard(card.image), chip_issuer).valid


@pytest.mark.parametrize("short", [False, True])
def test_tearing_at_every_update_binary_leaves_a_card_that_restarts(chip_issuer, short):
    sent = []

    class Spy(EmulatorLink):
        def transmit(self, apdu):
            sent.append(apdu[1])
            return super().transmit(apdu)
    link = Spy(ReferenceCard.blank(pin=PIN, faults=FaultPlan(short_apdus_only=short)))
    link.connect()
    personalise(link, chip_issuer.content(), chip_issuer.signer(), pin=PIN)
    updates = sent.count(0xD6)  # INS of UPDATE BINARY
    assert updates == (60 if short else 6) or (short and updates > 50)
    for k in range(1, updates + 1):
        faults = FaultPlan(tear_update=k, tear_keep=(k * 37) % 200, short_apdus_only=short)
        card, error = _interrupted(chip_issuer, faults)
        assert isinstance(error, PersonalisationLinkError) and error.removed
        assert error.step in (Step.WRITE, Step.WRITE_SO)
        assert card.image.lifecycle is Lifecycle.PERSONALISING
        _never_valid_then_restart(chip_issuer, card)


@pytest.mark.parametrize("every", [1, 2, 3, 4, 7])
def test_corrupted_responses_never_give_an_issued_card(chip_issuer, every):
    card, error = _interrupted(chip_issuer, FaultPlan(corrupt_every=every))
    assert error is not None
    assert card.image.lifecycle is not Lifecycle.ISSUED


# -- through pcscd ---------------------------------------------------------------------------

@pytest.mark.pcsc
@pytest.mark.parametrize("short", [False, True])
def test_personalise_through_pcscd_then_read_valid(chip_issuer, attach_card, short):
    card = ReferenceCard.blank(pin=PIN, faults=FaultPlan(short_apdus_only=short))
    session = attach_card(card, slot=1)
    reader = reader_name_for_slot(1)
    with PcscLink(reader) as link:
        result = personalise(link, chip_issuer.content(), chip_issuer.signer(), pin=PIN)
        assert result.atr == card.atr
    assert card.image.lifecycle is Lifecycle.ISSUED
    with PcscLink(reader) as link:
        read = read_card(link, EVERY, chip_issuer.store(), chip_issuer.now, PIN)
    assert read.valid, read.to_dict()
    assert read.chip_id == result.chip_id
    assert read.verdict.result(Check.CHIP_GENUINE).status is Status.PASSED
    if not short:
        done = ssc_card("dump", "--reader", reader, "--pin", PIN)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "MONTGOMERY-WHITFIELD DE LA CRUZ" in done.stdout and "lifecycle: ISSUED" in done.stdout
    session.stop()


@pytest.mark.pcsc
def test_removal_during_personalisation_through_pcscd_then_restart(chip_issuer, attach_card):
    card = ReferenceCard.blank(pin=PIN, faults=FaultPlan(remove_after=12))
    session = attach_card(card, slot=1)
    reader = reader_name_for_slot(1)
    with PcscLink(reader, removal_grace=2.0) as link:
        with pytest.raises(PersonalisationLinkError) as raised:
            personalise(link, chip_issuer.content(), chip_issuer.signer(), pin=PIN)
    assert raised.value.removed and raised.value.step is Step.WRITE
    session.insert()
    assert wait_reader_state(reader, present=True, timeout=5.0)
    with PcscLink(reader) as link:
        result = personalise(link, chip_issuer.content(), chip_issuer.signer(), pin=PIN, allow_restart=True)
        assert result.restarted
        assert read_card(link, EVERY, chip_issuer.store(), chip_issuer.now, PIN).valid


# -- ssc-card personalise ------------------------------------------------------------------------

def ssc_card(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware_tools", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.pcsc
def test_ssc_card_personalise_through_pcscd(attach_card, tmp_path):
    keys = tmp_path / "keys"
    pki = DevelopmentPki.create(keys, PASSPHRASE)
    record, photo = tmp_path / "record.json", tmp_path / "photo.jpg"
    record.write_text(json.dumps(sample_record(), ensure_ascii=False))
    photo.write_bytes(sample_photo())
    card = ReferenceCard.blank(pin=PIN)
    attach_card(card, slot=1)
    reader = reader_name_for_slot(1)
    done = ssc_card("personalise", "--record", str(record), "--photo", str(photo), "--keys", str(keys),
                    "--reader", reader)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "chip id" in done.stdout and card.image.lifecycle is Lifecycle.ISSUED
    from crypto_support import make_store
    with PcscLink(reader) as link:
        read = read_card(link, EVERY, make_store(pki, CLOCK.now()), CLOCK.now(), PIN)
    assert read.valid, read.to_dict()
    again = ssc_card("personalise", "--record", str(record), "--photo", str(photo), "--keys", str(keys),
                     "--reader", reader)
    assert again.returncode == 1 and "issued" in again.stderr

    from crypto import build_trust_list
    now = CLOCK.now()
    trust_list = tmp_path / "trust-list.cose"
    trust_list.write_bytes(build_trust_list(version=1, issued_at=now - 60, next_update=now + 86400,
                                            issuer_certificates=[pki.issuer.certificate],
                                            signer=pki.trust_list_signer))
    dump = ssc_card("dump", "--reader", reader, "--root", str(keys / "root-ca.pem"), "--trust-list", str(trust_list))
    assert dump.returncode == 0, dump.stdout + dump.stderr
    assert '"family_name": "MONTGOMERY-WHITFIELD DE LA CRUZ"' in dump.stdout
    assert '"birth_date": "1979-11-30"' in dump.stdout and '"work_permit_number": "156000019791130045"' in dump.stdout
    assert "chip verdict: VALID" in dump.stdout and "chip_genuine        passed" in dump.stdout
    revoked = tmp_path / "revoked.cose"
    revoked.write_bytes(build_trust_list(version=2, issued_at=now - 60, next_update=now + 86400,
                                         issuer_certificates=[pki.issuer.certificate],
                                         revoked={"SH01": [12345678]}, signer=pki.trust_list_signer))
    dump = ssc_card("dump", "--reader", reader, "--root", str(keys / "root-ca.pem"), "--trust-list", str(revoked))
    assert dump.returncode == 1 and "chip verdict: INVALID" in dump.stdout and "REVOKED" in dump.stdout


def test_personalise_usage_errors_exit_2(tmp_path):
    record, photo = tmp_path / "record.json", tmp_path / "photo.jpg"
    photo.write_bytes(sample_photo())
    record.write_text("{not json")
    done = ssc_card("personalise", "--record", str(record), "--photo", str(photo), "--keys", str(tmp_path))
    assert done.returncode == 2 and "cannot read the record" in done.stderr
    bad = sample_record()
    bad["holder"]["photo_digest"] = "00" * 32
    record.write_text(json.dumps(bad))
    done = ssc_card("personalise", "--record", str(record), "--photo", str(photo), "--keys", str(tmp_path))
    assert done.returncode == 2 and "photo does not match" in done.stderr, done.stderr
    record.write_text(json.dumps(sample_record()))
    done = ssc_card("personalise", "--record", str(record), "--photo", str(photo), "--keys", str(tmp_path))
    assert done.returncode == 2 and "root-ca.pem" in done.stderr, done.stderr     # no keys there


def test_readable_view_names_fields_and_leaves_other_shapes_alone(chip_issuer):
    from firmware_tools.card.profile import CARD_INFO, DG1, DG3
    from firmware_tools.card.traces import EXAMPLE_PAYLOADS
    from firmware_tools.chip_view import readable
    content = chip_issuer.content()
    holder = readable(DG1, DG1.unwrap(content.files[Group.HOLDER]))
    assert holder["holder"]["sex"] == "female" and holder["identifiers"]["passport_number"] == "125834967"
    assert readable(DG3, DG3.unwrap(content.files[Group.PERMIT]))["permit"]["category"] == "A"
    assert readable(CARD_INFO, EXAMPLE_PAYLOADS[CARD_INFO]) is None   # the docs' illustrative payload
    assert readable(SECURITY_OBJECT, b"\xd2\x84") is None
