"""The audit log: every change appends a chained row; `audit verify` finds an edited,
reordered or deleted row, even by someone who can switch the append-only triggers off."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from issuer import audit
from issuer.cli import main as cli_main
from issuer_flow import issue_card, ok


def _drop_triggers(session, dialect: str) -> None:
    """What an attacker with the database owner's rights would do first."""
    if dialect == "postgresql":
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    else:
        session.execute(text("DROP TRIGGER audit_log_no_update"))
        session.execute(text("DROP TRIGGER audit_log_no_delete"))


@pytest.fixture
def logged(client, staff, runtime):
    issue_card(client, staff)
    with runtime.db.session() as s:
        report = audit.verify(s)
    assert report.ok and report.rows >= 6, report.problems
    return runtime


def test_changes_are_audited_without_personal_data(client, staff, logged):
    rows = ok(client.get("/api/audit?limit=1000", headers=staff["audrey"]))
    actions = [r["action"] for r in rows]
    assert actions[:3] == ["employer.create", "person.create", "person.photo"]
    assert {"application.new", "application.approve", "card.issue"} <= set(actions)
    text_of_log = str(rows)
    for pii in ("MUELLER", "ANNA", "F310000DEU", "156000019", "C4J7K2L9M"):
        assert pii not in text_of_log
    approve = next(r for r in rows if r["action"] == "application.approve")
    assert approve["actor"] == "user:alan"
    assert ok(client.get("/api/audit/verify", headers=staff["audrey"]))["ok"] is True


def test_database_refuses_update_and_delete(logged):
    for statement in ("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 1"):
        with logged.db.session() as s:
            with pytest.raises(Exception, match="append-only"):
                s.execute(text(statement))
                s.flush()


@pytest.mark.parametrize("tamper,expected", [
    ("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 3", "row 3: its content does not match its hash"),
    ("UPDATE audit_log SET details = '{\"card\": 1}' WHERE seq = 2", "row 2: its content"),
    ("DELETE FROM audit_log WHERE seq = 2", "expected sequence number 2"),
    ("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)", "the head says"),
    ("SWAP", "does not follow"),
], ids=["edit-actor", "edit-details", "delete-middle", "delete-last", "reorder"])
def test_verify_finds_tampering(logged, tamper, expected, monkeypatch, capsys):
    with logged.db.session() as s:
        _drop_triggers(s, logged.db.dialect)
        if tamper == "SWAP":  # rows 2 and 3 trade places (their sequence numbers), hashes and all
            s.execute(text("UPDATE audit_log SET seq = -2 WHERE seq = 2"))
            s.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 3"))
            s.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = -2"))
        else:
            s.execute(text(tamper))
        s.commit()
    with logged.db.session() as s:
        report = audit.verify(s)
    assert not report.ok and any(expected in p for p in report.problems), report.problems
    # the command an auditor runs says so, with exit code 1
    monkeypatch.setenv("SSC_ISSUER_DATABASE_URL", logged.settings.database)
    assert cli_main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "AUDIT LOG TAMPERED" in out and expected in out


def test_cli_verify_intact(logged, monkeypatch, capsys):
    monkeypatch.setenv("SSC_ISSUER_DATABASE_URL", logged.settings.database)
    assert cli_main(["audit", "verify"]) == 0
    assert "audit log intact" in capsys.readouterr().out
