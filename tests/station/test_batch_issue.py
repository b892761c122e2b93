"""`batch issue`: cards with dense serials that verify, queued for the stations; resumable
after kill -9 (no duplicates, no gaps), also the import (nothing half-imported); memory flat
in the number of rows."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from crypto import Outcome, verify_credential
from crypto.qrtext import encode_qr_text as qr_text
from issuer.batch import batches
from issuer.batch.importer import import_file
from issuer.batch.issuing import issue_batch
from issuer.cli import main as cli_main
from issuer.db.models import Application, ApplicationStatus, Card, CardFile
from issuer.db.production_models import JobState, StationJob
from issuer.station.runner import personalise_next
from issuer_env import add_staff
from issuer_flow import PASSPHRASE, PASSWORD, TOKEN_SECRET
from tests.station.station_support import PIN, blank, connected, terminal_read, trust_store

import batch_data
from clock_support import CLOCK

BIN = Path(sys.executable).parent


def imported(rt, tmp_path, rows: int, *, start: int = 1, approve: bool = True, name: str = "batch.jsonl") -> int:
    path = batch_data.write_jsonl(tmp_path / name, batch_data.rows(rows, start))
    result = import_file(rt, "user:erin", path, chunk=250)
    assert result.committed
    if approve:
        with rt.db.session() as s:
            assert batches.approve(s, "user:alan", result.batch_id) == (rows, 0)
            s.commit()
    return result.batch_id


def assert_issued_once_and_dense(rt, expected: int) -> None:
    with rt.db.session() as s:
        serials = sorted(s.execute(select(Card.serial)).scalars())
        apps = s.execute(select(Card.application_id)).scalars().all()
        assert serials == list(range(1, expected + 1))  # no gaps, no duplicates
        assert len(set(apps)) == len(apps) == expected
        assert s.query(Application).filter(Application.status == ApplicationStatus.APPROVED).count() == 0
        assert s.query(StationJob).filter(StationJob.state == JobState.QUEUED).count() == expected
        assert s.query(CardFile).count() == 5 * expected


def test_a_batch_is_issued_in_chunks_and_its_cards_verify_and_personalise(runtime, tmp_path, staff):
    batch_id = imported(runtime, tmp_path, 30)
    progress = []
    result = issue_batch(runtime, "user:erin", batch_id, chunk=8, progress=progress.append)
    assert (result.issued, result.skipped, result.chunks, progress) == (30, 0, 4, [8, 8, 8, 6])
    assert_issued_once_and_dense(runtime, 30)
    store = trust_store(runtime)
    with runtime.db.session() as s:
        card = s.execute(select(Card).order_by(Card.id.desc()).limit(1)).scalar_one()
        verdict = verify_credential(qr_text(card.qr_cose), store, now=CLOCK.now())
    assert verdict.outcome is Outcome.VALID, verdict
    assert issue_batch(runtime, "user:erin", batch_id).issued == 0  # nothing left: a second run does nothing
    from fastapi.testclient import TestClient

    from issuer.api import create_app
    from issuer.station.client import IssuerClient
    with TestClient(create_app(runtime), headers={"X-API-Key": staff.station_key}) as http:
        chip = blank()
        done = personalise_next(connected(chip), IssuerClient(http), pin=PIN)  # the oldest batch card
    assert terminal_read(chip, store).valid and done.card_number.startswith("SH01P")


def test_signing_in_worker_processes_gives_the_same_cards(sqlite_runtime, tmp_path):
    batch_id = imported(sqlite_runtime, tmp_path, 24)
    result = issue_batch(sqlite_runtime, "user:erin", batch_id, chunk=10, workers=2)
    assert result.issued == 24
    assert_issued_once_and_dense(sqlite_runtime, 24)
    store = trust_store(sqlite_runtime)
    with sqlite_runtime.db.session() as s:
        for card in s.execute(select(Card)).scalars():
            assert verify_credential(qr_text(card.qr_cose), store, now=CLOCK.now()).outcome is Outcome.VALID


def test_a_failure_before_the_commit_keeps_nothing_of_the_chunk(sqlite_runtime, tmp_path):
    batch_id = imported(sqlite_runtime, tmp_path, 20)
    calls = []

    def crash():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the process died here")
    sqlite_runtime.after_signing = crash
    with pytest.raises(RuntimeError):
        issue_batch(sqlite_runtime, "user:erin", batch_id, chunk=8)
    with sqlite_runtime.db.session() as s:
        assert sorted(s.execute(select(Card.serial)).scalars()) == list(range(1, 9))  # chunk 1 only
    sqlite_runtime.after_signing = lambda: None
    assert issue_batch(sqlite_runtime, "user:erin", batch_id, chunk=8).issued == 12
    assert_issued_once_and_dense(sqlite_runtime, 20)


# -- the command line, killed -----------------------------------------------------------------

@pytest.fixture
def cli_env(sqlite_runtime, password_hash, key_dir):
    add_staff(sqlite_runtime, password_hash)
    return dict(os.environ, SSC_VAR=str(sqlite_runtime.settings.var), SSC_ISSUER_DATABASE_URL=sqlite_runtime.settings.database,
                SSC_ISSUER_KEY_DIR=str(key_dir), SSC_KEY_PASSPHRASE=PASSPHRASE, SSC_ISSUER_TOKEN_SECRET=TOKEN_SECRET,
                SSC_ISSUER_PASSWORD=PASSWORD)


def ssc_issuer(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "ssc-issuer"), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def sqlite_count(rt, table: str) -> int:
    db = sqlite_url_path(rt)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
        return c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def sqlite_url_path(rt) -> str:
    return rt.settings.database.removeprefix("sqlite:///")


def workers_of(rt) -> list[int]:
    """Pool workers (multiprocessing spawn) started for this test's database."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if b"multiprocessing.spawn" in cmdline and rt.settings.database.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def kill_when(proc: subprocess.Popen, ready, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)


