"""Verifying e-card presentations at a terminal (docs/spec.md §12.7): valid, replayed (also
after a restart), a screenshot two minutes later, from the future, another phone's
signature, the wrong purpose, challenge mode, revocation, and the site policy on top."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import Check, Reason, TrustStore, build_trust_list, parse_credential, samples
from crypto.ecard import Purpose, challenge_text, compress_device_key, parse_challenge, present, sign_ecard_credential
from crypto.ecard_verify import FreshnessRules, MemoryReplayGuard, verify_presentation
from crypto.pki import DevelopmentPki
from terminal.ecard import PresentationStore
from terminal.policy import load_policy
from terminal.verifier import Verifier
from clock_support import CLOCK

CHINA = dt.timezone(dt.timedelta(hours=8))
SERIAL = 7001


def today() -> dt.date:
    return CLOCK.china_today()


def record(serial: int = SERIAL) -> dict:
    """A typical record as an e-card, dated around today (the site policies pass)."""
    t = today()
    rec = samples.typical_record()
    for entry in rec["insurance"]:
        entry.update(since=f"{t.year - 1}-01-01", paid_through=t.replace(day=1).isoformat())
    rec["permit"].update(valid_from=f"{t.year - 1}-01-01", valid_until=f"{t.year + 2}-12-31")
    rec["card"].update(kind=2, serial=serial, card_number="SH01P0000000042X", issue_date=f"{t.year - 1}-01-05",
                       expiry_date=f"{t.year + 4}-01-04")
    return rec


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    made = CLOCK.utc() - dt.timedelta(days=1)
    return DevelopmentPki.create(tmp_path_factory.mktemp("ecard-verify-pki"), b"ecard-verify", now=made)


def trust_store(pki, revoked=()) -> TrustStore:
    now = CLOCK.now()
    store = TrustStore(pki.root)
    store.update(build_trust_list(version=1, issued_at=now - 60, next_update=now + 86_400,
                                  issuer_certificates=[pki.issuer.certificate],
                                  revoked={"SH01": list(revoked)} if revoked else {}, signer=pki.trust_list_signer))
    return store


@pytest.fixture(scope="module")
def phone(pki):
    key = ec.generate_private_key(ec.SECP256R1())
    cred = sign_ecard_credential(parse_credential(record()), pki.issuer,
                                 device_key=compress_device_key(key.public_key()), iat=CLOCK.now() - 3600)
    return cred, key


@pytest.fixture
def terminal(pki, tmp_path):
    """A bureau terminal with its SQLite replay cache and challenge book."""
    store = trust_store(pki)
    seen = PresentationStore(tmp_path / "events.sqlite")
    yield Verifier(load_policy("bureau"), lambda: store, presentations=seen)
    seen.close()


def reasons(result) -> list[str]:
    return result.reason_codes


def test_a_live_presentation_is_valid_and_shows_the_bureau_its_fields(terminal, phone):
    cred, key = phone
    result = terminal.verify_qr_text(present(cred, key, now=CLOCK.seconds()), "camera")
    assert result.outcome == "VALID", result.to_public()
    assert result.kind == "ecard" and "e-card (made 0 s ago, purpose any)" in result.source
    checks = [c.check.value for c in result.verdict.checks]
    assert checks[-3:] == ["device_auth", "freshness", "site_policy"]
    assert result.shown["employer"] == {"name": "Shanghai Example Tech Co., Ltd.", "uscc": None}
    assert result.shown["photo"]["available"] is False and "e-card" in result.shown["photo"]["note"]


def test_the_same_presentation_twice_is_refused_also_after_a_restart(pki, phone, tmp_path):
    cred, key = phone
    text = present(cred, key, now=CLOCK.seconds())
    store = trust_store(pki)
    with PresentationStore(tmp_path / "events.sqlite") as seen:
        verifier = Verifier(load_policy("bureau"), lambda: store, presentations=seen)
        assert verifier.verify_qr_text(text, "scan").outcome == "VALID"
        again = verifier.verify_qr_text(text, "scan")
        assert again.outcome == "INVALID" and reasons(again) == ["ECARD_REPLAYED"]
    with PresentationStore(tmp_path / "events.sqlite") as seen:  # the terminal restarted
        verifier = Verifier(load_policy("bureau"), lambda: store, presentations=seen)
        assert reasons(verifier.verify_qr_text(text, "scan")) == ["ECARD_REPLAYED"]
        fresh = present(cred, key, now=CLOCK.seconds())  # the live code again: a new presentation
        assert verifier.verify_qr_text(fresh, "scan").outcome == "VALID"


def test_a_screenshot_scanned_two_minutes_later_is_stale(terminal, phone):
    cred, key = phone
    screenshot = present(cred, key, now=CLOCK.seconds() - 120)
    result = terminal.verify_qr_text(screenshot, "camera")
    assert result.outcome == "INVALID" and reasons(result) == ["ECARD_STALE"]
    freshness = result.verdict.result(Check.FRESHNESS)
    assert freshness.message.startswith(("made 2 min 0 s ago", "made 2 min 1 s ago"))


def test_window_and_leeway_bounds(pki, phone):
    cred, key = phone
    store, now = trust_store(pki), CLOCK.now()
    rules = FreshnessRules(window=60, leeway=30)

    def at(made: int, verified: int) -> list:
        text = present(cred, key, now=now + made)
        return verify_presentation(text, store, now=now + verified, replay=MemoryReplayGuard(), rules=rules).reasons
    assert at(0, 90) == [] and at(0, 91) == [Reason.ECARD_STALE]  # window 60 + leeway 30
    assert at(30, 0) == [] and at(31, 0) == [Reason.ECARD_FUTURE]  # the phone's clock ahead by more than 30 s


def test_another_phones_signature_is_refused(terminal, phone):
    cred, _ = phone
    thief = ec.generate_private_key(ec.SECP256R1())
    result = terminal.verify_qr_text(present(cred, thief, now=CLOCK.seconds()), "camera")
    assert result.outcome == "INVALID" and reasons(result) == ["ECARD_DEVICE_SIGNATURE"]
    assert result.shown  # issuer-signed data may be shown for reference (the page mutes it)


def test_the_wrong_purpose_is_refused_the_right_one_accepted(pki, phone, tmp_path):
    cred, key = phone
    store = trust_store(pki)
    pharmacy = Verifier(load_policy("pharmacy"), lambda: store, presentations=MemoryReplayGuard())
    assert reasons(pharmacy.verify_qr_text(present(cred, key, now=CLOCK.seconds(), purpose=Purpose.PERMIT), "s")) \
        == ["ECARD_PURPOSE"]
    assert pharmacy.verify_qr_text(present(cred, key, now=CLOCK.seconds(), purpose=Purpose.MEDICAL), "s").outcome \
        == "VALID"


def test_a_revoked_ecard_is_refused(pki, phone):
    cred, key = phone
    store = trust_store(pki, revoked=[SERIAL])
    verifier = Verifier(load_policy("bureau"), lambda: store)
    result = verifier.verify_qr_text(present(cred, key, now=CLOCK.seconds()), "s")
    assert result.outcome == "INVALID" and reasons(result) == ["REVOKED"]


def test_challenge_mode(pki, phone, tmp_path):
    """A terminal whose clock cannot be trusted: the phone's time is not compared (it may be
    an hour off either way); the challenge is this terminal's, answered once, in time."""
    cred, key = phone
    store = trust_store(pki)
    clock = [CLOCK.seconds()]
    policy = load_policy("bureau")
    policy = type(policy).from_dict(policy.to_dict() | {"ecard_challenge_required": True}, "test")
    with PresentationStore(tmp_path / "events.sqlite", clock=lambda: clock[0]) as seen:
        verifier = Verifier(policy, lambda: store, presentations=seen, clock=lambda: clock[0])
        # without a challenge: refused at this terminal
        assert reasons(verifier.verify_qr_text(present(cred, key, now=CLOCK.seconds()), "s")) \
            == ["ECARD_CHALLENGE_REQUIRED"]
        challenge = seen.issue_challenge(policy.ecard_challenge_seconds)
        shown = challenge_text(challenge)  # what the terminal's QR holds; the phone reads it
        answer = present(cred, key, now=CLOCK.seconds() - 3600, challenge=parse_challenge(shown))
        result = verifier.verify_qr_text(answer, "s")
        assert result.outcome == "VALID" and "answering this terminal's challenge" in result.source
        assert reasons(verifier.verify_qr_text(answer, "s")) == ["ECARD_CHALLENGE_UNKNOWN"]  # answered already
        other = present(cred, key, now=CLOCK.seconds(), challenge=b"\x00" * 5)  # another terminal's challenge
        assert reasons(verifier.verify_qr_text(other, "s")) == ["ECARD_CHALLENGE_UNKNOWN"]
        late = seen.issue_challenge(policy.ecard_challenge_seconds)
        clock[0] += policy.ecard_challenge_seconds + 1
        assert reasons(verifier.verify_qr_text(present(cred, key, now=CLOCK.seconds(), challenge=late), "s")) \
            == ["ECARD_CHALLENGE_EXPIRED"]


