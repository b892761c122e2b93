"""Every lifecycle step through the API, on SQLite and on PostgreSQL, checked against what a
terminal would conclude from the signed artefacts and the published trust list."""

from __future__ import annotations

import base64

import pytest

from crypto import Outcome, TrustStore, verify_credential, verify_security_object
from crypto.chip import Group, decode_group
from firmware_tools.card import profile
from issuer_flow import ALL_DOCUMENTS, chip_dg5, enrol, issue_card, ok
from clock_support import CLOCK


def store_from(client, keys) -> TrustStore:
    store = TrustStore(keys.root)
    store.update(client.get("/trust-list").content)
    return store


def qr_verdict(client, keys, card) -> Outcome:
    return verify_credential(card["qr_text"], store_from(client, keys), now=CLOCK.now()).outcome


def publish(client, staff):
    return ok(client.post("/api/trust-list/publish", headers=staff["ada"]), 201)


def personalise(client, staff, card_id: int) -> dict:
    dg5, _key = chip_dg5()
    body = ok(client.post(f"/api/cards/{card_id}/security-object", json={"dg5": base64.b64encode(dg5).decode()},
                          headers=staff["station"]))
    for step in ("personalised", "printed", "delivered"):
        assert ok(client.post(f"/api/cards/{card_id}/{step}", headers=staff["station"]))["status"] == step
    return {"dg5": dg5, **body}


def test_apply_approve_issue_personalise_deliver(client, staff, keys):
    person_id, app_id = enrol(client, staff)
    app = ok(client.get(f"/api/applications/{app_id}", headers=staff["alan"]))
    assert app["status"] == "submitted" and app["missing_documents"] == []
    ok(client.post(f"/api/applications/{app_id}/approve", json={"note": "documents seen"}, headers=staff["alan"]))
    card = ok(client.post(f"/api/applications/{app_id}/issue", headers=staff["erin"]), 201)
    assert (card["serial"], card["sequence"], card["status"], card["kind"]) == (1, 1, "issued", 1)
    assert card["card_number"].startswith("SH01P") and len(card["card_number"]) == 16
    publish(client, staff)
    assert qr_verdict(client, keys, card) is Outcome.VALID

    package = ok(client.get(f"/api/cards/{card['id']}/personalisation", headers=staff["station"]))
    files = {name: base64.b64decode(data) for name, data in package["files"].items()}
    assert set(files) == {"EF.CardInfo", "EF.DG1", "EF.DG2", "EF.DG3", "EF.DG4"}
    assert decode_group(Group.PHOTO, profile.DG2.unwrap(files["EF.DG2"]))[:2] == b"\xff\xd8"  # the JPEG
    done = personalise(client, staff, card["id"])
    so = base64.b64decode(done["security_object"])
    verdict = verify_security_object(so, store_from(client, keys), now=CLOCK.now())
    assert verdict.outcome is Outcome.VALID, verdict
    assert profile.SECURITY_OBJECT.unwrap(base64.b64decode(done["files"]["EF.SO"])) == so
    # the same chip key again is idempotent; another chip key for the same card is refused
    again = client.post(f"/api/cards/{card['id']}/security-object",
                        json={"dg5": base64.b64encode(done["dg5"]).decode()}, headers=staff["station"])
    assert again.status_code == 200 and again.json()["security_object"] == done["security_object"]
    other, _ = chip_dg5()
    assert client.post(f"/api/cards/{card['id']}/security-object", json={"dg5": base64.b64encode(other).decode()},
                       headers=staff["station"]).status_code == 409
    person = ok(client.get(f"/api/persons/{person_id}", headers=staff["audrey"]))
    assert person["permit"]["employer_uscc"] and person["photo_sha256"]


def test_renew_supersedes_the_old_card(client, staff, keys):
    old = issue_card(client, staff)
    personalise(client, staff, old["id"])
    app = ok(client.post(f"/api/cards/{old['id']}/renew", headers=staff["erin"],
                         json={"valid_until": "2031-06-30", "documents": ALL_DOCUMENTS}), 201)
    assert app["kind"] == "renew" and app["previous_card_id"] == old["id"]
    ok(client.post(f"/api/applications/{app['id']}/approve", headers=staff["alan"]))
    new = ok(client.post(f"/api/applications/{app['id']}/issue", headers=staff["erin"]), 201)
    assert (new["sequence"], new["serial"]) == (2, 2)
    old_now = ok(client.get(f"/api/cards/{old['id']}", headers=staff["erin"]))
    assert old_now["status"] == "superseded" and old_now["replaced_by_id"] == new["id"]
    assert qr_verdict(client, keys, old) is Outcome.INVALID  # the superseded credential is listed
    assert qr_verdict(client, keys, new) is Outcome.VALID
    person = ok(client.get(f"/api/persons/{new['person_id']}", headers=staff["erin"]))
    assert person["permit"]["valid_until"] == "2031-06-30"


