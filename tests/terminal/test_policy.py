"""Site policies: loading, the requirements, and data minimisation (issue 6 item 3)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from crypto import verify_credential
from crypto.verdict import Check, Outcome, Status
from terminal.card_data import CardData
from terminal.policy import (CHINA_TZ, Field, PolicyError, SitePolicy, available_sites, check_policy, load_policy,
                             local_date, project)
from terminal.reasons import TerminalReason as R
from tests.terminal.support import record


def verified(pki, now, rec=None):
    store = pki_store(pki)
    verdict = verify_credential(pki.qr(rec, iat=now - 60), store, now=now)
    assert verdict.valid, verdict.to_dict()
    return verdict, CardData.from_claims(verdict.claims)


def pki_store(pki):
    from crypto import TrustStore

    store = TrustStore(pki.dev.root)
    store.update(pki.trust_list(1))
    return store


def policy_today(now: int, site: str) -> dt.date:
    """Today as the site's policy sees it at `now`: China's date, the clock leeway in the
    holder's favour (so within the leeway after midnight it is still yesterday)."""
    return local_date(now - load_policy(site).clock_leeway)


def months_ago(now: int, n: int) -> dt.date:
    day = policy_today(now, "pharmacy").replace(day=1)
    for _ in range(n):
        day = (day - dt.timedelta(days=1)).replace(day=1)
    return day


def test_built_in_sites_load():
    assert {"pharmacy", "hospital", "bureau"} <= set(available_sites())
    pharmacy, bureau = load_policy("pharmacy"), load_policy("bureau")
    assert pharmacy.shown_fields == (Field.NAME, Field.PHOTO, Field.MEDICAL_INSURANCE)
    assert Field.EMPLOYER not in pharmacy.shown_fields
    assert {Field.EMPLOYER, Field.POSITION, Field.WORK_LOCATION, Field.PERMIT_VALIDITY} <= set(bureau.shown_fields)
    assert Field.MEDICAL_INSURANCE not in bureau.shown_fields
    assert pharmacy.revocation_max_age == 72 * 3600 and pharmacy.clock_leeway == 300
    assert load_policy("hospital").requirements == pharmacy.requirements


def test_policy_file_from_a_path(tmp_path):
    data = json.loads((load_policy.__globals__["POLICY_DIR"] / "pharmacy.json").read_text())
    data["site"] = "clinic"
    path = tmp_path / "clinic.json"
    path.write_text(json.dumps(data))
    assert load_policy(str(path)).site == "clinic"


@pytest.mark.parametrize("change, message", [
    ({"shown_fields": ["name", "salary"]}, "unknown 'salary'"),
    ({"requirements": ["be_nice"]}, "unknown 'be_nice'"),
    ({"logged_fields": ["photo"], "shown_fields": ["photo"]}, "photo is never logged"),
    ({"logged_fields": ["employer"]}, "subset of shown_fields"),
    ({"revocation_max_age_hours": 0}, "revocation_max_age_hours"),
    ({"clock_leeway_seconds": "300"}, "clock_leeway_seconds"),
    ({"accepted_sources": ["fax"]}, "accepted_sources"),
    ({"extra": 1}, "unknown key"),
])
def test_bad_policies_are_refused_with_a_message(change, message):
    data = {"site": "x", "requirements": [], "shown_fields": ["name"], "revocation_max_age_hours": 24} | change
    with pytest.raises(PolicyError, match=message):
        SitePolicy.from_dict(data)


def test_unknown_site_names_the_built_in_ones():
    with pytest.raises(PolicyError, match="pharmacy"):
        load_policy("casino")


@pytest.mark.parametrize("months, passes", [(0, True), (1, True), (2, False), (12, False)])
def test_insurance_in_force_rule(pki, months, passes, now):
    """Paid through the current month or the one before (grace 1): in force."""
    verdict, data = verified(pki, now, record(paid_through=months_ago(now, months)))
    result = check_policy(load_policy("pharmacy"), verdict, data, now)
    assert (result.status is Status.PASSED) == passes
    if not passes:
        assert result.reason is R.POLICY_INSURANCE_UNPAID


