"""Tear safety of the station (issue 5, item 2): the card pulled out, its power lost during a
write, or an answer lost, at every APDU of a station run; the issuer's answer lost; the
station dead. After each: no terminal accepts the card (unless it is complete), the issuer
has not recorded the card personalised, and the job resumes with the same card (or takes a
new blank) to a locked card that a terminal accepts.

Through the EmulatorLink for speed; tests/station/test_station_pcscd.py does a few
positions through the real pcscd."""

from __future__ import annotations


import pytest

from firmware_tools.card.emulator import FaultPlan, ReferenceCard
from firmware_tools.card.profile import Lifecycle
from firmware_tools.chip_result import ChipReason, ReadStatus
from firmware_tools.link import CardRemovedError, EmulatorLink, LinkError
from issuer.db.models import Card, CardStatus, Station
from issuer.db.production_models import JobState, StationJob
from issuer.services import users
from issuer.services.inputs import StationIn
from issuer.station.client import IssuerClient, IssuerUnreachable, StationClientError
from issuer.station.runner import JobStopped, NoJob, StationError, personalise_next
from tests.station.station_support import PIN, blank, connected, issue_cards, records, terminal_read, trust_store
from clock_support import CLOCK


@pytest.fixture
def rt(sqlite_runtime):
    return sqlite_runtime


@pytest.fixture
def station(sqlite_station_client):
    return sqlite_station_client


@pytest.fixture
def store(rt):
    return trust_store(rt)


def run(card: ReferenceCard | EmulatorLink, client) -> tuple[object, Exception | None]:
    link = card if isinstance(card, EmulatorLink) else connected(card)
    try:
        return personalise_next(link, client, pin=PIN), None
    except (StationError, LinkError, StationClientError) as exc:
        return None, exc


def full_run_apdus(rt, station, short: bool = False) -> int:
    issue_cards(rt, 1)
    result, error = run(blank(FaultPlan(short_apdus_only=short)), station)
    assert error is None
    return result.traffic.apdus


def assert_consistent(rt) -> None:
    """No card is personalised unless its job is done, i.e. its chip was locked and read back."""
    with rt.db.session() as s:
        personalised = {c.id for c in s.query(Card).filter(Card.status == CardStatus.PERSONALISED)}
        done = {j.card_id for j in s.query(StationJob).filter(StationJob.state == JobState.DONE)}
        assert personalised == done
        assert s.query(StationJob).filter(StationJob.state == JobState.CLAIMED).count() == 0


def assert_not_accepted(card: ReferenceCard, store) -> None:
    read = terminal_read(card, store)
    assert read.status is ReadStatus.COMPLETE and not read.valid, read.to_dict()
    from crypto.verdict import Check
    assert read.verdict.result(Check.CHIP_DATA).reason is ChipReason.CHIP_NOT_ISSUED


def resume_and_check(rt, station, store, card: ReferenceCard, error: Exception | None) -> None:
    """The state after a stopped run, then the same card again: locked, accepted, recorded."""
    card.insert()  # back into the reader (a fault fires once)
    assert_consistent(rt)
    if card.image.lifecycle is not Lifecycle.ISSUED:
        assert_not_accepted(card, store)
    if isinstance(error, JobStopped):
        db_card, job = records(rt, error.job.card_id)
        assert db_card.status is CardStatus.ISSUED and job.state is JobState.QUEUED and job.last_error
    result, again = run(card, station)
    assert again is None, again
    assert card.image.lifecycle is Lifecycle.ISSUED
    read = terminal_read(card, store)
    assert read.valid and read.chip_id == result.chip_id, read.to_dict()
    db_card, job = records(rt, result.card_id)
    assert db_card.status is CardStatus.PERSONALISED and job.chip_id == result.chip_id and job.state is JobState.DONE
    assert_consistent(rt)


@pytest.mark.parametrize("short", [False, True], ids=["extended", "short"])
def test_card_removed_at_every_apdu_resumes(rt, station, store, short):
    total = full_run_apdus(rt, station, short)
    assert total >= (36 if short else 30)
    issue_cards(rt, total + 1)
    for n in range(total):
        card = blank(FaultPlan(remove_after=n, short_apdus_only=short))
        _, error = run(card, station)
        assert error is not None, n
        assert card.image.lifecycle is not Lifecycle.ISSUED  # ACTIVATE FILE is the last APDU
        resume_and_check(rt, station, store, card, error)


@pytest.mark.parametrize("short", [False, True], ids=["extended", "short"])
def test_power_lost_during_every_update_binary_resumes(rt, station, store, short):
    counting = blank(FaultPlan(short_apdus_only=short))
    issue_cards(rt, 1)
    assert run(counting, station)[1] is None
    updates = counting._updates
    assert updates >= (9 if short else 6)  # short APDUs: the photo and the security object in 255-byte pieces
    issue_cards(rt, updates)
    for k in range(1, updates + 1):
        card = blank(FaultPlan(tear_update=k, tear_keep=(k * 37) % 200, short_apdus_only=short))
        _, error = run(card, station)
        assert isinstance(error, JobStopped) and card.image.lifecycle is Lifecycle.PERSONALISING, k
        resume_and_check(rt, station, store, card, error)


class LosesAnswer(EmulatorLink):
    """The card executes the n-th APDU, then the answer is lost (the card pulled just after)."""

    def __init__(self, card: ReferenceCard, n: int):
        super().__init__(card)
        self.n, self.sent = n, 0

    def transmit(self, apdu: bytes) -> bytes:
        response = super().transmit(apdu)
        self.sent += 1
        if self.sent == self.n:
            raise CardRemovedError("the answer was lost")
        return response


