"""Offline verification of an e-card presentation (docs/spec.md §12.7).

The eight checks of a credential (spec §7) run on the e-card credential inside the
presentation, with the e-card profile as the only acceptable claim set; then

- ``device_auth``: the phone's signature verifies with the key the issuer bound into the
  credential, and the presentation was made for a purpose this verifier accepts;
- ``freshness``: either the presentation answers a challenge this verifier issued and has
  not seen answered (challenge mode, for a verifier whose clock cannot be trusted), or its
  time lies in the verifier's window (default: made at most 60 s ago, with 30 s of clock
  leeway either way) and it was not accepted here before (the replay guard).

The verifier keeps the state (seen presentations, open challenges); this module only asks
it through two small interfaces, so that it stays pure. A verifier that has a screenshot
scanned two minutes later says ``ECARD_STALE``; the right credential with another phone's
signature, ``ECARD_DEVICE_SIGNATURE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from crypto import cose
from crypto.claims import Profile, decode_claims
from crypto.ecard import Presentation, Purpose, challenge_code, decode_presentation
from crypto.errors import SscError
from crypto.reasons import Reason
from crypto.verdict import CREDENTIAL_CHECKS, NOT_CHECKED, PASSED, Check, CheckResult, Status, Verdict
from crypto.verify import DEFAULT_LEEWAY, TrustStore, _verify

DEFAULT_WINDOW = 60          # seconds a presentation stays acceptable after it was made
DEFAULT_DEVICE_LEEWAY = 30   # seconds of clock difference between phone and verifier, both ways
ECARD_CHECKS = (*CREDENTIAL_CHECKS, Check.DEVICE_AUTH, Check.FRESHNESS)
_ECARD_ONLY = frozenset({Profile.ECARD})


@dataclass(frozen=True)
class FreshnessRules:
    """A verifier's rules for e-card presentations (a site policy sets them)."""

    window: int = DEFAULT_WINDOW
    leeway: int = DEFAULT_DEVICE_LEEWAY
    purposes: frozenset[Purpose] = frozenset(Purpose)
    challenge_required: bool = False  # the verifier's clock is not trusted: challenge mode only


class ReplayGuard(Protocol):
    def first_use(self, key: bytes, until: int) -> bool:
        """Remember `key` until epoch `until`; False if it was remembered already."""
        ...


class ChallengeBook(Protocol):
    def redeem(self, challenge: bytes) -> Reason | None:
        """None if this verifier issued `challenge` and it is still open (it is closed now);
        otherwise ECARD_CHALLENGE_UNKNOWN (never issued here, or answered already) or
        ECARD_CHALLENGE_EXPIRED."""
        ...


class MemoryReplayGuard:
    """A replay guard in memory (tests, vectors, a verifier without storage): forgets on exit."""

    def __init__(self) -> None:
        self._seen: dict[bytes, int] = {}

    def first_use(self, key: bytes, until: int) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = until
        return True

    def prune(self, now: int) -> None:
        self._seen = {k: u for k, u in self._seen.items() if u >= now}


def _not_checked(done: list[CheckResult]) -> tuple[CheckResult, ...]:
    ran = {c.check for c in done}
    return tuple(done) + tuple(NOT_CHECKED[c] for c in ECARD_CHECKS if c not in ran)


def _stop(done: list[CheckResult], check: Check, reason: Reason, message: str, claims=None, signer=None) -> Verdict:
    done.append(CheckResult(check, Status.FAILED, reason, message))
    return Verdict.from_checks(_not_checked(done), claims, signer)


def verify_presentation(text: str, store: TrustStore, *, now: int, replay: ReplayGuard,
                        rules: FreshnessRules = FreshnessRules(), challenges: ChallengeBook | None = None,
                        leeway: int = DEFAULT_LEEWAY, revocation_max_age: int | None = None) -> Verdict:
    """Verify the QR text of an e-card presentation at time `now` (epoch seconds).

    `leeway` applies to the credential's validity (spec §7), `rules` to the presentation.
    A presentation that passes every check is recorded with `replay`; one that answers a
    challenge closes it in `challenges`. Never raises; never VALID unless every check passed.
    The verdict's `extra["presentation"]` describes the presentation (time, purpose, mode).
    """
    try:
        return _verify_presentation(text, store, now, replay, rules, challenges, leeway, revocation_max_age)
    except Exception as exc:  # fail closed: a bug is never a VALID
        return _stop([], Check.FORMAT, Reason.INTERNAL_ERROR, f"verification stopped: {type(exc).__name__}")


