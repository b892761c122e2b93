"""Every lifecycle step as an ssc-issuer subcommand, on SQLite and PostgreSQL (in-process
calls of the command's main, as the shell would make them), with roles and four eyes."""

from __future__ import annotations

import json

import pytest

from issuer.cli import main
from issuer_flow import ALL_DOCUMENTS, PASSPHRASE, PASSWORD, chip_dg5, employer_body, permit_body, person_body, photo


@pytest.fixture
def cli(runtime, staff, monkeypatch, tmp_path, capsys):
    s = runtime.settings
    for name, value in (("SSC_ISSUER_DATABASE_URL", s.database), ("SSC_ISSUER_KEY_DIR", str(s.keys)),
                        ("SSC_KEY_PASSPHRASE", PASSPHRASE), ("SSC_VAR", str(tmp_path)),
                        ("SSC_ISSUER_PASSWORD", PASSWORD)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SSC_ISSUER_API_KEY", raising=False)

    def call(*args: str, expect: int = 0, station: bool = False):
        if station:
            monkeypatch.setenv("SSC_ISSUER_API_KEY", staff.station_key)
        capsys.readouterr()
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        monkeypatch.delenv("SSC_ISSUER_API_KEY", raising=False)
        assert code == expect, out.out + out.err
        return json.loads(out.out) if code == 0 and out.out.lstrip().startswith("{") else out
    return call


def write(tmp_path, name, data) -> str:
    path = tmp_path / name
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(json.dumps(data))
    return str(path)


def test_lifecycle_through_the_command_line(cli, tmp_path):
    e = employer_body()
    cli("employer-add", "--uscc", e["uscc"], "--name", e["name"], "--address", e["address"], "--user", "erin")
    person = cli("person-add", write(tmp_path, "p.json", person_body()), "--user", "erin")
    cli("photo", person["id"], write(tmp_path, "p.jpg", photo()), "--user", "erin")
    insurance = {"enrolments": [{"type": t, "status": 1, "since": "2026-01-01", "paid_through": "2026-10-01"}
                                for t in range(1, 6)]}
    cli("insurance", person["id"], write(tmp_path, "i.json", insurance), "--user", "erin")
    docs = {k: v for k, v in ALL_DOCUMENTS.items() if k != "contract"}
    app = cli("apply", write(tmp_path, "a.json", {"person_id": person["id"], "permit": permit_body(),
                                                  "documents": docs}), "--user", "erin")
    assert cli("approve", app["id"], "--user", "alan", expect=1).err.count("contract")  # a document is missing
    cli("document", app["id"], "contract", "verified", "--reference", "HR-2026-17", "--user", "erin")
    assert cli("approve", app["id"], "--user", "abby")["decided_by"] == "user:abby"  # erin entered it
    card = cli("issue", app["id"], "--user", "erin")
    assert card["serial"] == 1 and card["qr_text"].startswith("SSC1:")
    dg5, _ = chip_dg5()
    assert cli("security-object", card["id"], write(tmp_path, "dg5", dg5), station=True)["security_object"]
    for step in ("personalised", "printed", "delivered"):
        assert cli(step, card["id"], station=True)["status"] == step
    assert cli("suspend", card["id"], "--reason", "review", "--user", "erin")["status"] == "suspended"
    assert cli("resume", card["id"], "--user", "erin")["status"] == "delivered"
    renewal = cli("renew", card["id"], "--valid-until", "2031-12-31", "--user", "erin")
    for doc in ("contract", "passport", "photo"):
        cli("document", renewal["id"], doc, "provided", "--user", "erin")
    cli("approve", renewal["id"], "--user", "alan")
    renewed = cli("issue", renewal["id"], "--user", "alan")
    assert (renewed["sequence"], renewed["serial"]) == (2, 2)
    change = cli("modify", renewed["id"], "--position", "Architect", "--user", "erin")
    cli("document", change["id"], "contract", "provided", "--user", "erin")
    cli("reject", change["id"], "--note", "contract unsigned", "--user", "alan")
    replacement = cli("replace", renewed["id"], "--reason", "lost", "--user", "erin")
    assert replacement["kind"] == "replace"
    assert cli("card", renewed["id"], "--user", "audrey")["status"] == "revoked"
    cli("document", replacement["id"], "passport", "provided", "--user", "erin")
    cli("document", replacement["id"], "photo", "provided", "--user", "erin")
    cli("approve", replacement["id"], "--user", "alan")
    third = cli("issue", replacement["id"], "--user", "erin")
    assert cli("cancel", third["id"], "--reason", "permit revoked", "--user", "erin")["status"] == "revoked"


def test_roles_four_eyes_and_login_on_the_command_line(cli, tmp_path, monkeypatch):
    person = cli("person-add", write(tmp_path, "p.json", person_body()), "--user", "erin")
    assert "needs the role" in cli("person-add", write(tmp_path, "q.json", person_body()), "--user", "alan",
                                   expect=3).err
    cli("employer-add", "--uscc", employer_body()["uscc"], "--name", "X Ltd", "--user", "abby")
    cli("photo", person["id"], write(tmp_path, "p.png", photo("PNG")), "--user", "abby")
    app = cli("apply", write(tmp_path, "a.json", {"person_id": person["id"], "permit": permit_body(),
                                                  "documents": ALL_DOCUMENTS}), "--user", "abby")
    assert "four eyes" in cli("approve", app["id"], "--user", "abby", expect=1).err
    assert "--user" in cli("approve", app["id"], expect=3).err
    monkeypatch.setenv("SSC_ISSUER_PASSWORD", "wrong password!")
    assert "wrong user name or password" in cli("approve", app["id"], "--user", "alan", expect=3).err
    bad = person_body()
    bad["holder"]["nationality"] = "XYZ"
    monkeypatch.setenv("SSC_ISSUER_PASSWORD", PASSWORD)
    assert "holder.nationality" in cli("person-add", write(tmp_path, "b.json", bad), "--user", "erin", expect=1).err
    legacy = {"records": [{"person": person_body(), "employer": employer_body(), "permit": permit_body(),
                           "card": {"card_number": "LEG0001", "issue_date": "2023-05-01", "expiry_date": "2028-04-30"}}]}
    assert len(cli("import-legacy", write(tmp_path, "l.json", legacy), "--user", "erin")["imported"]) == 1
