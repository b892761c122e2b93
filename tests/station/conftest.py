"""Fixtures of the station and batch tests: the issuer's (keys once, a fresh database per
test on SQLite and PostgreSQL, officers and a station), pcscd with vpcd (the session's, tests/conftest.py), and the station's
API client over FastAPI's TestClient (an httpx.Client: the station code cannot tell)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from issuer.api import create_app
from issuer.station.client import IssuerClient
from tests.issuer.conftest import (client, database_url, key_dir, keys, password_hash, postgres,  # noqa: F401
                                   runtime, sqlite_client, sqlite_runtime, sqlite_staff, sqlite_url, staff)


@pytest.fixture
def station_client(runtime, staff):
    """The station's client (API key of station-1) against the app on `runtime`."""
    with TestClient(create_app(runtime), headers={"X-API-Key": staff.station_key},
                    raise_server_exceptions=False) as http:
        yield IssuerClient(http)


@pytest.fixture
def sqlite_station_client(sqlite_runtime, sqlite_staff):
    with TestClient(create_app(sqlite_runtime), headers={"X-API-Key": sqlite_staff.station_key},
                    raise_server_exceptions=False) as http:
        yield IssuerClient(http)