def test_batch_issue_killed_then_resumed_has_no_duplicates_and_no_gaps(sqlite_runtime, tmp_path, cli_env):
    rows = 800
    batch_id = imported(sqlite_runtime, tmp_path, rows)
    proc = ssc_issuer("batch", "issue", str(batch_id), "--user", "erin", "--chunk", "10", "--workers", "2",
                      env=cli_env)
    kill_when(proc, lambda: sqlite_count(sqlite_runtime, "cards") >= 30)
    partial = sqlite_count(sqlite_runtime, "cards")
    assert 30 <= partial < rows and partial % 10 == 0  # whole chunks only
    deadline = time.monotonic() + 10  # its signing workers see that it is gone, and go too
    while workers_of(sqlite_runtime):
        assert time.monotonic() < deadline, workers_of(sqlite_runtime)
        time.sleep(0.1)
    done = ssc_issuer("batch", "issue", str(batch_id), "--user", "erin", "--chunk", "200", "--workers", "0",
                      "--no-progress", env=cli_env)
    out, err = done.communicate(timeout=240)
    assert done.returncode == 0, out + err
    assert f"{rows - partial} cards issued" in out and f"{rows} of {rows} in all" in out
    assert_issued_once_and_dense(sqlite_runtime, rows)


def test_batch_import_killed_leaves_nothing_then_imports(sqlite_runtime, tmp_path, cli_env):
    rows = 1000
    path = batch_data.write_jsonl(tmp_path / "big.jsonl", batch_data.rows(rows, start=5000))
    proc = ssc_issuer("batch", "import", str(path), "--user", "erin", "--chunk", "50", "--workers", "0",
                      env=cli_env)
    seen = []  # the progress bar: rows written into the open transaction

    def read_bar() -> None:
        for chunk in iter(lambda: proc.stderr.read(1), ""):
            seen.append(chunk)
    threading.Thread(target=read_bar, daemon=True).start()
    counted = re.compile(rf"\b([1-9]\d*)/{rows}\b")
    kill_when(proc, lambda: counted.search("".join(seen)) is not None)
    assert int(counted.findall("".join(seen))[-1]) < rows
    assert (sqlite_count(sqlite_runtime, "persons"), sqlite_count(sqlite_runtime, "batches")) == (0, 0)
    again = ssc_issuer("batch", "import", str(path), "--user", "erin", "--no-progress", env=cli_env)
    out, err = again.communicate(timeout=240)
    assert again.returncode == 0 and f"imported {rows} rows as batch 1" in out, out + err
    assert sqlite_count(sqlite_runtime, "applications") == rows


