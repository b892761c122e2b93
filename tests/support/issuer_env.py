"""Building blocks of the issuer's test fixtures (tests/issuer/conftest.py), importable by
tests that make their own databases (the concurrency tests)."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from issuer import auth
from issuer.db.models import Station, User
from issuer.services.runtime import Runtime
from issuer.settings import Settings
from issuer_flow import PASSPHRASE, ROLES, TOKEN_SECRET

_db_counter = itertools.count(1)


def new_postgres_database(cluster) -> str:
    name = f"sscard_{os.getpid()}_{next(_db_counter)}"
    with cluster.admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name} TEMPLATE {cluster.template}"))
    return cluster.url(name)


def make_settings(tmp_path: Path, url: str, key_dir: Path, **extra) -> Settings:
    return Settings(var=tmp_path, database_url=url, key_dir=key_dir, key_passphrase=PASSPHRASE,
                    token_secret=TOKEN_SECRET, **extra)


def make_runtime(tmp_path: Path, url: str, key_dir: Path, keys=None, **extra) -> Runtime:
    rt = Runtime(make_settings(tmp_path, url, key_dir, **extra), keys=keys)
    rt.db.upgrade()
    return rt


@dataclass
class Staff:
    """Officers and a station, with the headers to act as each."""

    rt: Runtime
    headers: dict[str, dict] = field(default_factory=dict)
    station_key: str = ""

    def __getitem__(self, name: str) -> dict:
        return self.headers[name]


def add_staff(rt: Runtime, password_hash: str) -> Staff:
    staff = Staff(rt)
    key_id, key, digest = auth.new_api_key()
    with rt.db.session() as s:
        users = {name: User(username=name, password_hash=password_hash, roles=roles, active=True)
                 for name, roles in ROLES.items()}
        s.add_all(users.values())
        s.add(Station(name="station-1", key_id=key_id, key_sha256=digest, active=True))
        s.commit()
        for name, user in users.items():
            token, _ = auth.issue_token(user, rt.settings.token_key, 15)
            staff.headers[name] = {"Authorization": f"Bearer {token}"}
    staff.headers["station"] = {"X-API-Key": key}
    staff.station_key = key
    return staff
