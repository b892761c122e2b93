"""A private PostgreSQL cluster for the issuer's tests (Debian's postgresql 15).

PostgreSQL refuses to run as root, so initdb and the server run as the `postgres` OS user
(runuser). The cluster lives in a temporary folder owned by that user, listens on
127.0.0.1 only, on a free port, with its unix socket in the same folder, and is stopped by
the postmaster's pid. Durability settings are off: it is thrown away after the session.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(os.environ.get("SSC_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    port: int
    password: str
    pid: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGINT)  # "fast shutdown": roll back and disconnect clients
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, signal.SIGQUIT)
        shutil.rmtree(self.root, ignore_errors=True)


def available() -> bool:
    return (BIN / "initdb").exists() and shutil.which("runuser") is not None and os.geteuid() == 0


def start() -> Cluster:
    root = Path(tempfile.mkdtemp(prefix="sscard-pg-"))
    shutil.chown(root, "postgres", "postgres")
    password = secrets.token_hex(16)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    shutil.chown(pwfile, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run([*as_pg, str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "scram-sha-256",
                    f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"],
                   check=True, capture_output=True, timeout=120)
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=200")
    subprocess.run([*as_pg, str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"),
                    "-w", "-t", "60", "start"], check=True, capture_output=True, timeout=90)
    pid = int((data / "postmaster.pid").read_text().split()[0])
    return Cluster(root, port, password, pid)
