"""Fixtures of the issuer's tests: keys made once, a fresh database per test on SQLite and on
a private PostgreSQL cluster, the app behind FastAPI's TestClient, and officers with tokens.

Passwords are hashed once per session and tokens issued directly (logging in is tested on
its own), so that a fresh database per test stays cheap.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

import pg_cluster
from crypto import Algorithm
from issuer import auth, keyring
from issuer.api import create_app
from issuer.db import Database
from issuer_env import Staff, add_staff, make_runtime, new_postgres_database
from issuer_flow import PASSPHRASE, PASSWORD


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("issuer-keys")
    keyring.init_software(folder, "SH01", PASSPHRASE.encode(), Algorithm.ES256).close()
    return folder


@pytest.fixture(scope="session")
def keys(key_dir) -> keyring.Keyring:
    return keyring.load(key_dir, "SH01", PASSPHRASE.encode())


@pytest.fixture(scope="session")
def password_hash() -> str:
    return auth.hash_password(PASSWORD)


@pytest.fixture(scope="session")
def postgres():
    if not pg_cluster.available():
        pytest.skip("PostgreSQL 15 (Debian postgresql) and root are needed to start a private cluster")
    cluster = pg_cluster.start()
    template = "sscard_template"
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {template}"))
    db = Database(cluster.url(template), pool_size=2)
    db.upgrade()
    db.dispose()
    cluster.template, cluster.admin = template, admin
    try:
        yield cluster
    finally:
        admin.dispose()
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each test that uses it runs twice: on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issuer.db'}"
    return new_postgres_database(request.getfixturevalue("postgres"))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'issuer.db'}"


@pytest.fixture
def runtime(tmp_path, database_url, key_dir, keys):
    rt = make_runtime(tmp_path, database_url, key_dir, keys)
    yield rt
    rt._keys = None  # shared by the session; not closed here
    rt.close()


@pytest.fixture
def sqlite_runtime(tmp_path, sqlite_url, key_dir, keys):
    rt = make_runtime(tmp_path, sqlite_url, key_dir, keys)
    yield rt
    rt._keys = None
    rt.close()


@pytest.fixture
def staff(runtime, password_hash) -> Staff:
    return add_staff(runtime, password_hash)


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def sqlite_staff(sqlite_runtime, password_hash) -> Staff:
    return add_staff(sqlite_runtime, password_hash)


@pytest.fixture
def sqlite_client(sqlite_runtime):
    with TestClient(create_app(sqlite_runtime), raise_server_exceptions=False) as c:
        yield c