def test_modify_re_signs_with_the_new_position(client, staff, keys):
    old = issue_card(client, staff)
    personalise(client, staff, old["id"])
    app = ok(client.post(f"/api/cards/{old['id']}/modify", headers=staff["erin"],
                         json={"position": "Engineering Manager", "work_location": "310104",
                               "documents": {"contract": "verified"}}), 201)
    ok(client.post(f"/api/applications/{app['id']}/approve", headers=staff["alan"]))
    new = ok(client.post(f"/api/applications/{app['id']}/issue", headers=staff["erin"]), 201)
    verdict = verify_credential(new["qr_text"], store_from(client, keys), now=CLOCK.now())
    assert verdict.outcome is Outcome.VALID
    assert verdict.claims.credential.permit.position == "Engineering Manager"
    assert verdict.claims.credential.permit.work_location == "310104"
    assert qr_verdict(client, keys, old) is Outcome.INVALID


def test_replace_revokes_at_once(client, staff, keys):
    lost = issue_card(client, staff)
    personalise(client, staff, lost["id"])
    body = ok(client.post(f"/api/cards/{lost['id']}/replace", headers=staff["erin"],
                          json={"reason": "stolen", "documents": {"passport": "provided", "photo": "provided"}}), 201)
    assert body["revoked_card"]["status"] == "revoked"
    assert qr_verdict(client, keys, lost) is Outcome.INVALID  # before the replacement exists
    app_id = body["application"]["id"]
    ok(client.post(f"/api/applications/{app_id}/approve", headers=staff["alan"]))
    new = ok(client.post(f"/api/applications/{app_id}/issue", headers=staff["erin"]), 201)
    assert new["sequence"] == 2 and qr_verdict(client, keys, new) is Outcome.VALID
    assert ok(client.get(f"/api/cards/{lost['id']}", headers=staff["erin"]))["status"] == "revoked"


def test_suspend_resume_and_cancel(client, staff, keys):
    card = issue_card(client, staff)
    personalise(client, staff, card["id"])
    assert ok(client.post(f"/api/cards/{card['id']}/suspend", json={"reason": "permit under review"},
                          headers=staff["erin"]))["status"] == "suspended"
    assert qr_verdict(client, keys, card) is Outcome.INVALID
    assert client.post(f"/api/cards/{card['id']}/suspend", json={"reason": "again"},
                       headers=staff["erin"]).status_code == 409
    assert ok(client.post(f"/api/cards/{card['id']}/resume", headers=staff["erin"]))["status"] == "delivered"
    assert qr_verdict(client, keys, card) is Outcome.VALID
    ok(client.post(f"/api/cards/{card['id']}/cancel", json={"reason": "employment ended"}, headers=staff["erin"]))
    assert ok(client.get(f"/api/cards/{card['id']}", headers=staff["erin"]))["status"] == "revoked"
    assert qr_verdict(client, keys, card) is Outcome.INVALID
    person = ok(client.get(f"/api/persons/{card['person_id']}", headers=staff["erin"]))
    assert person["permit"]["status"] == 3
    assert client.post(f"/api/cards/{card['id']}/cancel", json={"reason": "x"}, headers=staff["erin"]).status_code == 409


def test_electronic_card_has_no_chip_steps(client, staff, keys):
    card = issue_card(client, staff, card_kind=2)
    assert card["card_number"][4] == "E"
    assert client.post(f"/api/cards/{card['id']}/personalised", headers=staff["station"]).status_code == 409
    dg5, _ = chip_dg5()
    assert client.post(f"/api/cards/{card['id']}/security-object", json={"dg5": base64.b64encode(dg5).decode()},
                       headers=staff["station"]).status_code == 409
    assert ok(client.post(f"/api/cards/{card['id']}/delivered", headers=staff["station"]))["status"] == "delivered"