def test_batch_cli_refuses_with_field_errors_and_four_eyes(sqlite_runtime, tmp_path, cli_env, monkeypatch, capsys):
    for name, value in cli_env.items():
        if name.startswith("SSC_"):
            monkeypatch.setenv(name, value)

    def ssc(*args: str) -> tuple[int, str]:
        code = cli_main(list(args))
        captured = capsys.readouterr()
        return code, captured.out + captured.err
    data = list(batch_data.rows(3, start=9000))
    data[1]["person"]["holder"]["sex"] = 7
    path = batch_data.write_csv(tmp_path / "bad.csv", data)
    code, out = ssc("batch", "import", str(path), "--user", "erin", "--no-progress", "--report",
                    str(tmp_path / "errors.jsonl"))
    assert code == 1 and "line 3: sex:" in out and "NOT IMPORTED: 1 of 3 rows" in out, out
    assert (tmp_path / "errors.jsonl").read_text().count("\n") == 1
    batch_data.write_csv(path, list(batch_data.rows(3, start=9000)))
    assert ssc("batch", "import", str(path), "--user", "erin", "--no-progress")[0] == 0
    assert ssc("batch", "approve", "1", "--user", "erin")[0] == 3  # erin is no approver
    code, out = ssc("batch", "approve", "1", "--user", "abby")   # approver and enroller, but did not import it
    assert code == 0 and "3 applications approved" in out
    code, out = ssc("batch", "issue", "1", "--user", "alan", "--no-progress", "--workers", "0")
    assert code == 0 and "3 cards issued" in out and "3 of 3 in all" in out
    code, out = ssc("batch", "status", "1")
    assert code == 0 and "issued 3" in out


# -- memory -----------------------------------------------------------------------------------

def rss() -> int:
    """This process's resident memory now (bytes)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakAfter:
    """The highest resident memory seen by the progress callbacks, up to `mark` rows and after."""

    def __init__(self, mark: int):
        self.mark, self.done, self.before, self.after = mark, 0, 0, 0

    def __call__(self, rows: int) -> None:
        self.done += rows
        if self.done <= self.mark:
            self.before = max(self.before, rss())
        else:
            self.after = max(self.after, rss())


def test_memory_is_flat_in_the_number_of_rows(sqlite_runtime, tmp_path):
    """5,000 rows imported and issued in chunks of 200: the peak memory after 5,000 rows is
    the peak after 1,000 (a growth per row would show as ~8 KB x 4,000 = 32 MB)."""
    path = batch_data.write_jsonl(tmp_path / "m.jsonl", batch_data.rows(5000))
    imported_peaks = PeakAfter(1000)
    result = import_file(sqlite_runtime, "user:erin", path, chunk=200, progress=imported_peaks)
    with sqlite_runtime.db.session() as s:
        batches.approve(s, "user:alan", result.batch_id)
        s.commit()
    issued_peaks = PeakAfter(1000)
    assert issue_batch(sqlite_runtime, "user:erin", result.batch_id, chunk=200, progress=issued_peaks).issued == 5000
    for what, peaks in (("import", imported_peaks), ("issue", issued_peaks)):
        growth = peaks.after - peaks.before
        assert growth < 8 * 2**20, f"{what}: {peaks.before / 2**20:.1f} MiB after 1,000 rows, " \
                                   f"{peaks.after / 2**20:.1f} MiB after 5,000"
