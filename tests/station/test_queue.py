"""The stations' job queue (issuer.services.station), on SQLite and PostgreSQL: stations never
share a job, a dead station's job is freed when its lease expires and the old lease is
fenced, one chip binds one job, a spoiled chip frees it."""

from __future__ import annotations

import threading

import pytest

from issuer.db.models import CardStatus
from issuer.db.production_models import JobState, StationJob
from issuer.services import lifecycle, station
from issuer.services.errors import Conflict
from issuer.services.inputs import ReasonIn
from issuer_flow import chip_dg5
from tests.station.station_support import issue_cards, records


def claim(rt, actor, **kw):
    with rt.db.session() as s:
        job, resumed = station.claim(rt, s, actor, **kw)
        s.commit()
        return (None if job is None else (job.id, job.lease_token, job.card_id)), resumed


def call(rt, fn, *args, **kw):
    with rt.db.session() as s:
        result = fn(rt, s, *args, **kw)
        s.commit()
        return result


def test_every_issued_physical_card_is_queued_once(runtime):
    ids = issue_cards(runtime, 3) + issue_cards(runtime, 1, card_kind=2)
    with runtime.db.session() as s:
        jobs = s.query(StationJob).order_by(StationJob.id).all()
        assert [j.card_id for j in jobs] == ids[:3]  # an electronic card has no chip to personalise
        assert {j.state for j in jobs} == {JobState.QUEUED}


def test_concurrent_stations_never_take_the_same_job(runtime):
    ids = issue_cards(runtime, 24)
    taken: dict[str, list[int]] = {}
    errors = []

    def station_loop(name: str) -> None:
        mine = taken.setdefault(name, [])
        try:
            while True:
                job, _ = claim(runtime, f"station:{name}")
                if job is None:
                    return
                mine.append(job[2])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=station_loop, args=(f"s{k}",)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    everything = [card for cards in taken.values() for card in cards]
    assert sorted(everything) == ids  # each job once, none left behind
    with runtime.db.session() as s:
        assert {(j.state, j.attempts) for j in s.query(StationJob)} == {(JobState.CLAIMED, 1)}


def test_a_dead_stations_job_is_freed_when_its_lease_expires_and_the_old_lease_is_fenced(runtime):
    card_id, = issue_cards(runtime, 1)
    now = [1_900_000_000]
    runtime.clock = lambda: now[0]
    (job_id, lease_a, _), _ = claim(runtime, "station:a")
    assert claim(runtime, "station:b") == (None, False)  # held
    now[0] += runtime.settings.station_lease_seconds + 1
    (again, lease_b, _), _ = claim(runtime, "station:b")
    assert again == job_id and lease_b != lease_a
    dg5, _ = chip_dg5()
    for fenced in (lambda: call(runtime, station.release, "station:a", job_id, lease_a, "late"),
                   lambda: call(runtime, station.sign_security_object, "station:a", job_id, lease_a, dg5),
                   lambda: call(runtime, station.complete, "station:a", job_id, lease_a, chip_id="0" * 16,
                                atr="3b00")):
        with pytest.raises(Conflict, match="lease is lost"):
            fenced()
    _card, job = records(runtime, card_id)
    assert (job.station, job.attempts, job.state) == ("station:b", 2, JobState.CLAIMED)
    call(runtime, station.release, "station:b", job_id, lease_b, "card removed")
    _card, job = records(runtime, card_id)
    assert (job.state, job.last_error, job.lease_token) == (JobState.QUEUED, "card removed", None)


def test_an_expired_lease_still_counts_while_nobody_took_the_job(sqlite_runtime):
    issue_cards(sqlite_runtime, 1)
    now = [1_900_000_000]
    sqlite_runtime.clock = lambda: now[0]
    (job_id, lease, _), _ = claim(sqlite_runtime, "station:a")
    now[0] += 10 * sqlite_runtime.settings.station_lease_seconds
    dg5, _ = chip_dg5()
    card = call(sqlite_runtime, station.sign_security_object, "station:a", job_id, lease, dg5)
    assert card.security_object is not None


