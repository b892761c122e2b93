"""Helpers shared by tests that need a trust store (importable: tests/ is on pythonpath)."""

from __future__ import annotations

import datetime as dt

from crypto import TrustStore, build_trust_list
from crypto.pki import DevelopmentPki


def make_store(pki: DevelopmentPki, now: int, *, version: int = 1, revoked=None, issuers=None,
               next_update: int | None = None) -> TrustStore:
    data = build_trust_list(version=version, issued_at=now - 60,
                            next_update=next_update if next_update is not None else now + 86400,
                            issuer_certificates=issuers or [pki.issuer.certificate],
                            revoked=revoked or {}, signer=pki.trust_list_signer)
    store = TrustStore(pki.root)
    store.update(data)
    return store


def utc(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)