def test_a_challenge_answer_at_a_verifier_without_challenges(pki, phone):
    cred, key = phone
    verdict = verify_presentation(present(cred, key, now=CLOCK.seconds(), challenge=b"\x01" * 5), trust_store(pki),
                                  now=CLOCK.now(), replay=MemoryReplayGuard())
    assert verdict.reasons == [Reason.ECARD_CHALLENGE_UNKNOWN]


def test_without_a_trust_list_it_is_indeterminate(pki, phone):
    cred, key = phone
    verdict = verify_presentation(present(cred, key, now=CLOCK.seconds()), TrustStore(pki.root), now=CLOCK.now(),
                                  replay=MemoryReplayGuard())
    assert verdict.outcome.value == "INDETERMINATE" and verdict.reasons == [Reason.REVOCATION_MISSING]
    assert [c.status.value for c in verdict.checks[-2:]] == ["not_checked", "not_checked"]


def test_garbage_is_invalid_never_an_exception(terminal):
    for text in ("SSC1E:", "SSC1E:%%%", "ssc1e:abc", "SSC1E:" + "0" * 3000, "SSC1E:ABC"):
        result = terminal.verify_qr_text(text, "s")
        assert result.outcome == "INVALID" and result.reason_codes


def test_the_counter_page_gets_ecard_results(terminal, phone):
    """The agent publishes every result to the page as JSON (terminal.web.ResultHub)."""
    from terminal.web import ResultHub

    cred, key = phone
    hub = ResultHub()
    terminal.subscribe(lambda result: hub.publish(result.to_public()))
    terminal.verify_qr_text(present(cred, key, now=CLOCK.seconds()), "keyboard-wedge scanner")
    latest = hub.latest()
    assert latest["kind"] == "ecard" and latest["outcome"] == "VALID" and latest["outcome_zh"] == "有效"
    assert latest["fields"]["name"]["family_name"] == "MUELLER"
    terminal.verify_qr_text(present(cred, key, now=CLOCK.seconds() - 300), "keyboard-wedge scanner")
    reason = hub.latest()["reasons"][0]
    assert reason["code"] == "ECARD_STALE" and "截图" in reason["zh"] and reason["check"] == "freshness"