def test_steps_out_of_order_are_conflicts(client, staff):
    card = issue_card(client, staff)
    assert client.post(f"/api/cards/{card['id']}/personalised", headers=staff["station"]).status_code == 409
    assert client.post(f"/api/cards/{card['id']}/printed", headers=staff["station"]).status_code == 409
    assert client.post(f"/api/cards/{card['id']}/renew", json={"valid_until": "2031-01-01"},
                       headers=staff["erin"]).status_code == 201  # a card that is issued is in use
    app = client.get("/api/applications?status=submitted", headers=staff["erin"]).json()
    assert [a["kind"] for a in app] == ["renew"]
    # the renewal's checklist lacks contract, passport, photo: approval is refused
    refused = client.post(f"/api/applications/{app[0]['id']}/approve", headers=staff["alan"])
    assert refused.status_code == 409
    assert {e["field"] for e in refused.json()["errors"]} == {"documents.contract", "documents.passport",
                                                              "documents.photo"}
    assert client.post(f"/api/applications/{app[0]['id']}/issue", headers=staff["erin"]).status_code == 409


def test_legacy_record_stays_until_renewed(client, staff, keys):
    from issuer_flow import employer_body, permit_body, person_body

    record = {"person": person_body(), "employer": employer_body(), "permit": permit_body("2028-12-31"),
              "card": {"card_number": "OLD0000123", "issue_date": "2024-01-10", "expiry_date": "2028-12-31",
                       "sequence": 1}}
    result = ok(client.post("/api/legacy/import", json={"records": [record]}, headers=staff["erin"]), 201)
    assert len(result["imported"]) == 1 and result["skipped"] == []
    again = ok(client.post("/api/legacy/import", json={"records": [record]}, headers=staff["erin"]), 201)
    assert again["imported"] == [] and len(again["skipped"]) == 1
    card_id, person_id = result["imported"][0]["card_id"], result["imported"][0]["person_id"]
    legacy = ok(client.get(f"/api/cards/{card_id}", headers=staff["erin"]))
    assert (legacy["status"], legacy["serial"], legacy["qr_text"]) == ("legacy", None, None)
    ok(client.put(f"/api/persons/{person_id}/photo", files={"photo": ("p.png", __import__("issuer_flow").photo("PNG"),
                                                                      "image/png")}, headers=staff["erin"]))
    app = ok(client.post(f"/api/cards/{card_id}/renew", headers=staff["erin"],
                         json={"valid_until": "2030-12-31", "documents": ALL_DOCUMENTS}), 201)
    ok(client.post(f"/api/applications/{app['id']}/approve", headers=staff["alan"]))
    new = ok(client.post(f"/api/applications/{app['id']}/issue", headers=staff["erin"]), 201)
    assert new["sequence"] == 2 and new["serial"] == 1
    assert ok(client.get(f"/api/cards/{card_id}", headers=staff["erin"]))["status"] == "superseded"
    assert ok(client.get(f"/api/persons/{person_id}", headers=staff["erin"]))["permit"]["legacy"] is False
    publish(client, staff)  # a legacy card has no serial of ours: nothing was listed
    assert qr_verdict(client, keys, new) is Outcome.VALID


def test_reject_and_no_second_open_application(client, staff):
    person_id, app_id = enrol(client, staff)
    from issuer_flow import permit_body

    second = client.post("/api/applications", headers=staff["erin"],
                         json={"person_id": person_id, "permit": permit_body()})
    assert second.status_code == 409
    assert ok(client.post(f"/api/applications/{app_id}/reject", json={"note": "forged contract"},
                          headers=staff["alan"]))["status"] == "rejected"
    assert client.post(f"/api/applications/{app_id}/issue", headers=staff["erin"]).status_code == 409


@pytest.mark.parametrize("missing", ["criminal_record", "medical_examination"])
def test_approval_refused_while_a_document_is_missing(client, staff, missing):
    documents = {k: v for k, v in ALL_DOCUMENTS.items() if k != missing}
    _, app_id = enrol(client, staff, documents=documents)
    refused = client.post(f"/api/applications/{app_id}/approve", headers=staff["alan"])
    assert refused.status_code == 409 and missing in refused.json()["detail"]
    ok(client.put(f"/api/applications/{app_id}/documents/{missing}", json={"status": "verified", "reference": "X1"},
                  headers=staff["erin"]))
    ok(client.post(f"/api/applications/{app_id}/approve", headers=staff["alan"]))
