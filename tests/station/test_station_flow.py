"""The station end to end in one process: the reference card behind an EmulatorLink, the
issuer behind FastAPI's TestClient; a blank card becomes a locked card that a terminal
accepts, and the issuer records the chip and the personalised state."""

from __future__ import annotations

import pytest

from firmware_tools.card import apdus
from firmware_tools.card.profile import CARD_INFO, DG1, DG5, SECURITY_OBJECT, Lifecycle, chip_key_point
from firmware_tools.card_io import chip_id
from firmware_tools.personalise import Step, write_commands
from issuer.db.models import CardStatus
from issuer.db.production_models import JobState
from issuer.station.runner import CardNotUsable, NoJob, inspect, personalise_next
from tests.station.station_support import PIN, blank, connected, issue_cards, records, terminal_read, trust_store


def test_blank_card_becomes_locked_valid_and_recorded(runtime, station_client):
    card_id, = issue_cards(runtime, 1)
    card = blank()
    steps = []
    result = personalise_next(connected(card), station_client, pin=PIN, on_step=lambda step, ef: steps.append(step))
    assert card.image.lifecycle is Lifecycle.ISSUED
    assert result.card_id == card_id and not result.resumed and result.before is Lifecycle.BLANK
    assert result.atr == card.atr and result.traffic.apdus > 10
    assert {Step.START, Step.GENERATE_KEY, Step.WRITE, Step.SIGN, Step.READ_BACK, Step.ACTIVATE} <= set(steps)
    read = terminal_read(card, trust_store(runtime))
    assert read.valid, read.to_dict()
    assert read.chip_id == result.chip_id
    db_card, job = records(runtime, card_id)
    assert db_card.status is CardStatus.PERSONALISED and db_card.security_object is not None
    assert (job.state, job.chip_id, job.atr, job.lease_token) == (JobState.DONE, result.chip_id, card.atr.hex(), None)


def test_second_run_with_the_same_card_says_done(sqlite_runtime, sqlite_station_client):
    issue_cards(sqlite_runtime, 1)
    card = blank()
    first = personalise_next(connected(card), sqlite_station_client, pin=PIN)
    again = personalise_next(connected(card), sqlite_station_client, pin=PIN)
    assert again.already_done and again.job_id == first.job_id and again.chip_id == first.chip_id


def test_cards_are_taken_oldest_first_and_the_queue_runs_dry(sqlite_runtime, sqlite_station_client):
    ids = issue_cards(sqlite_runtime, 2)
    taken = [personalise_next(connected(blank()), sqlite_station_client, pin=PIN).card_id for _ in ids]
    assert taken == ids
    with pytest.raises(NoJob):
        personalise_next(connected(blank()), sqlite_station_client, pin=PIN)


def test_a_locked_card_without_a_job_is_refused_and_the_queue_is_untouched(sqlite_runtime, sqlite_station_client):
    card_id, = issue_cards(sqlite_runtime, 1)
    other = blank()
    link = connected(other)
    script = [apdus.select_application(), apdus.start_personalisation(), apdus.generate_key_pair()]
    for ef in (CARD_INFO, DG1, SECURITY_OBJECT):
        script += write_commands(ef, ef.wrap(b"\xa0"))
    for command in (*script, apdus.activate()):  # locked elsewhere, not with this issuer's data
        assert link.send(command).sw == 0x9000, command
    assert inspect(connected(other)).lifecycle is Lifecycle.ISSUED
    with pytest.raises(NoJob, match="locked already"):
        personalise_next(connected(other), sqlite_station_client, pin=PIN)
    _card, job = records(sqlite_runtime, card_id)
    assert job.state is JobState.QUEUED and job.attempts == 0


def test_terminated_and_foreign_cards_are_refused_before_a_claim(sqlite_runtime, sqlite_station_client):
    card_id, = issue_cards(sqlite_runtime, 1)
    card = blank()
    link = connected(card)
    for command in (apdus.select_application(), apdus.start_personalisation(), apdus.terminate()):
        link.transmit(command.encode())
    with pytest.raises(CardNotUsable, match="terminated"):
        personalise_next(connected(card), sqlite_station_client, pin=PIN)
    _card, job = records(sqlite_runtime, card_id)
    assert job.attempts == 0


def test_chip_id_is_the_chip_key_id(sqlite_runtime, sqlite_station_client):
    issue_cards(sqlite_runtime, 1)
    card = blank()
    result = personalise_next(connected(card), sqlite_station_client, pin=PIN)
    assert result.chip_id == chip_id(chip_key_point(DG5.unwrap(card.image.files[DG5.fid])))
