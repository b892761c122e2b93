"""Fixtures of the e-card tests: an issuer service on SQLite behind TestClient (keys made once
per session), a delivered card, the holder's wallet, and a terminal that trusts the
issuer's published trust list with its replay cache in a SQLite file."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crypto import Algorithm, TrustStore
from issuer import auth, keyring
from issuer.api import create_app
from issuer_env import add_staff, make_runtime
from issuer_flow import PASSPHRASE, PASSWORD, chip_dg5, issue_card, ok
from clock_support import CLOCK

WALLET_PASSPHRASE = "wallet-test-passphrase"


@pytest.fixture(scope="session")
def ecard_key_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ecard-issuer-keys")
    keyring.init_software(folder, "SH01", PASSPHRASE.encode(), Algorithm.ES256).close()
    return folder


@pytest.fixture(scope="session")
def ecard_keys(ecard_key_dir):
    return keyring.load(ecard_key_dir, "SH01", PASSPHRASE.encode())


@pytest.fixture(scope="session")
def ecard_password_hash() -> str:
    return auth.hash_password(PASSWORD)


class Clock:
    """The issuer's clock in the tests: real time plus an offset the test can move."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return CLOCK.seconds() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def ecard_postgres():
    """A private PostgreSQL cluster (as the issuer's tests have), for the e-card on PostgreSQL."""
    import pg_cluster

    if not pg_cluster.available():
        pytest.skip("PostgreSQL 15 (Debian postgresql) and root are needed to start a private cluster")
    cluster = pg_cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path) -> str:
    """SQLite for every e-card test; a test that needs PostgreSQL too parametrizes this."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issuer.db'}"
    from sqlalchemy import create_engine, text

    cluster = request.getfixturevalue("ecard_postgres")
    name = f"ecard_{tmp_path.name.lower().replace('-', '_')[:40]}"
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return cluster.url(name)


@pytest.fixture
def issuer(tmp_path, database_url, ecard_key_dir, ecard_keys, ecard_password_hash, clock):
    rt = make_runtime(tmp_path, database_url, ecard_key_dir, ecard_keys)
    rt.clock = clock
    staff = add_staff(rt, ecard_password_hash)
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        yield Issuer(rt, staff, client)
    rt._keys = None  # shared by the session
    rt.close()


@dataclass
class Issuer:
    rt: object
    staff: object
    client: TestClient

    def delivered_card(self) -> dict:
        """Enrol, approve, issue, personalise (chip key, security object), print, deliver."""
        card = issue_card(self.client, self.staff)
        dg5, _ = chip_dg5()
        station = self.staff["station"]
        ok(self.client.post(f"/api/cards/{card['id']}/security-object", headers=station,
                            json={"dg5": base64.b64encode(dg5).decode()}))
        for step in ("personalised", "printed", "delivered"):
            card = ok(self.client.post(f"/api/cards/{card['id']}/{step}", headers=station))
        return card

    def person(self, card: dict) -> dict:
        return ok(self.client.get(f"/api/persons/{card['person_id']}", headers=self.staff["erin"]))

    def code(self, card: dict) -> str:
        return ok(self.client.post(f"/api/cards/{card['id']}/ecard-code", headers=self.staff["erin"]), 201)["code"]

    def store(self) -> TrustStore:
        """A terminal's trust store with the latest published trust list."""
        store = TrustStore(self.rt.keys.root)
        response = self.client.get("/trust-list")
        if response.status_code == 404:  # nothing revoked yet: the admin publishes the first list
            ok(self.client.post("/api/trust-list/publish", headers=self.staff["ada"]), 201)
            response = self.client.get("/trust-list")
        assert response.status_code == 200, response.text
        store.update(response.content)
        return store


@pytest.fixture
def activated(issuer, tmp_path):
    """A delivered card with its e-card activated in a wallet: (issuer, card, wallet)."""
    from firmware_tools.wallet import Wallet, WalletStore
    from firmware_tools.wallet.client import activate
    from firmware_tools.wallet.store import new_device_key

    card = issuer.delivered_card()
    person = issuer.person(card)
    store = WalletStore(tmp_path / "wallet")
    activate(store, "http://testserver", new_device_key(), WALLET_PASSPHRASE.encode(), code=issuer.code(card),
             work_permit=person["work_permit_number"], client=issuer.client)
    return issuer, card, Wallet.open(store, WALLET_PASSPHRASE.encode())
