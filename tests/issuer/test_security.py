"""Authentication, roles on every endpoint, four eyes, login throttling, tokens, API keys."""

from __future__ import annotations

import jwt
import pytest

from issuer.api.routers import admin, applications, auth, cards, ecard, public, registry, station, terminal_events
from issuer_flow import ALL_DOCUMENTS, PASSWORD, ROLES, TOKEN_SECRET, enrol, ok, permit_body, person_body

PUBLIC = {("POST", "/api/auth/token"), ("GET", "/trust-list"), ("GET", "/trust-list/{version}"),
          ("GET", "/trust-list/deltas"), ("GET", "/trust-list/delta/{base_version}"),
          ("GET", "/root-ca.pem"), ("GET", "/health")}
AUTHENTICATED_ANY_ROLE = {("GET", "/api/auth/me")}
# the holder's wallet: the one-time activation code is the credential (throttled; tests/ecard)
ACTIVATION_CODE = {("POST", "/api/ecard/activate")}


def _roles_of(dependant) -> set | None:
    found = None
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "roles", None)
        if roles is not None:
            found = (found or set()) | set(roles)
        inner = _roles_of(dep)
        if inner is not None:
            found = (found or set()) | inner
    return found


def endpoints() -> list[tuple[str, str, set | None]]:
    out = []
    for module in (auth, registry, applications, cards, admin, public, station, ecard, terminal_events):
        for route in module.router.routes:
            for method in route.methods - {"HEAD"}:
                out.append((method, route.path, _roles_of(route.dependant)))
    return out


def _url(path: str) -> str:
    return (path.replace("{person_id}", "999999").replace("{application_id}", "999999")
            .replace("{card_id}", "999999").replace("{document}", "passport").replace("{username}", "nobody")
            .replace("{version}", "1").replace("{job_id}", "999999").replace("{ecard_id}", "999999"))


def test_every_endpoint_but_the_public_ones_checks_a_role():
    unguarded = {(m, p) for m, p, roles in endpoints() if not roles}
    assert unguarded == PUBLIC | AUTHENTICATED_ANY_ROLE | ACTIVATION_CODE
    assert len(endpoints()) >= 35


@pytest.mark.parametrize("method,path,roles", [e for e in endpoints() if (e[0], e[1]) not in PUBLIC | ACTIVATION_CODE],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_401_without_credentials_and_403_for_other_roles(sqlite_client, sqlite_staff, method, path, roles):
    url = _url(path)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"X-API-Key": "ssk_0_bad"}):
        r = sqlite_client.request(method, url, headers=headers, json={})
        assert r.status_code == 401, (method, path, headers, r.text)
        assert r.headers.get("www-authenticate") == "Bearer"
    if not roles:
        return
    members = dict(ROLES, station="station")
    for name, held in members.items():
        r = sqlite_client.request(method, url, headers=sqlite_staff[name], json={})
        allowed = bool({role.value for role in roles} & set(held.split()))
        if allowed:
            assert r.status_code not in (401, 403, 500), (name, method, path, r.text)
        else:
            assert r.status_code == 403, (name, method, path, r.status_code, r.text)
            assert "needs the role" in r.json()["detail"]


def test_four_eyes(client, staff):
    _, app_id = enrol(client, staff)
    assert client.post(f"/api/applications/{app_id}/approve", headers=staff["erin"]).status_code == 403  # no role
    # abby holds both roles: she may enter, and approve others' entries, but never her own
    person = ok(client.post("/api/persons", json=person_body(), headers=staff["abby"]), 201)
    from issuer_flow import photo

    ok(client.put(f"/api/persons/{person['id']}/photo", files={"photo": ("p.jpg", photo(), "image/jpeg")},
                  headers=staff["abby"]))
    own = ok(client.post("/api/applications", headers=staff["abby"],
                         json={"person_id": person["id"], "permit": permit_body(), "documents": ALL_DOCUMENTS}), 201)
    for action in ("approve", "reject"):
        r = client.post(f"/api/applications/{own['id']}/{action}", headers=staff["abby"])
        assert r.status_code == 403 and "four eyes" in r.json()["detail"]
    assert ok(client.post(f"/api/applications/{app_id}/approve", headers=staff["abby"]))["decided_by"] == "user:abby"
    assert ok(client.post(f"/api/applications/{own['id']}/approve", headers=staff["alan"]))["status"] == "approved"


def login(client, username, password, ip_headers=None):
    return client.post("/api/auth/token", data={"username": username, "password": password})


def test_login_issues_a_short_lived_token(sqlite_client, sqlite_staff):
    body = ok(login(sqlite_client, "erin", PASSWORD))
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    me = ok(sqlite_client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}))
    assert me == {"kind": "user", "name": "erin", "roles": ["enroller"]}
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900 and "roles" not in claims and "password" not in str(claims)


