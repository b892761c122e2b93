"""The terminal's verification pipeline: input -> crypto verdict -> site policy -> what
the counter is shown -> event log -> listeners (the counter page).

Every input ends in a :class:`TerminalResult`, whatever went wrong on the way: an image
without a QR code, a barcode of another kind, a cut scanner frame or a card pulled out
are INVALID (or "insert again") results with a reason, never an exception and never VALID.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from crypto import verify_credential
from crypto.ecard import is_presentation
from crypto.ecard_verify import MemoryReplayGuard, verify_presentation
from crypto.reasons import Reason
from crypto.verdict import CREDENTIAL_CHECKS, NOT_CHECKED, Check, CheckResult, Status, Verdict
from terminal.card_data import CardData
from terminal.eventlog import EventLog
from terminal.policy import SitePolicy, check_policy, project
from terminal.reasons import TerminalReason
from terminal.places import place
from terminal.translations import OUTCOME_TEXT, china_time, reason_text

log = logging.getLogger(__name__)
NO_VERDICT = "NO_VERDICT"  # nothing was judged: insert the card again, enter the PIN


@dataclass(frozen=True)
class TerminalResult:
    """One presentation at the counter. `verdict` is None when there is no verdict to give
    (a card pulled out mid-read, a PIN needed): then `notice` says what to do."""

    verdict: Verdict | None
    site: str
    kind: str                    # "qr", "chip" or "ecard"
    source: str                  # how it was read, e.g. "serial scanner", "image, decoded by zxing-cpp"
    shown: dict                  # policy-allowed fields for the counter
    logged: dict                 # policy-allowed fields for the event log
    at: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    action: str | None = None    # e.g. "insert the card again": no verdict on partial data
    timings: dict = field(default_factory=dict)
    notice: TerminalReason | None = None

    @property
    def outcome(self) -> str:
        return self.verdict.outcome.value if self.verdict is not None else NO_VERDICT

    @property
    def reason_codes(self) -> list[str]:
        if self.verdict is None:
            return [self.notice.value] if self.notice else []
        return [r.value for r in self.verdict.reasons]

    def reasons(self) -> list[dict]:
        if self.verdict is None:
            en, zh = reason_text(self.notice) if self.notice else ("", "")
            return [{"code": self.notice.value, "check": "read", "status": "no_verdict", "en": en, "zh": zh,
                     "detail": self.action or ""}] if self.notice else []
        out = []
        for check in self.verdict.checks:
            if check.reason is None:
                continue
            code = check.reason.value
            en, zh = reason_text(code)
            out.append({"code": code, "check": check.check.value, "status": check.status.value,
                        "en": en, "zh": zh, "detail": check.message})
        return out

    def to_public(self) -> dict:
        """What the counter page and `--json` show: no more than the policy allows."""
        en, zh = OUTCOME_TEXT[self.outcome]
        return {"id": self.id, "at": self.at, "site": self.site, "kind": self.kind, "source": self.source,
                "outcome": self.outcome, "outcome_en": en, "outcome_zh": zh, "action": self.action,
                "reasons": self.reasons(),
                "checks": [c.to_dict() for c in self.verdict.checks] if self.verdict is not None else [],
                "fields": self.shown, "at_china": china_time(self.at), "places": self.places()}

    def places(self) -> dict:
        """The shown division codes as place names (GB/T 2260, terminal/places.py)."""
        found = place(self.shown.get("work_location"))
        return {"work_location": found.to_dict()} if found else {}


def input_failure_verdict(reason: TerminalReason, message: str,
                          extra_checks: tuple[Check, ...] = (Check.SITE_POLICY,)) -> Verdict:
    """INVALID: the input never reached the verifier (nothing else was checked)."""
    checks = (CheckResult(Check.FORMAT, Status.FAILED, reason, message),
              *(NOT_CHECKED[c] for c in CREDENTIAL_CHECKS[1:]), *(NOT_CHECKED[c] for c in extra_checks))
    return Verdict.from_checks(checks)


def no_trust_verdict(exc: Exception) -> Verdict:
    """INDETERMINATE: the terminal cannot load its root or trust list (spec §7.2 treats a
    verifier without a trust list this way: it knows no issuer, the card is not called bad)."""
    message = getattr(exc, "message", None) or str(exc)
    checks = (NOT_CHECKED[Check.FORMAT], NOT_CHECKED[Check.ALGORITHM],
              CheckResult(Check.SIGNER_KNOWN, Status.INDETERMINATE, Reason.REVOCATION_MISSING,
                          f"this terminal holds no usable trust list: {message}"),
              *(NOT_CHECKED[c] for c in CREDENTIAL_CHECKS[3:]))
    return Verdict.from_checks(checks)


class Verifier:
    """Verifies QR texts and chip reads for one site; logs and announces every result.

    `store` is a callable returning the current TrustStore (the agent's TrustCache picks
    up a list `ssc-terminal sync` swapped in), `clock` gives epoch seconds.
    `presentations` remembers accepted e-card presentations and open challenges
    (terminal.ecard.PresentationStore); without it, a replay guard in memory is used
    and no challenge is known.
    """

    def __init__(self, policy: SitePolicy, store: Callable, *, events: EventLog | None = None,
                 clock: Callable[[], float] = time.time, presentations=None) -> None:
        self.policy = policy
        self._store = store
        self.events = events
        self.clock = clock
        self.presentations = presentations
        self._listeners: list[Callable[[TerminalResult], None]] = []

    def store(self):
        """The current TrustStore."""
        return self._store()

    def subscribe(self, listener: Callable[[TerminalResult], None]) -> None:
        self._listeners.append(listener)

    # -- inputs -------------------------------------------------------------------------

    def verify_qr_text(self, text: str, source: str) -> TerminalResult:
        if is_presentation(text):
            return self.verify_ecard(text, source)
        now = int(self.clock())
        started = time.perf_counter()
        try:
            store = self._store()
        except Exception as exc:  # no root / unreadable trust list: as spec §7.2 without a list
            return self.finish(no_trust_verdict(exc), None, "qr", source, now)
        verdict = verify_credential(text, store, now=now, leeway=self.policy.clock_leeway,
                                    revocation_max_age=self.policy.revocation_max_age)
        data = None
        if verdict.claims is not None and _passed(verdict, Check.SIGNATURE):
            data = CardData.from_claims(verdict.claims, "qr")
        return self.finish(verdict, data, "qr", source, now,
                           timings={"verify_ms": round((time.perf_counter() - started) * 1000, 3)})

    def verify_ecard(self, text: str, source: str) -> TerminalResult:
        """An e-card presentation (spec §12): the credential's checks, the phone's signature,
        freshness (time window or this terminal's challenge) and replay, then the site policy."""
        now = int(self.clock())
        started = time.perf_counter()
        try:
            store = self._store()
        except Exception as exc:
            verdict = no_trust_verdict(exc)
            return self.finish(verdict.with_checks(NOT_CHECKED[Check.DEVICE_AUTH], NOT_CHECKED[Check.FRESHNESS]),
                               None, "ecard", source, now)
        if self.presentations is None:
            self.presentations = MemoryReplayGuard()
        book = self.presentations if hasattr(self.presentations, "redeem") else None
        verdict = verify_presentation(text, store, now=now, replay=self.presentations,
                                      rules=self.policy.freshness_rules(), challenges=book,
                                      leeway=self.policy.clock_leeway,
                                      revocation_max_age=self.policy.revocation_max_age)
        data = None
        if verdict.claims is not None and _passed(verdict, Check.SIGNATURE):
            data = CardData.from_claims(verdict.claims, "ecard")
        info = verdict.extra.get("presentation")
        if info is not None:
            mode = "answering this terminal's challenge" if info["mode"] == "challenge" else f"made {info['age']} s ago"
            source = f"{source}, e-card ({mode}, purpose {info['purpose']})"
        return self.finish(verdict, data, "ecard", source, now,
                           timings={"verify_ms": round((time.perf_counter() - started) * 1000, 3)})

    def input_failure(self, reason: TerminalReason, message: str, source: str, kind: str = "qr",
                      action: str | None = None) -> TerminalResult:
        verdict = input_failure_verdict(reason, message)
        return self.finish(verdict, None, kind, source, int(self.clock()), action=action, policy_done=True)

    def notice(self, reason: TerminalReason, action: str, source: str, kind: str = "chip") -> TerminalResult:
        """No verdict (the read did not finish): tell the counter what to do; logged too."""
        return self._publish(TerminalResult(None, self.policy.site, kind, source, {}, {}, int(self.clock()),
                                            action=action, notice=reason))

    # -- the common end -----------------------------------------------------------------

    def finish(self, verdict: Verdict, data: CardData | None, kind: str, source: str, now: int, *,
               action: str | None = None, policy_done: bool = False, timings: dict | None = None) -> TerminalResult:
        """Apply the site policy, project the fields, log, announce."""
        if not policy_done:
            verdict = verdict.with_checks(check_policy(self.policy, verdict, data, now))
        try:
            shown = project(self.policy, data, now)
            logged = {f.value: shown[f.value] for f in self.policy.logged_fields if f.value in shown}
        except Exception:  # a bug here must not hide the verdict; nothing is shown or logged
            log.exception("projection failed")
            shown, logged = {}, {}
        return self._publish(TerminalResult(verdict, self.policy.site, kind, source, shown, logged, now,
                                            action=action, timings=timings or {}))

    def _publish(self, result: TerminalResult) -> TerminalResult:
        if self.events is not None:
            try:
                self.events.append(site=self.policy.site, input_kind=f"{result.kind}: {result.source}",
                                   outcome=result.outcome, reasons=result.reason_codes, fields=result.logged,
                                   at=result.at, event_id=result.id)
            except Exception:  # the counter still gets its answer; the failure is loud in the log
                log.exception("could not write the event log")
        for listener in list(self._listeners):
            try:
                listener(result)
            except Exception:
                log.exception("a result listener failed")
        return result


def _passed(verdict: Verdict, check: Check) -> bool:
    result = verdict.result(check)
    return result is not None and result.status is Status.PASSED
