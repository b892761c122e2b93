"""E-card issuance (docs/spec.md §12.6) through the issuer's API: activation codes (right,
wrong, expired, reused, throttled, hashed at rest), proof of possession, the credential,
roles, and revocation: the phone lost (the e-card only), a new phone, and the physical
card replaced or cancelled (the e-card follows)."""

from __future__ import annotations


import pytest
from sqlalchemy import select, text

from crypto.ecard_verify import MemoryReplayGuard, verify_presentation
from firmware_tools.wallet import Wallet, WalletStore
from firmware_tools.wallet.client import ActivationFailed, activate, activation_request
from firmware_tools.wallet.store import decode_ecard, new_device_key
from issuer.db.ecard_models import EcardActivation
from issuer_flow import ok
from clock_support import CLOCK

WALLET_PASSPHRASE = "wallet-test-passphrase"


def _activate(issuer, card, code, tmp_path, name="wallet", **identifier):
    person = issuer.person(card)
    identifier = identifier or {"work_permit": person["work_permit_number"]}
    store = WalletStore(tmp_path / name)
    activate(store, "http://testserver", new_device_key(), WALLET_PASSPHRASE.encode(), code=code,
             client=issuer.client, **identifier)
    return Wallet.open(store, WALLET_PASSPHRASE.encode())


def _post(issuer, card, code, **override):
    body = activation_request(new_device_key(), code, work_permit=issuer.person(card)["work_permit_number"])
    return issuer.client.post("/api/ecard/activate", json=body | override)


def verdict(issuer, wallet):
    return verify_presentation(wallet.present(), issuer.store(), now=CLOCK.now(), replay=MemoryReplayGuard())


def test_activation_gives_a_credential_bound_to_the_phone(issuer, tmp_path):
    card = issuer.delivered_card()
    wallet = _activate(issuer, card, issuer.code(card), tmp_path)
    claims = wallet.claims()
    assert claims.data["card"]["card_number"] == card["card_number"]  # the same card number
    assert claims.data["card"]["kind"].name == "ELECTRONIC" and claims.serial != card["serial"]  # its own serial
    assert wallet.meta["holder"] == "MUELLER, ANNA"
    assert verdict(issuer, wallet).valid
    listed = ok(issuer.client.get(f"/api/cards/{card['id']}/ecards", headers=issuer.staff["audrey"]))
    assert [(e["serial"], e["status"]) for e in listed] == [(claims.serial, "active")]


def test_activation_with_the_social_security_number(issuer, tmp_path):
    card = issuer.delivered_card()
    ssn = issuer.person(card)["social_security_number"]
    wallet = _activate(issuer, card, issuer.code(card).lower(), tmp_path, ssn=ssn.lower())  # as typed
    assert wallet.claims().data["identifiers"]["social_security_number"] == ssn


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_wrong_code_wrong_holder_expired_and_reused(issuer, tmp_path, clock):
    card, other = issuer.delivered_card(), issuer.delivered_card()
    code = issuer.code(card)
    r = _post(issuer, card, "AAAA-BBBB-CCCC")
    assert r.status_code == 403 and "not valid" in r.json()["detail"]
    r = _post(issuer, other, code)  # the right code, another holder's identifier
    assert r.status_code == 403 and r.json()["detail"] == "the activation code is not valid for this holder"
    assert ok(_post(issuer, card, code), 201)["ecard"]["card_number"] == card["card_number"]
    r = _post(issuer, card, code)  # one-time
    assert r.status_code == 409 and "used already" in r.json()["detail"]
    late = issuer.code(other)
    clock.offset = 61 * 60  # the code lives 60 minutes
    r = _post(issuer, other, late)
    assert r.status_code == 410 and "expired" in r.json()["detail"]


def test_a_new_code_closes_the_previous_one(issuer):
    card = issuer.delivered_card()
    first, second = issuer.code(card), issuer.code(card)
    assert _post(issuer, card, first).status_code == 410
    assert _post(issuer, card, second).status_code == 201