def test_login_throttling(sqlite_client, sqlite_staff):
    for _ in range(5):
        r = login(sqlite_client, "alan", "wrong password!")
        assert r.status_code == 401
    r = login(sqlite_client, "alan", PASSWORD)  # even the right password, while throttled
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert ok(login(sqlite_client, "erin", PASSWORD))  # another account is not affected
    assert login(sqlite_client, "nobody", "whatever pass").status_code == 401


def test_throttle_window_passes(sqlite_runtime, sqlite_staff):
    """Once the failures are older than the window, logins are let through again. The window
    is long enough for five argon2 checks on any machine; the failures are then aged in the
    database past it (instead of sleeping through it), so the test does not race the clock."""
    import datetime as dt

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from issuer.api import create_app
    from issuer.db.models import LoginAttempt

    window = sqlite_runtime.settings.login_window_seconds = 120
    with TestClient(create_app(sqlite_runtime)) as c:
        for _ in range(5):
            assert login(c, "alan", "wrong password!").status_code == 401
        assert login(c, "alan", PASSWORD).status_code == 429
        with sqlite_runtime.db.session() as session:
            for attempt in session.scalars(select(LoginAttempt).where(LoginAttempt.username == "alan")):
                attempt.at -= dt.timedelta(seconds=window + 1)
            session.commit()
        assert login(c, "alan", PASSWORD).status_code == 200


def _token(now: int, **claims) -> str:
    base = {"sub": "1", "aud": "sscard-issuer", "iat": now, "exp": now + 60, "jti": "x"}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, TOKEN_SECRET, algorithm="HS256")


def _foreign(now: int, key: str | None, algorithm: str) -> str:
    return jwt.encode({"sub": "1", "aud": "sscard-issuer", "exp": now + 60, "iat": 0}, key, algorithm=algorithm)


# Each token is made when its test runs, from the test's clock (not at collection).
@pytest.mark.parametrize("make_token", [
    lambda now: _token(now, exp=now - 10),                                 # expired
    lambda now: _token(now, aud="someone-else"),                           # wrong audience
    lambda now: _token(now, exp=None),                                     # no expiry
    lambda now: _foreign(now, "another-key-0123456789abcdef0123456789", "HS256"),
    lambda now: _foreign(now, None, "none"),
    lambda now: _token(now, sub="not-a-number"),
    lambda now: _token(now, sub="424242"),                                 # no such user
], ids=["expired", "audience", "no-exp", "wrong-key", "alg-none", "bad-sub", "unknown-user"])
def test_bad_tokens_are_401(sqlite_client, sqlite_staff, make_token, now):
    token = make_token(now)
    r = sqlite_client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_disabled_officer_is_locked_out_at_once(sqlite_client, sqlite_staff):
    assert sqlite_client.get("/api/auth/me", headers=sqlite_staff["erin"]).status_code == 200
    ok(sqlite_client.post("/api/users/erin/disable", headers=sqlite_staff["ada"]))
    assert sqlite_client.get("/api/auth/me", headers=sqlite_staff["erin"]).status_code == 401
    assert login(sqlite_client, "erin", PASSWORD).status_code == 401


def test_station_api_key_and_admin_creates_officers(sqlite_client, sqlite_staff):
    me = ok(sqlite_client.get("/api/auth/me", headers=sqlite_staff["station"]))
    assert me["kind"] == "station" and me["roles"] == ["station"]
    created = ok(sqlite_client.post("/api/stations", json={"name": "station-2"}, headers=sqlite_staff["ada"]), 201)
    assert created["api_key"].startswith("ssk_")
    assert ok(sqlite_client.get("/api/auth/me", headers={"X-API-Key": created["api_key"]}))["name"] == "station-2"
    tampered = created["api_key"][:-2] + ("AA" if not created["api_key"].endswith("AA") else "BB")
    assert sqlite_client.get("/api/auth/me", headers={"X-API-Key": tampered}).status_code == 401
    user = ok(sqlite_client.post("/api/users", json={"username": "fred", "password": "long enough password",
                                                      "roles": ["approver"]}, headers=sqlite_staff["ada"]), 201)
    assert user["roles"] == ["approver"] and "password" not in str(user)
    assert ok(login(sqlite_client, "fred", "long enough password"))
    listed = ok(sqlite_client.get("/api/users", headers=sqlite_staff["ada"]))
    assert all("hash" not in str(u) for u in listed)


def test_no_key_material_in_api_answers(sqlite_client, sqlite_staff):
    keys = ok(sqlite_client.get("/api/keys", headers=sqlite_staff["ada"]))
    assert len(keys) == 1 and keys[0]["current"] and set(keys[0]) == {
        "kid", "issuer_code", "algorithm", "current", "signs_from", "signs_until", "valid_until"}
    assert "PRIVATE" not in sqlite_client.get("/root-ca.pem").text