def test_answer_lost_at_every_apdu_resumes(rt, station, store):
    total = full_run_apdus(rt, station)
    issue_cards(rt, total)
    for n in range(1, total + 1):
        card = blank()
        link = LosesAnswer(card, n)
        link.connect()
        _, error = run(link, station)
        assert error is not None, n
        if n == total:  # ACTIVATE FILE reached the card: it is locked, and complete
            assert card.image.lifecycle is Lifecycle.ISSUED and terminal_read(card, store).valid
        resume_and_check(rt, station, store, card, error)


class Flaky:
    """The station's client, losing the issuer's answer to one call (the call itself was done)."""

    def __init__(self, client: IssuerClient, call: str):
        self.client, self.call = client, call

    def __getattr__(self, name):
        method = getattr(self.client, name)
        if name != self.call:
            return method

        def lost(*args, **kwargs):
            method(*args, **kwargs)
            raise IssuerUnreachable("the answer was lost")
        return lost


@pytest.mark.parametrize("call", ["claim", "sign_security_object", "complete"])
def test_issuer_answer_lost_resumes(rt, station, store, call):
    issue_cards(rt, 2)
    card = blank()
    _, error = run(card, Flaky(station, call))
    assert error is not None
    if call == "claim":  # nothing written; the lease holds the job until it expires
        assert card.image.lifecycle is Lifecycle.BLANK
        result, again = run(card, station)
        assert again is None and result.job_id == 2
        return
    if call == "complete":  # the issuer recorded it; the card is locked and complete
        assert card.image.lifecycle is Lifecycle.ISSUED
        result, again = run(card, station)
        assert again is None and result.already_done
        return
    resume_and_check(rt, station, store, card, error)


class Dies(Flaky):
    """A station that dies when the card is pulled: it never releases the job."""

    def __init__(self, client: IssuerClient):
        super().__init__(client, "release")

    def __getattr__(self, name):
        if name == "release":
            return lambda *args, **kwargs: None
        return getattr(self.client, name)


@pytest.mark.parametrize("n", [3, 9, 20, 28])
def test_station_dies_card_goes_to_another_station(rt, station, store, sqlite_staff, n):
    issue_cards(rt, 2)
    now = [CLOCK.now()]  # the security object's iat comes from this clock
    rt.clock = lambda: now[0]
    card = blank(FaultPlan(remove_after=n))
    _, error = run(card, Dies(station))
    assert error is not None
    other = second_station(rt, station)
    card.insert()
    signed = isinstance(error, JobStopped) and records(rt, error.job.card_id)[1].chip_id is not None
    if signed:  # the card carries its chip: the other station resumes the job at once
        result, again = run(card, other)
        assert again is None and result.resumed
    else:  # the job is held until the dead station's lease expires; the card takes the next job
        result, again = run(card, other)
        assert again is None and (not isinstance(error, JobStopped) or result.card_id != error.job.card_id)
        now[0] += rt.settings.station_lease_seconds + 1
        if isinstance(error, JobStopped):
            result, again = run(blank(), other)
            assert again is None and result.card_id == error.job.card_id
    assert terminal_read(card, store).valid
    assert_consistent(rt)


def second_station(rt, station) -> IssuerClient:
    with rt.db.session() as s:
        _station, key = users.create_station(s, "user:ada", StationIn(name="station-2"))
        s.commit()
    http = station.http
    from fastapi.testclient import TestClient
    return IssuerClient(TestClient(http.app, headers={"X-API-Key": key}))


def test_a_new_blank_takes_a_job_whose_chip_never_got_a_security_object(rt, station, store):
    card_id, = issue_cards(rt, 1)
    torn = blank(FaultPlan(remove_after=8))  # stops while writing, before the security object
    _, error = run(torn, station)
    assert isinstance(error, JobStopped) and records(rt, card_id)[1].chip_id is None
    fresh = blank()
    result, again = run(fresh, station)
    assert again is None and result.card_id == card_id and terminal_read(fresh, store).valid
    torn.insert()
    assert_not_accepted(torn, store)
    with pytest.raises(NoJob):  # its chip is bound to nothing, and the queue is empty
        personalise_next(connected(torn), station, pin=PIN)


def test_a_chip_with_a_security_object_is_spoiled_before_a_new_blank_takes_its_job(rt, station, store):
    after_sign = first_read_back_apdu(rt, station)
    card_id, = issue_cards(rt, 1)
    torn = blank()
    link = LosesAnswer(torn, after_sign)
    link.connect()
    _, error = run(link, station)
    assert isinstance(error, JobStopped)
    chip = records(rt, card_id)[1].chip_id
    assert chip is not None
    with pytest.raises(NoJob):
        personalise_next(connected(blank()), station, pin=PIN)  # the job waits for its chip
    job = station.claim(chip_id=chip)  # the station holding the torn card reports it spoiled
    station.spoil(job.id, lease=job.lease, chip_id=chip, reason="chip cracked", terminated=False)
    fresh = blank()
    result, again = run(fresh, station)
    assert again is None and result.card_id == card_id and result.chip_id != chip
    assert terminal_read(fresh, store).valid
    with rt.db.session() as s:
        assert s.query(Station).count() == 1


def first_read_back_apdu(rt, station) -> int:
    """The position (1-based) of the first read-back APDU: the security object is signed and written."""
    sent, starts = [], {}

    class Count(EmulatorLink):
        def transmit(self, apdu):
            sent.append(apdu)
            return super().transmit(apdu)
    issue_cards(rt, 1)
    link = Count(blank())
    link.connect()
    personalise_next(link, station, pin=PIN, on_step=lambda step, ef: starts.setdefault(step.name, len(sent)))
    return starts["READ_BACK"] + 1
