"""Issuance through the issuer service's API under concurrent clients (DESIGN.md §7).

A real `ssc-issuer serve` (uvicorn, one process) on 127.0.0.1, on SQLite and on a private
PostgreSQL cluster (started as in the tests, tests/support/pg_cluster.py). Approved
applications are prepared beforehand through the services; then C client threads, each
with its own HTTP connection and officer token, POST /api/applications/{id}/issue (with an
Idempotency-Key, as a real client would) until all are issued. Each issue takes a serial,
signs the QR credential and the chip profile (2 signatures), builds the five data groups,
and commits the card and its audit row.

Reported: cards/s (wall clock over all clients), p50 / p99 latency per request, errors,
and the throughput as a ratio to bare signing measured in the same run — a bare
`cryptography` ECDSA P-256 sign of a 300-byte message, in one thread, key in memory.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.fixtures import Fixtures
from bench.timing import Settings

NAME = "issuer_api"
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSPHRASE = "bench-passphrase"
PASSWORD = "bench password 1"


def _bare_signs_per_second(seconds: float = 1.0) -> float:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key, message, algorithm = ec.generate_private_key(ec.SECP256R1()), os.urandom(300), ec.ECDSA(hashes.SHA256())
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            key.sign(message, algorithm)
        count += 50
    return count / (time.perf_counter() - start)


def _prepare(url: str, folder: Path, n: int) -> list[int]:
    """n approved applications (and the officers), made through the services directly."""
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    import issuer_flow
    from crypto import samples
    from issuer.services import applications, registry, users
    from issuer.services import inputs as i
    from issuer.services.runtime import Runtime
    from issuer.settings import Settings as IssuerSettings

    rt = Runtime(IssuerSettings(var=folder, database_url=url, key_passphrase=PASSPHRASE))
    rt.db.upgrade()
    photo = issuer_flow.photo()
    ids = []
    with rt.db.session() as s:
        users.create_user(s, "bench", i.UserIn(username="erin", password=PASSWORD, roles=["enroller"]))
        registry.create_employer(s, "bench", i.EmployerIn(uscc=samples.SAMPLE_USCC, name="Bench Co., Ltd."))
        s.commit()
        for k in range(n):
            person = registry.create_person(s, "user:erin", i.PersonIn.model_validate(issuer_flow.person_body(k + 1)))
            registry.set_photo(s, "user:erin", rt.settings, person.id, photo)
            app = applications.apply(s, "user:erin", i.ApplicationIn(
                person_id=person.id, permit=issuer_flow.permit_body(), documents=issuer_flow.ALL_DOCUMENTS))
            applications.approve(s, "user:alan", app.id, i.DecisionIn())
            ids.append(app.id)
            if k % 50 == 49:
                s.commit()
        s.commit()
    rt.close()
    return ids


def _serve(url: str, folder: Path) -> tuple[subprocess.Popen, str]:
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from pg_cluster import free_port

    port = free_port()
    env = dict(os.environ, SSC_VAR=str(folder), SSC_ISSUER_DATABASE_URL=url, SSC_KEY_PASSPHRASE=PASSPHRASE)
    # The server's log goes to a file, never to a pipe nobody reads: at 64 clients uvicorn's
    # access log would fill a pipe's 64 KiB and block the server.
    log_path = folder / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(BIN / "ssc-issuer"), "serve", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ssc-issuer serve did not start: {log_path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def _load(base: str, ids: list[int], clients: int) -> dict:
    token = httpx.post(f"{base}/api/auth/token", data={"username": "erin", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    latencies: list[float] = []
    errors: list[int] = []
    lock, start = threading.Lock(), threading.Barrier(clients + 1)

    def client(chunk: list[int]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            c.get("/health")  # open the connection before the clock starts
            start.wait()
            for app_id in chunk:
                t0 = time.perf_counter()
                r = c.post(f"/api/applications/{app_id}/issue", headers={"Idempotency-Key": f"bench-{app_id}"})
                dt = time.perf_counter() - t0
                with lock:
                    (latencies if r.status_code == 201 else errors).append(dt if r.status_code == 201 else r.status_code)
    threads = [threading.Thread(target=client, args=(ids[k::clients],)) for k in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {"clients": clients, "cards": len(latencies), "errors": len(errors), "seconds": round(wall, 3),
            "cards_per_second": round(len(latencies) / wall, 1), "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(p(0.99), 1), "max_ms": round(latencies[-1] * 1000, 1)}


def _database(kind: str, folder: Path, cluster) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'issuer.db'}"
    from sqlalchemy import create_engine, text

    name = f"bench_{folder.name.replace('-', '_')}"
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return cluster.url(name)


def run(fx: Fixtures, settings: Settings) -> dict:
    from crypto import Algorithm
    from issuer import keyring

    quick = settings.rounds < 50
    cards, concurrency = (24, (1, 4)) if quick else (240, (1, 4, 16))
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    import pg_cluster

    cluster = pg_cluster.start() if pg_cluster.available() else None
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="sscard-bench-issuer-") as tmp:
            keys = Path(tmp) / "keys"
            keyring.init_software(keys, "SH01", PASSPHRASE.encode(), Algorithm.ES256).close()
            bare = _bare_signs_per_second()
            for kind in ("sqlite", "postgresql"):
                if kind == "postgresql" and cluster is None:
                    continue
                for clients in concurrency:
                    folder = Path(tempfile.mkdtemp(prefix=f"{kind}-{clients}-", dir=tmp))
                    (folder / "keys").symlink_to(keys)
                    url = _database(kind, folder, cluster)
                    ids = _prepare(url, folder, cards)
                    proc, base = _serve(url, folder)
                    try:
                        row = _load(base, ids, clients)
                    finally:
                        _stop(proc)
                    row.update(database=kind, bare_signs_per_second=round(bare),
                               ratio_to_bare_sign=round(row["cards_per_second"] / bare, 4))
                    rows.append(row)
    finally:
        if cluster is not None:
            cluster.stop()
    return {"rows": rows, "signatures_per_card": 2, "postgresql": cluster is not None}


def report(result: dict) -> list[str]:
    out = ["Issuance through the API (ssc-issuer serve, 1 uvicorn process; POST .../issue, 2 signatures per card)",
           f"  {'database':10} {'clients':>7} {'cards':>6} {'cards/s':>8} {'p50':>9} {'p99':>9} {'errors':>6} "
           f"{'bare sign/s':>11} {'ratio':>7}"]
    for r in result["rows"]:
        out.append(f"  {r['database']:10} {r['clients']:>7} {r['cards']:>6} {r['cards_per_second']:>8} "
                   f"{r['p50_ms']:>7} ms {r['p99_ms']:>6} ms {r['errors']:>6} {r['bare_signs_per_second']:>11} "
                   f"{r['ratio_to_bare_sign']:>7.4f}")
    if not result["postgresql"]:
        out.append("  (PostgreSQL skipped: needs root and Debian postgresql 15)")
    out.append("  ratio = cards/s through the API / bare ECDSA P-256 signs/s (one thread, key in memory)")
    return out
