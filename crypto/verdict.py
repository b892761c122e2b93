"""Verdicts (DESIGN.md §6, docs/spec.md §7): one CheckResult per check, each with a stable
reason code, and an outcome that is VALID only when every required check passed."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from crypto.reasons import Reason


class Outcome(str, enum.Enum):
    VALID = "VALID"
    INVALID = "INVALID"
    INDETERMINATE = "INDETERMINATE"


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    INDETERMINATE = "indeterminate"
    NOT_CHECKED = "not_checked"


class Check(str, enum.Enum):
    """The checks, in the order they run. Later layers add chip, device, freshness and policy."""

    FORMAT = "format"
    ALGORITHM = "algorithm"
    SIGNER_KNOWN = "signer_known"
    SIGNATURE = "signature"
    CLAIMS = "claims"
    SIGNER_CERTIFICATE = "signer_certificate"
    VALIDITY = "validity"
    REVOCATION = "revocation"
    CHIP_DATA = "chip_data"
    CHIP_GENUINE = "chip_genuine"
    DEVICE_AUTH = "device_auth"  # e-card: the phone's signature with the key the issuer bound (spec §12)
    FRESHNESS = "freshness"
    SITE_POLICY = "site_policy"


CREDENTIAL_CHECKS = (Check.FORMAT, Check.ALGORITHM, Check.SIGNER_KNOWN, Check.SIGNATURE, Check.CLAIMS,
                     Check.SIGNER_CERTIFICATE, Check.VALIDITY, Check.REVOCATION)


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: Check
    status: Status
    reason: Reason | None = None
    message: str = ""

    def to_dict(self) -> dict:
        return {"check": self.check.value, "status": self.status.value,
                "reason": self.reason.value if self.reason else None, "message": self.message}


PASSED = {c: CheckResult(c, Status.PASSED) for c in Check}
NOT_CHECKED = {c: CheckResult(c, Status.NOT_CHECKED) for c in Check}


def outcome_of(checks: tuple[CheckResult, ...]) -> Outcome:
    """Fail closed: any failure is INVALID; anything not passed (indeterminate, or a required
    check that did not run) is INDETERMINATE; only all-passed is VALID."""
    passed, failed = Status.PASSED, Status.FAILED
    all_passed = bool(checks)
    for c in checks:  # identity tests: str-Enum members hash slowly
        if c.status is failed:
            return Outcome.INVALID
        if c.status is not passed:
            all_passed = False
    return Outcome.VALID if all_passed else Outcome.INDETERMINATE


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    checks: tuple[CheckResult, ...]
    claims: Any = None  # crypto.claims.Claims when the claims could be decoded
    signer: Any = None  # crypto.certs.IssuerCertificate when the signature verified
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_checks(cls, checks: tuple[CheckResult, ...], claims: Any = None, signer: Any = None) -> Verdict:
        return cls(outcome_of(checks), checks, claims, signer)

    @property
    def valid(self) -> bool:
        return self.outcome is Outcome.VALID

    @property
    def reasons(self) -> list[Reason]:
        return [c.reason for c in self.checks if c.reason is not None]

    def result(self, check: Check) -> CheckResult | None:
        for c in self.checks:
            if c.check is check:
                return c
        return None

    def with_checks(self, *more: CheckResult) -> Verdict:
        """This verdict with further checks (chip, freshness, site policy) appended."""
        checks = self.checks + tuple(more)
        return Verdict(outcome_of(checks), checks, self.claims, self.signer, dict(self.extra))

    def to_dict(self) -> dict:
        return {"outcome": self.outcome.value, "reasons": [r.value for r in self.reasons],
                "checks": [c.to_dict() for c in self.checks]}