@pytest.mark.parametrize("status, reason", [(0, R.POLICY_INSURANCE_NOT_ENROLLED), (2, R.POLICY_INSURANCE_STATUS),
                                            (3, R.POLICY_INSURANCE_STATUS)])
def test_insurance_not_normal_fails_at_the_pharmacy(pki, status, reason, now):
    verdict, data = verified(pki, now, record(medical_status=status))
    result = check_policy(load_policy("pharmacy"), verdict, data, now)
    assert result.status is Status.FAILED and result.reason is reason
    assert verdict.with_checks(result).outcome is Outcome.INVALID
    # the bureau does not look at insurance at all
    assert check_policy(load_policy("bureau"), verdict, data, now).status is Status.PASSED


def test_work_permit_status_and_window_at_the_bureau(pki, now):
    bureau = load_policy("bureau")
    verdict, data = verified(pki, now, record(permit_status=2))
    assert check_policy(bureau, verdict, data, now).reason is R.POLICY_PERMIT_STATUS
    assert check_policy(load_policy("pharmacy"), verdict, data, now).status is Status.PASSED
    verdict, data = verified(pki, now, record(valid_until=policy_today(now, "bureau") - dt.timedelta(days=1)))
    assert check_policy(bureau, verdict, data, now).reason is R.POLICY_PERMIT_EXPIRED
    verdict, data = verified(pki, now)
    assert check_policy(bureau, verdict, data, now).status is Status.PASSED
    # the window's start: two years back it was not yet valid
    assert check_policy(bureau, verdict, data, now - 2 * 366 * 86400).reason is R.POLICY_PERMIT_NOT_YET_VALID


def test_card_expiry_rule(pki, now):
    verdict, data = verified(pki, now)
    # two days after the expiry date, at midnight China time (card dates are China dates)
    after_expiry = int(dt.datetime.combine(data.card["expiry_date"] + dt.timedelta(days=2), dt.time(),
                                           CHINA_TZ).timestamp())
    assert check_policy(load_policy("pharmacy"), verdict, data, after_expiry).reason is R.POLICY_CARD_EXPIRED


def test_policy_not_checked_when_crypto_failed(pki, now):
    store = pki_store(pki)
    text = pki.qr()
    tampered = text[:-3] + ("AAA" if not text.endswith("AAA") else "BBB")
    verdict = verify_credential(tampered, store, now=now)
    assert verdict.outcome is Outcome.INVALID
    result = check_policy(load_policy("pharmacy"), verdict, None, now)
    assert result.check is Check.SITE_POLICY and result.status is Status.NOT_CHECKED


def test_source_not_accepted(pki, now):
    verdict, data = verified(pki, now)
    chip_only = SitePolicy.from_dict({"site": "x", "requirements": [], "shown_fields": ["name"],
                                      "revocation_max_age_hours": 24, "accepted_sources": ["chip"]})
    assert check_policy(chip_only, verdict, data, now).reason is R.POLICY_SOURCE_NOT_ACCEPTED


def test_projection_shows_and_logs_only_what_the_site_allows(pki, now):
    verdict, data = verified(pki, now)
    pharmacy = project(load_policy("pharmacy"), data, now)
    assert set(pharmacy) == {"name", "photo", "medical_insurance"}
    assert pharmacy["name"]["family_name"] == "MUELLER"
    assert pharmacy["photo"]["available"] is False and "no photo" in pharmacy["photo"]["note"]
    assert pharmacy["medical_insurance"]["in_force"] is True
    assert project(load_policy("pharmacy"), data, now, for_log=True) == {"medical_insurance":
                                                                          pharmacy["medical_insurance"]}
    bureau = project(load_policy("bureau"), data, now)
    assert {"employer", "position", "work_location", "permit_validity"} <= set(bureau)
    assert "medical_insurance" not in bureau and "card_number" not in bureau
    assert bureau["employer"]["name"] == "Shanghai Example Tech Co., Ltd."
    text = json.dumps(pharmacy)
    for secret in ("Shanghai Example", "Software Engineer", "F310000DEU880314", "156000019880314021"):
        assert secret not in text