def test_one_chip_binds_one_job_and_only_that_chip_finishes_it(sqlite_runtime):
    first, second = issue_cards(sqlite_runtime, 2)
    rt = sqlite_runtime
    (job1, lease1, _), _ = claim(rt, "station:a")
    (job2, lease2, _), _ = claim(rt, "station:a")
    dg5, _ = chip_dg5()
    other, _ = chip_dg5()
    call(rt, station.sign_security_object, "station:a", job1, lease1, dg5)
    chip = station.chip_id_of(dg5)
    with pytest.raises(Conflict, match="belongs to job"):
        call(rt, station.sign_security_object, "station:a", job2, lease2, dg5)
    with pytest.raises(Conflict, match="signed for chip"):
        call(rt, station.sign_security_object, "station:a", job1, lease1, other)
    with pytest.raises(Conflict, match="signed for chip"):
        call(rt, station.complete, "station:a", job1, lease1, chip_id=station.chip_id_of(other), atr="3b00")
    call(rt, station.release, "station:a", job1, lease1, "card pulled")
    assert claim(rt, "station:b") == (None, False)  # job 1 waits for its chip; job 2 is held
    (resumed, lease_b, _), was_resumed = claim(rt, "station:b", chip_id=chip)  # another station, the same card
    assert resumed == job1 and was_resumed
    call(rt, station.complete, "station:b", job1, lease_b, chip_id=chip, atr="3B00")
    card, job = records(rt, first)
    assert card.status is CardStatus.PERSONALISED and job.state is JobState.DONE and job.atr == "3B00"
    assert call(rt, station.complete, "station:b", job1, lease_b, chip_id=chip, atr="3B00").id == job1  # a retry


def test_a_spoiled_chip_frees_its_job_for_a_new_blank(sqlite_runtime):
    rt = sqlite_runtime
    card_id, = issue_cards(rt, 1)
    now = [1_900_000_000]
    rt.clock = lambda: now[0]
    (job_id, lease, _), _ = claim(rt, "station:a")
    dg5, _ = chip_dg5()
    call(rt, station.sign_security_object, "station:a", job_id, lease, dg5)
    with pytest.raises(Conflict, match="until its lease expires"):
        call(rt, station.spoil, "station:b", job_id, None, chip_id=None, reason="card broke", terminated=False)
    call(rt, station.spoil, "station:a", job_id, lease, chip_id=station.chip_id_of(dg5), reason="chip cracked",
         terminated=True)
    card, job = records(rt, card_id)
    assert (card.security_object, card.chip_key, job.chip_id, job.state) == (None, None, None, JobState.QUEUED)
    (again, lease2, _), _ = claim(rt, "station:b")
    new_dg5, _ = chip_dg5()
    assert call(rt, station.sign_security_object, "station:b", again, lease2, new_dg5).chip_key == new_dg5


def test_a_revoked_cards_job_is_not_handed_out(sqlite_runtime):
    rt = sqlite_runtime
    card_id, = issue_cards(rt, 1)
    with rt.db.session() as s:
        lifecycle.cancel(rt, s, "user:erin", card_id, ReasonIn(reason="permit cancelled"))
        s.commit()
    assert claim(rt, "station:a") == (None, False)


def test_only_stations_use_the_queue(sqlite_client, sqlite_staff):
    issue_cards(sqlite_staff.rt, 1)
    assert sqlite_client.post("/api/station/jobs/claim", json={}, headers=sqlite_staff["erin"]).status_code == 403
    assert sqlite_client.post("/api/station/jobs/claim", json={}).status_code == 401
    answer = sqlite_client.post("/api/station/jobs/claim", json={}, headers=sqlite_staff["station"])
    assert answer.status_code == 200 and answer.json()["job"]["lease"]
    listed = sqlite_client.get("/api/station/jobs", headers=sqlite_staff["audrey"]).json()
    assert [(j["state"], j["station"]) for j in listed] == [("claimed", "station:station-1")]
    bad = sqlite_client.post("/api/station/jobs/claim", json={"chip_id": "nothex"}, headers=sqlite_staff["station"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "chip_id"