def test_codes_are_kept_as_an_hmac_only(issuer):
    card = issuer.delivered_card()
    r = issuer.client.post(f"/api/cards/{card['id']}/ecard-code", headers={**issuer.staff["erin"],
                                                                          "Idempotency-Key": "code-1"})
    code = ok(r, 201)["code"]
    with issuer.rt.db.session() as s:
        stored = s.execute(select(EcardActivation.code_mac)).scalars().all()
        dump = "\n".join(str(row) for table in ("idempotency_keys", "audit_log", "ecard_activations")
                         for row in s.execute(text(f"SELECT * FROM {table}")))
    assert len(stored) == 1 and len(stored[0]) == 32
    assert code.replace("-", "").encode() not in stored[0] and code.encode() not in stored[0]
    assert code not in dump and code.replace("-", "") not in dump  # nowhere in clear, not even as a stored answer


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_throttling_per_holder(issuer):
    card = issuer.delivered_card()
    code = issuer.code(card)
    for _ in range(5):
        assert _post(issuer, card, "AAAA-BBBB-CCCC").status_code == 403
    r = _post(issuer, card, code)  # even the right code, while throttled
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    other = issuer.delivered_card()  # another holder is not affected
    assert _post(issuer, other, issuer.code(other)).status_code == 201


def test_proof_of_possession_and_bad_keys(issuer):
    card = issuer.delivered_card()
    code = issuer.code(card)
    someone_else = activation_request(new_device_key(), code)
    r = _post(issuer, card, code, proof=someone_else["proof"])  # a key the phone does not hold
    assert r.status_code == 422 and "proof" in r.json()["detail"]
    r = _post(issuer, card, code, device_key="AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")  # not on P-256
    assert r.status_code == 422
    r = issuer.client.post("/api/ecard/activate", json={"code": code, "device_key": "x", "proof": "y"})
    assert r.status_code == 422  # no identifier, not base64
    assert _post(issuer, card, code).status_code == 201  # the code was not used up by the refusals


def test_codes_need_an_enroller_and_a_delivered_card(issuer):
    card = issuer.delivered_card()
    assert issuer.client.post(f"/api/cards/{card['id']}/ecard-code").status_code == 401
    r = issuer.client.post(f"/api/cards/{card['id']}/ecard-code", headers=issuer.staff["alan"])
    assert r.status_code == 403 and "needs the role" in r.json()["detail"]
    assert issuer.client.post(f"/api/ecards/1/revoke", json={"reason": "x"},
                              headers=issuer.staff["audrey"]).status_code == 403
    from issuer_flow import issue_card

    fresh = issue_card(issuer.client, issuer.staff)  # issued, not yet personalised or delivered
    r = issuer.client.post(f"/api/cards/{fresh['id']}/ecard-code", headers=issuer.staff["erin"])
    assert r.status_code == 409 and "delivered" in r.json()["detail"]


def test_phone_lost_revokes_the_ecard_not_the_card(issuer, tmp_path):
    card = issuer.delivered_card()
    wallet = _activate(issuer, card, issuer.code(card), tmp_path)
    ecard = ok(issuer.client.get(f"/api/cards/{card['id']}/ecards", headers=issuer.staff["erin"]))[0]
    revoked = ok(issuer.client.post(f"/api/ecards/{ecard['id']}/revoke", json={"reason": "phone lost"},
                                    headers=issuer.staff["erin"]))
    assert revoked["status"] == "revoked"
    store = issuer.store()
    assert [r.value for r in verdict(issuer, wallet).reasons] == ["REVOKED"]
    from crypto import verify_credential

    assert verify_credential(card["qr_text"], store, now=CLOCK.now()).valid  # the card's own QR still works