def _verify_presentation(text, store, now, replay, rules, challenges, leeway, max_age) -> Verdict:
    try:
        p = decode_presentation(text)
    except SscError as exc:
        return _stop([], Check.FORMAT, exc.reason, exc.message)
    verdict = _verify(p.credential, store, now, leeway, max_age,
                      lambda payload, issuer_code: decode_claims(payload, issuer_code=issuer_code,
                                                                 profiles=_ECARD_ONLY))
    done = list(verdict.checks)
    info = {"time": p.claims.time, "age": now - p.claims.time, "purpose": p.claims.purpose.name.lower(),
            "mode": "challenge" if p.claims.challenge is not None else "time"}
    if not verdict.valid:
        return _with_info(Verdict.from_checks(_not_checked(done), verdict.claims, verdict.signer), info)
    claims, signer = verdict.claims, verdict.signer

    if not cose.verify_signature(cose.Algorithm.ES256, claims.device_key, p.to_be_signed(), p.signature):
        return _with_info(_stop(done, Check.DEVICE_AUTH, Reason.ECARD_DEVICE_SIGNATURE,
                                "the presentation is not signed by the phone this e-card was issued to "
                                "(a copied credential, or another phone's signature)", claims, signer), info)
    if p.claims.purpose not in rules.purposes:
        accepted = ", ".join(sorted(x.name.lower() for x in rules.purposes))
        return _with_info(_stop(done, Check.DEVICE_AUTH, Reason.ECARD_PURPOSE,
                                f"the holder showed it for '{p.claims.purpose.name.lower()}'; this counter accepts "
                                f"{accepted}: show it again for this counter", claims, signer), info)
    done.append(PASSED[Check.DEVICE_AUTH])

    result = _freshness(p, now, replay, rules, challenges)
    if result.status is not Status.PASSED:
        return _with_info(_stop(done, Check.FRESHNESS, result.reason, result.message, claims, signer), info)
    done.append(result)
    return _with_info(Verdict.from_checks(tuple(done), claims, signer), info)


def _freshness(p: Presentation, now: int, replay: ReplayGuard, rules: FreshnessRules,
               challenges: ChallengeBook | None) -> CheckResult:
    c = p.claims
    skew = c.time - now
    if c.challenge is not None:
        code = challenge_code(c.challenge)
        problem = Reason.ECARD_CHALLENGE_UNKNOWN if challenges is None else challenges.redeem(c.challenge)
        if problem is Reason.ECARD_CHALLENGE_UNKNOWN:
            return _failed(problem, f"challenge {code} was not issued by this terminal, or was answered already")
        if problem is not None:
            return _failed(problem, f"challenge {code} has expired: show a new challenge")
        return CheckResult(Check.FRESHNESS, Status.PASSED, None,
                           f"answers challenge {code}; the phone's clock is {skew:+d} s from this terminal's")
    if rules.challenge_required:
        return _failed(Reason.ECARD_CHALLENGE_REQUIRED, "this terminal's clock is not trusted: show a challenge "
                                                        "(ssc-terminal challenge) and let the holder answer it")
    age = now - c.time
    if age > rules.window + rules.leeway:
        return _failed(Reason.ECARD_STALE, f"made {_duration(age)} ago; a presentation is good for {rules.window} s "
                                           f"(+{rules.leeway} s clock leeway): a screenshot, or the phone's clock is "
                                           "wrong — ask for the live code, or use a challenge")
    if -age > rules.leeway:
        return _failed(Reason.ECARD_FUTURE, f"made {_duration(-age)} in the future by this terminal's clock "
                                            f"(leeway {rules.leeway} s): check the phone's and this terminal's clocks")
    if not replay.first_use(p.replay_key(), c.time + rules.window + 2 * rules.leeway):
        return _failed(Reason.ECARD_REPLAYED, "this presentation was accepted here already: a copy. Ask the holder "
                                              "to show the live code again")
    return CheckResult(Check.FRESHNESS, Status.PASSED, None, f"made {age} s ago (window {rules.window} s "
                                                             f"+{rules.leeway} s leeway), first use here")


def _failed(reason: Reason, message: str) -> CheckResult:
    return CheckResult(Check.FRESHNESS, Status.FAILED, reason, message)


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _with_info(verdict: Verdict, info: dict) -> Verdict:
    verdict.extra["presentation"] = info
    return verdict
