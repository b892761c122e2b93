"""Fixtures of the trust core's tests: a development PKI made once per session."""

from __future__ import annotations

import pytest

from crypto_support import make_store
from crypto.cose import Algorithm
from crypto.pki import DevelopmentPki

PASSPHRASE = b"test-passphrase"


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> DevelopmentPki:
    return DevelopmentPki.create(tmp_path_factory.mktemp("pki"), PASSPHRASE)


@pytest.fixture(scope="session")
def eddsa_pki(tmp_path_factory) -> DevelopmentPki:
    return DevelopmentPki.create(tmp_path_factory.mktemp("pki-eddsa"), PASSPHRASE,
                                 issuer_code="SH02", algorithm=Algorithm.EDDSA)


@pytest.fixture()
def store(pki, now) -> TrustStore:
    return make_store(pki, now, revoked={"SH01": [7, 9]})


