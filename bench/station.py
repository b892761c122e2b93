"""Batch issuance and the issuance station (DESIGN.md §7, issue 5).

1. A batch of 100,000 records (--quick: 2,000) through the command line, each step a child
   process on a SQLite file: `ssc-issuer batch import` (a JSON Lines file with chip-size
   photos), `batch approve`, `batch issue` killed with SIGKILL at ~40% and run again. Reported:
   cards (2 credentials each: QR and chip profile) signed and stored per second, as a ratio
   to a bare ECDSA P-256 sign in one thread measured in the same run; each child's peak RSS
   (wait4's ru_maxrss) and its RSS sampled every half second against the cards done (flat
   means streaming); after the resume, no duplicate and no gap in the serials.
2. Signing in worker processes or not, on this machine: 10,000 cards (--quick: 500) issued with
   --workers 0 and with --workers 2, and the photo checks of the import with 0 and 2 workers
   on passport-size photos; with a measure of how much of a second CPU the machine gave.
3. Personalisation per card through pcscd by the station (issuer.station.runner with an
   exclusive PcscLink, the issuer in process): APDUs, bytes, time, and the issuer's share.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.fixtures import Fixtures
from bench.issuer_api import _bare_signs_per_second
from bench.timing import Settings

NAME = "station"
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSPHRASE = "bench-passphrase"
PASSWORD = "bench password 1"
PIN = "123456"


def _support():
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    import batch_data

    return batch_data


class Centre:
    """A development issuing centre in a folder: keys, a SQLite database, two officers."""

    def __init__(self, folder: Path):
        from crypto import Algorithm
        from issuer import keyring
        from issuer.services import users
        from issuer.services import inputs as i
        from issuer.services.runtime import Runtime
        from issuer.settings import Settings as IssuerSettings

        self.folder = folder
        self.db = folder / "issuer.db"
        keyring.init_software(folder / "keys", "SH01", PASSPHRASE.encode(), Algorithm.ES256).close()
        self.env = dict(os.environ, SSC_VAR=str(folder), SSC_ISSUER_DATABASE_URL=f"sqlite:///{self.db}",
                        SSC_KEY_PASSPHRASE=PASSPHRASE, SSC_ISSUER_PASSWORD=PASSWORD)
        self.rt = Runtime(IssuerSettings(var=folder, database_url=f"sqlite:///{self.db}", key_passphrase=PASSPHRASE))
        self.rt.db.upgrade()
        with self.rt.db.session() as s:
            users.create_user(s, "bench", i.UserIn(username="erin", password=PASSWORD, roles=["enroller"]))
            users.create_user(s, "bench", i.UserIn(username="alan", password=PASSWORD, roles=["approver"]))
            s.commit()

    def count(self, sql: str) -> int:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=60) as c:
            return c.execute(sql).fetchone()[0]

    def run(self, *args: str, kill_at: int | None = None) -> dict:
        """`ssc-issuer ARGS` as a child: wall time, peak RSS (wait4's ru_maxrss), RSS samples
        against the cards done; killed with SIGKILL once `kill_at` cards exist."""
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
            proc = subprocess.Popen([str(BIN / "ssc-issuer"), *args], env=self.env, stdout=stdout, stderr=stderr,
                                    text=True)
            samples, done, out = [], threading.Event(), {}
            watcher = threading.Thread(target=self._watch, args=(proc.pid, samples, done, out, kill_at), daemon=True)
            watcher.start()
            _pid, status, _usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            done.set()
            watcher.join()
            stdout.seek(0)
            stderr.seek(0)
            out.update(returncode=proc.returncode, stdout=stdout.read()[-3000:], stderr=stderr.read()[-3000:])
        # VmHWM, sampled every half second: ru_maxrss would count this process's pages too (vfork + exec)
        out.update(seconds=round(time.perf_counter() - started, 2), rss_samples=samples,
                   peak_rss_mib=round(out.get("hwm_kib", 0) / 1024, 1))
        if kill_at is None and proc.returncode != 0:
            raise RuntimeError(f"ssc-issuer {' '.join(args)} failed: {out['stdout'][-1000:]} {out['stderr'][-1000:]}")
        return out

    def _watch(self, pid: int, samples: list, done: threading.Event, out: dict, kill_at: int | None) -> None:
        while not done.wait(0.5):
            try:
                with open(f"/proc/{pid}/status") as fh:
                    status = {line.split(":")[0]: line.split()[1] for line in fh if line.startswith("Vm")}
                cards = self.count("SELECT count(*) FROM cards")
            except (OSError, KeyError, IndexError, sqlite3.Error):
                continue
            samples.append((cards, int(status["VmRSS"])))
            out["hwm_kib"] = max(out.get("hwm_kib", 0), int(status.get("VmHWM", 0)))
            if kill_at is not None and cards >= kill_at and "killed_at" not in out:
                out["killed_at"] = cards
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        self.rt.close()


def _issue_rate(stdout: str) -> tuple[int, float]:
    """(cards, seconds) from `batch issue`'s summary line."""
    found = re.search(r": (\d+) cards issued in ([\d.]+) s", stdout)
    return (int(found.group(1)), float(found.group(2))) if found else (0, 0.0)


def _batch(folder: Path, rows: int) -> dict:
    """Part 1: import, approve, issue killed at ~40%, resumed; the serials checked."""
    data = _support()
    centre = Centre(folder)
    try:
        path = folder / "batch.jsonl"
        t0 = time.perf_counter()
        data.write_jsonl(path, data.rows(rows))
        written = time.perf_counter() - t0
        imported = centre.run("batch", "import", str(path), "--user", "erin", "--no-progress")  # default workers
        centre.run("batch", "approve", "1", "--user", "alan")
        first = centre.run("batch", "issue", "1", "--user", "erin", "--no-progress", kill_at=int(rows * 0.4))
        killed_with = centre.count("SELECT count(*) FROM cards")
        second = centre.run("batch", "issue", "1", "--user", "erin", "--no-progress")  # the default workers
        cards, seconds = _issue_rate(second["stdout"])
        workers = re.search(r"(\d+) signing workers", second["stdout"])
        check = {"cards": centre.count("SELECT count(*) FROM cards"),
                 "distinct_serials": centre.count("SELECT count(DISTINCT serial) FROM cards"),
                 "min_serial": centre.count("SELECT min(serial) FROM cards"),
                 "max_serial": centre.count("SELECT max(serial) FROM cards"),
                 "distinct_applications": centre.count("SELECT count(DISTINCT application_id) FROM cards"),
                 "queued_jobs": centre.count("SELECT count(*) FROM station_jobs WHERE state = 'queued'")}
        check["ok"] = (check["cards"] == check["distinct_serials"] == check["distinct_applications"] == rows
                       == check["max_serial"] == check["queued_jobs"] and check["min_serial"] == 1)
        return {"rows": rows, "file_mib": round(path.stat().st_size / 2**20, 1), "write_file_s": round(written, 1),
                "import": _summary(imported, rows), "first_issue": _summary(first, first.get("killed_at", 0)),
                "killed_with_cards": killed_with, "resumed_issue": _summary(second, cards),
                "cards_per_second": round(cards / seconds, 1) if seconds else 0.0, "check": check,
                "workers": int(workers.group(1)) if workers else None,
                "database_mib": round(centre.db.stat().st_size / 2**20)}
    finally:
        centre.close()


def _summary(run: dict, units: int) -> dict:
    """Peak RSS, and the RSS at 10, 50 and 90% of the run's time (with the cards done then)."""
    samples = run["rss_samples"]
    points = {}
    for share in (0.1, 0.5, 0.9):
        if samples:
            cards, rss = samples[min(len(samples) - 1, int(share * len(samples)))]
            points[f"{int(share * 100)}%"] = {"cards": cards, "rss_mib": round(rss / 1024, 1)}
    return {"seconds": run["seconds"], "peak_rss_mib": run["peak_rss_mib"], "rss_at": points,
            "returncode": run["returncode"], "units": units}


def _cpu_capacity() -> float:
    """Wall time of the same CPU-bound work in 2 processes at once over 1 process: 1.0 when the
    machine gave two whole CPUs, 2.0 when it gave one (other load)."""
    code = "import hashlib;h=b'x';[h:=hashlib.sha256(h).digest() for _ in range(1_500_000)]"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    for p in procs:
        p.wait()
    return round((time.perf_counter() - t0) / one, 2)


def _workers(folder: Path, rows: int, photo_rows: int) -> dict:
    """Part 2, with 0 and 2 worker processes: the import of `photo_rows` rows with 600 x 800
    photos (scaled to the chip's 240 x 320), and the issue of `rows` cards."""
    data = _support()
    centre = Centre(folder)
    out: dict = {"rows": rows, "photo_rows": photo_rows, "cpu_capacity_2_procs": _cpu_capacity()}
    batch = 0
    try:
        for workers in (0, 2):
            path = folder / f"photos-w{workers}" / "batch.jsonl"
            path.parent.mkdir()
            data.write_jsonl(path, data.rows(photo_rows, start=1 + batch * rows), photo_size=(600, 800))
            imported = centre.run("batch", "import", str(path), "--user", "erin", "--no-progress",
                                  "--workers", str(workers))
            batch += 1
            out[f"import_workers_{workers}"] = {"seconds": imported["seconds"],
                                                "rows_per_s": round(photo_rows / imported["seconds"], 1)}
        for workers in (0, 2):
            path = folder / f"issue-w{workers}" / "batch.jsonl"
            path.parent.mkdir()
            data.write_jsonl(path, data.rows(rows, start=1 + batch * rows))
            centre.run("batch", "import", str(path), "--user", "erin", "--no-progress", "--workers", "0")
            batch += 1
            centre.run("batch", "approve", str(batch), "--user", "alan")
            issued = centre.run("batch", "issue", str(batch), "--user", "erin", "--no-progress",
                                "--workers", str(workers))
            cards, seconds = _issue_rate(issued["stdout"])
            out[f"issue_workers_{workers}"] = {"seconds": seconds, "cards_per_s": round(cards / seconds, 1),
                                               "wall_s": issued["seconds"]}
    finally:
        centre.close()
    return out


def _personalisation(folder: Path, cards: int) -> dict:
    """Part 3: the station personalises `cards` blank reference cards through pcscd."""
    from bench.pcsc import _attached, _pcscd, sample_photo
    from firmware_tools.card.emulator import ReferenceCard
    from issuer.services import applications, issuance, registry
    from issuer.services import inputs as i

    from issuer.services import users

    sys.path.insert(0, str(ROOT / "tests" / "support"))
    import issuer_flow

    centre = Centre(folder)
    with centre.rt.db.session() as s:
        _station, key = users.create_station(s, "bench", i.StationIn(name="station-1"))
        registry.create_employer(s, "user:erin", i.EmployerIn.model_validate(issuer_flow.employer_body()))
        for n in range(cards):
            person = registry.create_person(s, "user:erin", i.PersonIn.model_validate(issuer_flow.person_body(n + 1)))
            registry.set_photo(s, "user:erin", centre.rt.settings, person.id, sample_photo())
            app = applications.apply(s, "user:erin", i.ApplicationIn(person_id=person.id,
                                     permit=issuer_flow.permit_body(), documents=issuer_flow.ALL_DOCUMENTS))
            applications.approve(s, "user:alan", app.id, i.DecisionIn())
            issuance.issue(centre.rt, s, "user:erin", app.id)
        s.commit()
    try:
        with _pcscd() as unavailable:
            if unavailable:
                return {"skipped": unavailable}
            return _through_pcscd(centre, key, cards, _attached, ReferenceCard)
    finally:
        centre.close()


def _through_pcscd(centre: Centre, key: str, cards: int, attached, reference_card) -> dict:
    from fastapi.testclient import TestClient

    from issuer.api import create_app
    from issuer.station.client import IssuerClient
    from issuer.station.runner import personalise_next

    runs = []
    with TestClient(create_app(centre.rt), headers={"X-API-Key": key}) as http:
        client = IssuerClient(http)
        for _ in range(cards):
            card = reference_card.blank(pin=PIN)
            with attached(card) as link:  # bench.pcsc: slot 1, shared; reconnect exclusively
                link.disconnect()
                link.exclusive = True
                link.connect()
                result = personalise_next(link, client, pin=PIN)
            runs.append(result)
    first = runs[0].traffic
    return {"cards": cards, "apdus": first.apdus, "bytes_sent": first.bytes_sent,
            "bytes_received": first.bytes_received, "median_s": round(statistics.median(r.seconds for r in runs), 4),
            "median_issuer_s": round(statistics.median(r.issuer_seconds for r in runs), 4),
            "card_files_bytes": sum(len(v) for v in runs[0].job.files.values())}


def run(fx: Fixtures, settings: Settings) -> dict:
    quick = settings.rounds < 50
    rows, compare, photo_rows, cards = (2_000, 500, 200, 2) if quick else (100_000, 10_000, 2_000, 5)
    bare = _bare_signs_per_second(1.0 if quick else 3.0)
    with tempfile.TemporaryDirectory(prefix="sscard-bench-station-") as tmp:
        folder = Path(tmp)
        (folder / "batch").mkdir()
        (folder / "workers").mkdir()
        (folder / "perso").mkdir()
        batch = _batch(folder / "batch", rows)
        workers = _workers(folder / "workers", compare, photo_rows)
        perso = _personalisation(folder / "perso", cards)
    batch["bare_signs_per_second"] = round(bare)
    batch["ratio_to_bare_sign"] = round(batch["cards_per_second"] / bare, 4)
    return {"batch": batch, "workers": workers, "personalisation": perso}


def report(result: dict) -> list[str]:
    b, w, p = result["batch"], result["workers"], result["personalisation"]
    r1, r2, imp = b["first_issue"], b["resumed_issue"], b["import"]
    out = [f"Batch issuance: {b['rows']:,} records ({b['file_mib']} MiB JSON Lines; database {b['database_mib']} MiB)",
           f"  import (chip-size photos, default workers): {imp['seconds']} s ({b['rows'] / imp['seconds']:.0f} rows/s), "
           f"peak RSS {imp['peak_rss_mib']} MiB; RSS at 10/50/90% of its time: "
           + ", ".join(f"{v['rss_mib']}" for v in imp["rss_at"].values()) + " MiB",
           f"  issue: killed (SIGKILL) with {b['killed_with_cards']:,} cards; resumed: {r2['units']:,} cards in "
           f"{r2['seconds']} s wall, {b['cards_per_second']} cards/s = {2 * b['cards_per_second']:.0f} credentials/s "
           f"({b['workers']} signing workers)",
           f"    bare ECDSA P-256 sign: {b['bare_signs_per_second']:,}/s; cards/s ÷ bare signs/s = "
           f"{b['ratio_to_bare_sign']} (a card is 2 signatures)",
           f"    peak RSS: first run {r1['peak_rss_mib']} MiB, resumed run {r2['peak_rss_mib']} MiB; RSS at 10/50/90% "
           f"of the resumed run: " + ", ".join(f"{v['rss_mib']} MiB ({v['cards']:,} cards)" for v in r2["rss_at"].values()),
           f"    after the resume: {b['check']['cards']:,} cards, serials {b['check']['min_serial']}.."
           f"{b['check']['max_serial']}, {b['check']['distinct_applications']:,} applications, "
           f"{b['check']['queued_jobs']:,} station jobs: " + ("no duplicates, no gaps" if b["check"]["ok"] else "MISMATCH"),
           f"Workers on this machine ({w['rows']:,} rows; 2 CPU-bound processes took {w['cpu_capacity_2_procs']}× "
           "the time of one: 1.0 = two free CPUs)"]
    for n in (0, 2):
        i, x = w[f"import_workers_{n}"], w[f"issue_workers_{n}"]
        out.append(f"  --workers {n}: import of {w['photo_rows']:,} rows with 600x800 photos {i['seconds']} s "
                   f"({i['rows_per_s']} rows/s); issue of {w['rows']:,} cards {x['seconds']} s ({x['cards_per_s']} "
                   f"cards/s; {x['wall_s']} s with the process start)")
    if "skipped" in p:
        out.append(f"Personalisation through pcscd skipped: {p['skipped']}")
    else:
        out.append(f"Personalisation by the station through pcscd ({p['cards']} cards): {p['apdus']} APDUs, "
                   f"{p['bytes_sent']:,} B sent, {p['bytes_received']:,} B received; median {p['median_s'] * 1000:.0f} ms "
                   f"a card, of which {p['median_issuer_s'] * 1000:.0f} ms waiting for the issuer")
    return out