def test_a_new_phone_revokes_the_old_ecard(issuer, tmp_path):
    card = issuer.delivered_card()
    old = _activate(issuer, card, issuer.code(card), tmp_path, "old")
    new = _activate(issuer, card, issuer.code(card), tmp_path, "new")
    assert [r.value for r in verdict(issuer, old).reasons] == ["REVOKED"]
    assert verdict(issuer, new).valid
    listed = ok(issuer.client.get(f"/api/cards/{card['id']}/ecards", headers=issuer.staff["erin"]))
    assert [e["status"] for e in listed] == ["revoked", "active"]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_card_replaced_or_cancelled_the_ecard_follows(issuer, tmp_path):
    replaced, cancelled = issuer.delivered_card(), issuer.delivered_card()
    w1 = _activate(issuer, replaced, issuer.code(replaced), tmp_path, "w1")
    w2 = _activate(issuer, cancelled, issuer.code(cancelled), tmp_path, "w2")
    assert verdict(issuer, w1).valid and verdict(issuer, w2).valid
    ok(issuer.client.post(f"/api/cards/{replaced['id']}/replace", json={"reason": "lost"},
                          headers=issuer.staff["erin"]), 201)
    ok(issuer.client.post(f"/api/cards/{cancelled['id']}/cancel", json={"reason": "permit cancelled"},
                          headers=issuer.staff["erin"]))
    assert [r.value for r in verdict(issuer, w1).reasons] == ["REVOKED"]
    assert [r.value for r in verdict(issuer, w2).reasons] == ["REVOKED"]
    listed = ok(issuer.client.get(f"/api/cards/{replaced['id']}/ecards", headers=issuer.staff["erin"]))
    assert listed[0]["status"] == "revoked with its card (revoked)"
    r = issuer.client.post(f"/api/cards/{replaced['id']}/ecard-code", headers=issuer.staff["erin"])
    assert r.status_code == 409  # no new e-card for a revoked card


def test_suspension_lists_the_ecard_until_resumed(issuer, tmp_path):
    card = issuer.delivered_card()
    wallet = _activate(issuer, card, issuer.code(card), tmp_path)
    ok(issuer.client.post(f"/api/cards/{card['id']}/suspend", json={"reason": "check"}, headers=issuer.staff["erin"]))
    assert [r.value for r in verdict(issuer, wallet).reasons] == ["REVOKED"]
    ok(issuer.client.post(f"/api/cards/{card['id']}/resume", headers=issuer.staff["erin"]))
    assert verdict(issuer, wallet).valid


def test_the_wallet_stores_nothing_when_refused(issuer, tmp_path):
    card = issuer.delivered_card()
    store = WalletStore(tmp_path / "w")
    try:
        activate(store, "http://testserver", new_device_key(), WALLET_PASSPHRASE.encode(), code="AAAA-BBBB-CCCC",
                 work_permit=issuer.person(card)["work_permit_number"], client=issuer.client)
    except ActivationFailed as exc:
        assert exc.status == 403
    else:
        raise AssertionError("a wrong code was accepted")
    assert not store.has_ecard() and not (tmp_path / "w").exists()


def test_ecard_credential_expiry_setting(issuer, tmp_path):
    issuer.rt.settings.ecard_validity_days = 30
    card = issuer.delivered_card()
    wallet = _activate(issuer, card, issuer.code(card), tmp_path)
    claims = decode_ecard(wallet.credential, "SH01")
    assert claims.exp - claims.iat == 30 * 86_400


def test_every_ecard_endpoint_but_activation_checks_a_role(issuer):
    from issuer.api.routers import ecard as routes

    def roles_of(dependant):
        found = set()
        for dep in dependant.dependencies:
            found |= set(getattr(dep.call, "roles", ())) | roles_of(dep)
        return found
    guarded = {(m, r.path): roles_of(r.dependant) for r in routes.router.routes for m in r.methods}
    assert {k for k, roles in guarded.items() if not roles} == {("POST", "/api/ecard/activate")}
    for (method, path), roles in guarded.items():
        if roles:
            url = path.replace("{card_id}", "1").replace("{ecard_id}", "1")
            assert issuer.client.request(method, url, json={"reason": "x"}).status_code == 401
