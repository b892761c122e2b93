"""The station through the real PC/SC stack (pcscd + vpcd, the reference card in slot 1):
tears at a few positions, and `ssc-issuer station run` against a running `ssc-issuer serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from firmware_tools.card.emulator import FaultPlan
from firmware_tools.card.profile import Lifecycle
from firmware_tools.pcsc import PcscLink
from firmware_tools.reader import read_card
from firmware_tools.vpcd import reader_name_for_slot
from issuer.db.models import CardStatus
from issuer.db.production_models import JobState
from issuer.station.runner import JobStopped, personalise_next
from issuer_env import add_staff, make_runtime
from issuer_flow import PASSPHRASE, TOKEN_SECRET
from tests.firmware_tools.pcscd_fixtures import wait_reader_state
from tests.station.station_support import EVERY, PIN, blank, issue_cards, records, trust_store
from clock_support import CLOCK

pytestmark = pytest.mark.pcsc
SLOT = 1
READER = reader_name_for_slot(SLOT)
BIN = Path(sys.executable).parent


def station_link() -> PcscLink:
    link = PcscLink(READER, exclusive=True, removal_grace=2.0)
    link.connect()
    return link


@pytest.mark.parametrize("faults", [FaultPlan(remove_after=13), FaultPlan(tear_update=6, tear_keep=40),
                                    FaultPlan(remove_after=27)],
                         ids=["writing the photo", "writing EF.SO", "reading EF.SO back"])
def test_torn_through_pcscd_then_resumed(sqlite_runtime, sqlite_station_client, attach_card, faults):
    rt, station = sqlite_runtime, sqlite_station_client
    card_id, = issue_cards(rt, 1)
    card = blank(faults)
    session = attach_card(card, slot=SLOT)
    link = station_link()
    try:
        with pytest.raises(JobStopped) as stopped:
            personalise_next(link, station, pin=PIN)
    finally:
        link.disconnect()
    assert stopped.value.job.card_id == card_id
    db_card, job = records(rt, card_id)
    assert card.image.lifecycle is Lifecycle.PERSONALISING and db_card.status is CardStatus.ISSUED
    assert job.state is JobState.QUEUED and "Removed" in job.last_error
    session.insert()
    assert wait_reader_state(READER, present=True, timeout=5.0)
    store = trust_store(rt)
    with PcscLink(READER) as reader:
        refused = read_card(reader, EVERY, store, CLOCK.now(), PIN)
    assert not refused.valid  # a terminal: "not issued"
    link = station_link()
    try:
        result = personalise_next(link, station, pin=PIN)
    finally:
        link.disconnect()
    assert result.resumed == (job.chip_id is not None) and result.card_id == card_id
    with PcscLink(READER) as reader:
        read = read_card(reader, EVERY, store, CLOCK.now(), PIN)
    assert read.valid and read.chip_id == result.chip_id, read.to_dict()
    assert records(rt, card_id)[0].status is CardStatus.PERSONALISED


@pytest.fixture
def served(tmp_path, key_dir, keys, password_hash):
    """`ssc-issuer serve` on 127.0.0.1 (SQLite), with officers, station-1 and one issued card."""
    url = f"sqlite:///{tmp_path / 'issuer.db'}"
    rt = make_runtime(tmp_path, url, key_dir, keys)
    staff = add_staff(rt, password_hash)
    card_id, = issue_cards(rt, 1)
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, SSC_VAR=str(tmp_path), SSC_ISSUER_DATABASE_URL=url, SSC_ISSUER_KEY_DIR=str(key_dir),
               SSC_KEY_PASSPHRASE=PASSPHRASE, SSC_ISSUER_TOKEN_SECRET=TOKEN_SECRET)
    server = subprocess.Popen([str(BIN / "ssc-issuer"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the issuer service did not start"
            time.sleep(0.1)
        yield rt, base, dict(env, SSC_ISSUER_API_KEY=staff.station_key), card_id
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(30)
        rt._keys = None
        rt.close()


def station(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ssc-issuer"), "station", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_ssc_issuer_station_run_against_the_service(served, attach_card, tmp_path):
    """Pulled out half-way (exit 1, the job released), put back (resumed, locked, reported,
    artwork written), again (already done), then no card (exit 4); jobs listed; a wrong key."""
    rt, base, env, card_id = served
    card = blank(FaultPlan(remove_after=12))
    session = attach_card(card, slot=SLOT)
    run = ("run", "--reader", READER, "--issuer", base, "--once")
    stopped = station(*run, "--wait", "5", env=env)
    assert stopped.returncode == 1 and "put it back" in stopped.stderr, stopped.stdout + stopped.stderr
    assert records(rt, card_id)[1].state is JobState.QUEUED
    session.insert()
    assert wait_reader_state(READER, present=True, timeout=5.0)
    out, bindir = tmp_path / "out", tmp_path / "bin"  # a card printer: a fake `lp` first on PATH
    bindir.mkdir()
    (bindir / "lp").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'lp.log'}\necho 'request id is cardq-7 (1 file(s))'\n")
    (bindir / "lp").chmod(0o755)
    printing = dict(env, PATH=f"{bindir}{os.pathsep}{env['PATH']}")
    done = station(*run, "--wait", "10", "--out", str(out), "--printer", "cardq", env=printing)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "personalising" in done.stdout and "personalised and locked: chip id" in done.stdout
    assert "sent to printer cardq as job cardq-7; card reported printed" in done.stdout
    assert (tmp_path / "lp.log").read_text().startswith("-d cardq -t card SH01P")
    assert card.image.lifecycle is Lifecycle.ISSUED
    db_card, job = records(rt, card_id)
    assert db_card.status is CardStatus.PRINTED and job.atr == card.atr.hex() and job.attempts == 2
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{db_card.card_number}{s}"
                                                           for s in ("-front.png", "-back.png", ".pdf"))
    with PcscLink(READER) as reader:
        assert read_card(reader, EVERY, trust_store(rt), CLOCK.now(), PIN).valid

    again = station(*run, "--wait", "5", env=env)
    assert again.returncode == 0 and "already personalised and reported" in again.stdout
    listed = station("jobs", "--issuer", base, env=env)
    assert listed.returncode == 0 and "done" in listed.stdout and job.chip_id in listed.stdout
    wrong = station("jobs", "--issuer", base, env=dict(env, SSC_ISSUER_API_KEY="ssk_0_nope"))
    assert wrong.returncode == 3
    session.stop()
    assert wait_reader_state(READER, present=False, timeout=5.0)
    nothing = station(*run, "--wait", "0.5", env=env)
    assert nothing.returncode == 4 and "no card" in nothing.stderr
