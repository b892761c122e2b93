"""Site policies (DESIGN.md §6, issue 6 item 3): what a site must see, and only that.

A policy is a JSON file (terminal/policies/*.json, or any file a site writes): which
requirements the card must meet, which fields the counter is shown, which of those are
logged, how old revocation data may be and how much clock difference is tolerated.

The policy check runs after crypto's checks and becomes one more
``CheckResult(Check.SITE_POLICY, ...)`` on the verdict. :func:`project` returns only the
fields the policy allows; the page and the event log both use it, so a field the site
does not need is never shown and never stored.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass
from pathlib import Path

from crypto.ecard import Purpose
from crypto.ecard_verify import DEFAULT_DEVICE_LEEWAY, DEFAULT_WINDOW, FreshnessRules
from crypto.verdict import Check, CheckResult, Status, Verdict
from terminal.card_data import CardData
from terminal.reasons import TerminalReason as R

POLICY_DIR = Path(__file__).parent / "policies"
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))  # dates on the card are China Standard Time


class PolicyError(Exception):
    """A policy file is missing or not valid."""


class Requirement(str, enum.Enum):
    CARD_VALID = "card_valid"                                  # the card's expiry date is not past
    MEDICAL_INSURANCE_IN_FORCE = "medical_insurance_in_force"  # see _insurance_in_force
    WORK_PERMIT_VALID = "work_permit_valid"                    # status valid, today in its window


class Field(str, enum.Enum):
    NAME = "name"
    PHOTO = "photo"
    NATIONALITY = "nationality"
    MEDICAL_INSURANCE = "medical_insurance"
    WORK_PERMIT_NUMBER = "work_permit_number"
    PERMIT_CATEGORY = "permit_category"
    EMPLOYER = "employer"
    POSITION = "position"
    WORK_LOCATION = "work_location"
    PERMIT_VALIDITY = "permit_validity"
    CARD_NUMBER = "card_number"
    CARD_EXPIRY = "card_expiry"


NEVER_LOGGED = {Field.PHOTO}  # a log is not a photo archive
SOURCES = ("qr", "chip", "ecard")  # the card's printed QR, its chip, the e-card app's QR (spec §12)
_KEYS = {"site", "title", "description", "requirements", "insurance_grace_months", "shown_fields", "logged_fields",
         "accepted_sources", "revocation_max_age_hours", "clock_leeway_seconds", "ecard_purposes",
         "ecard_window_seconds", "ecard_clock_leeway_seconds", "ecard_challenge_required",
         "ecard_challenge_seconds"}
# The e-card purposes a site accepts unless its policy says (spec §12.3): "any", and the one
# that matches what it checks.
_PURPOSE_FOR = {Requirement.MEDICAL_INSURANCE_IN_FORCE: Purpose.MEDICAL, Requirement.WORK_PERMIT_VALID: Purpose.PERMIT}


@dataclass(frozen=True)
class SitePolicy:
    site: str
    title_en: str
    title_zh: str
    requirements: tuple[Requirement, ...]
    shown_fields: tuple[Field, ...]
    logged_fields: tuple[Field, ...]
    revocation_max_age: int          # seconds since the trust list's issued_at
    clock_leeway: int = 300          # seconds, both ends of every window
    insurance_grace_months: int = 1  # paid through the current month or this many before it
    accepted_sources: tuple[str, ...] = SOURCES
    description: str = ""
    ecard_purposes: tuple[Purpose, ...] = (Purpose.ANY,)
    ecard_window: int = DEFAULT_WINDOW          # seconds an e-card presentation stays good
    ecard_leeway: int = DEFAULT_DEVICE_LEEWAY   # seconds between the phone's clock and this terminal's
    ecard_challenge_required: bool = False      # this terminal's clock is not trusted
    ecard_challenge_seconds: int = 120          # how long a challenge shown here may be answered

    def freshness_rules(self) -> FreshnessRules:
        return FreshnessRules(window=self.ecard_window, leeway=self.ecard_leeway,
                              purposes=frozenset(self.ecard_purposes),
                              challenge_required=self.ecard_challenge_required)

    @classmethod
    def from_dict(cls, data: dict, origin: str = "policy") -> SitePolicy:
        if not isinstance(data, dict):
            raise PolicyError(f"{origin}: a policy is a JSON object")
        unknown = set(data) - _KEYS
        if unknown:
            raise PolicyError(f"{origin}: unknown key(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
        for key in ("site", "requirements", "shown_fields", "revocation_max_age_hours"):
            if key not in data:
                raise PolicyError(f"{origin}: '{key}' is required")
        site = data["site"]
        if not isinstance(site, str) or not site.isidentifier():
            raise PolicyError(f"{origin}: 'site' must be a short name like 'pharmacy'")
        title = data.get("title", {})
        requirements = _members(Requirement, data["requirements"], origin, "requirements")
        shown = _members(Field, data["shown_fields"], origin, "shown_fields")
        logged = _members(Field, data.get("logged_fields", []), origin, "logged_fields")
        if not set(logged) <= set(shown):
            raise PolicyError(f"{origin}: logged_fields must be a subset of shown_fields "
                              f"(not shown: {sorted(f.value for f in set(logged) - set(shown))})")
        if set(logged) & NEVER_LOGGED:
            raise PolicyError(f"{origin}: the photo is never logged")
        sources = tuple(data.get("accepted_sources", SOURCES))
        if not sources or not set(sources) <= set(SOURCES):
            raise PolicyError(f"{origin}: accepted_sources must be a non-empty subset of {list(SOURCES)}")
        numbers = {}
        for key, low, high, default in (("revocation_max_age_hours", 1, 24 * 90, None),
                                        ("clock_leeway_seconds", 0, 3600, 300),
                                        ("insurance_grace_months", 0, 12, 1),
                                        ("ecard_window_seconds", 10, 600, DEFAULT_WINDOW),
                                        ("ecard_clock_leeway_seconds", 0, 600, DEFAULT_DEVICE_LEEWAY),
                                        ("ecard_challenge_seconds", 10, 3600, 120)):
            value = data.get(key, default)
            if type(value) is not int or not low <= value <= high:
                raise PolicyError(f"{origin}: '{key}' must be an integer {low}-{high}")
            numbers[key] = value
        default_purposes = ["any", *(_PURPOSE_FOR[r].name.lower() for r in requirements if r in _PURPOSE_FOR)]
        purposes = data.get("ecard_purposes", default_purposes)
        if not isinstance(purposes, list) or not purposes or \
                not all(isinstance(p, str) and p.upper() in Purpose.__members__ for p in purposes):
            raise PolicyError(f"{origin}: 'ecard_purposes' must be a non-empty list of "
                              f"{[p.name.lower() for p in Purpose]}")
        challenge_required = data.get("ecard_challenge_required", False)
        if type(challenge_required) is not bool:
            raise PolicyError(f"{origin}: 'ecard_challenge_required' must be true or false")
        return cls(site=site, title_en=str(title.get("en", site)), title_zh=str(title.get("zh", site)),
                   requirements=requirements, shown_fields=shown, logged_fields=logged,
                   revocation_max_age=numbers["revocation_max_age_hours"] * 3600,
                   clock_leeway=numbers["clock_leeway_seconds"],
                   insurance_grace_months=numbers["insurance_grace_months"],
                   accepted_sources=sources, description=str(data.get("description", "")),
                   ecard_purposes=tuple(dict.fromkeys(Purpose[p.upper()] for p in purposes)),
                   ecard_window=numbers["ecard_window_seconds"], ecard_leeway=numbers["ecard_clock_leeway_seconds"],
                   ecard_challenge_required=challenge_required,
                   ecard_challenge_seconds=numbers["ecard_challenge_seconds"])

    def to_dict(self) -> dict:
        return {"site": self.site, "title": {"en": self.title_en, "zh": self.title_zh},
                "requirements": [r.value for r in self.requirements],
                "shown_fields": [f.value for f in self.shown_fields],
                "logged_fields": [f.value for f in self.logged_fields],
                "revocation_max_age_hours": self.revocation_max_age // 3600,
                "clock_leeway_seconds": self.clock_leeway, "insurance_grace_months": self.insurance_grace_months,
                "accepted_sources": list(self.accepted_sources),
                "ecard_purposes": [p.name.lower() for p in self.ecard_purposes],
                "ecard_window_seconds": self.ecard_window, "ecard_clock_leeway_seconds": self.ecard_leeway,
                "ecard_challenge_required": self.ecard_challenge_required,
                "ecard_challenge_seconds": self.ecard_challenge_seconds}


def _members(kind: type[enum.Enum], values: object, origin: str, key: str) -> tuple:
    if not isinstance(values, list):
        raise PolicyError(f"{origin}: '{key}' must be a list")
    out = []
    for value in values:
        try:
            out.append(kind(value))
        except ValueError:
            raise PolicyError(f"{origin}: {key}: unknown {value!r}; known: {[m.value for m in kind]}") from None
    if len(set(out)) != len(out):
        raise PolicyError(f"{origin}: {key} lists an entry twice")
    return tuple(out)


def available_sites() -> list[str]:
    return sorted(p.stem for p in POLICY_DIR.glob("*.json"))


def load_policy(name_or_path: str | Path) -> SitePolicy:
    """A built-in site ('pharmacy', 'hospital', 'bureau') or a policy file's path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = POLICY_DIR / f"{name_or_path}.json"
        if not path.is_file():
            raise PolicyError(f"no site policy '{name_or_path}'; built in: {', '.join(available_sites())}, "
                              "or give the path of a policy file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise PolicyError(f"{path} is not valid JSON: {exc}") from None
    return SitePolicy.from_dict(data, str(path))


# ---------------------------------------------------------------- the check

def local_date(epoch: int) -> dt.date:
    return dt.datetime.fromtimestamp(epoch, CHINA_TZ).date()


def _months(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _fail(reason: R, message: str) -> CheckResult:
    return CheckResult(Check.SITE_POLICY, Status.FAILED, reason, message)


def _card_valid(data: CardData, policy: SitePolicy, now: int) -> CheckResult | None:
    if data.card is None:
        return _fail(R.POLICY_DATA_MISSING, "the card data was not read")
    if data.card["expiry_date"] < local_date(now - policy.clock_leeway):
        return _fail(R.POLICY_CARD_EXPIRED, f"the card expired on {data.card['expiry_date']}")
    return None


def _insurance_in_force(data: CardData, policy: SitePolicy, now: int) -> CheckResult | None:
    """In force: medical insurance enrolled, status normal, and paid through the current
    month or at most `insurance_grace_months` before it (contributions for a month are
    collected during that month, so at the start of a month the last one is still open)."""
    if data.insurance is None:
        return _fail(R.POLICY_DATA_MISSING, "the insurance data was not read (on a chip it needs the PIN)")
    medical = data.medical()
    status = medical["status"].name.lower()
    if status == "not_enrolled":
        return _fail(R.POLICY_INSURANCE_NOT_ENROLLED, "not enrolled in medical insurance")
    if status != "normal":
        return _fail(R.POLICY_INSURANCE_STATUS, f"medical insurance is {status}")
    paid = medical.get("paid_through")
    oldest = _months(local_date(now - policy.clock_leeway)) - policy.insurance_grace_months
    if paid is None or _months(paid) < oldest:
        through = f"{paid:%Y-%m}" if paid else "no month"
        return _fail(R.POLICY_INSURANCE_UNPAID, f"medical insurance is paid through {through}; "
                                                f"this site needs {policy.insurance_grace_months} month(s) before now or later")
    return None


def _permit_valid(data: CardData, policy: SitePolicy, now: int) -> CheckResult | None:
    if data.permit is None:
        return _fail(R.POLICY_DATA_MISSING, "the work permit data was not read")
    permit = data.permit
    if permit["status"].name != "VALID":
        return _fail(R.POLICY_PERMIT_STATUS, f"the work permit is {permit['status'].name.lower()}")
    if permit["valid_from"] > local_date(now + policy.clock_leeway):
        return _fail(R.POLICY_PERMIT_NOT_YET_VALID, f"the work permit is valid from {permit['valid_from']}")
    if permit["valid_until"] < local_date(now - policy.clock_leeway):
        return _fail(R.POLICY_PERMIT_EXPIRED, f"the work permit expired on {permit['valid_until']}")
    return None


_RULES = {Requirement.CARD_VALID: _card_valid, Requirement.MEDICAL_INSURANCE_IN_FORCE: _insurance_in_force,
          Requirement.WORK_PERMIT_VALID: _permit_valid}
_LABELS = {Requirement.CARD_VALID: "card valid", Requirement.MEDICAL_INSURANCE_IN_FORCE: "medical insurance in force",
           Requirement.WORK_PERMIT_VALID: "work permit valid"}


def check_policy(policy: SitePolicy, verdict: Verdict, data: CardData | None, now: int) -> CheckResult:
    """The site_policy check. It runs only when every earlier check passed (spec §7.2:
    the first check that does not pass ends the run) and on authenticated data only."""
    if any(c.status is not Status.PASSED for c in verdict.checks) or data is None:
        return CheckResult(Check.SITE_POLICY, Status.NOT_CHECKED)
    if data.kind not in policy.accepted_sources:
        return _fail(R.POLICY_SOURCE_NOT_ACCEPTED, f"{policy.site} does not accept a {data.kind} presentation")
    try:
        for requirement in policy.requirements:
            failed = _RULES[requirement](data, policy, now)
            if failed is not None:
                return failed
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # fail closed on odd data
        return _fail(R.POLICY_DATA_MISSING, f"the policy could not be checked: {type(exc).__name__}")
    met = ", ".join(_LABELS[r] for r in policy.requirements) or "no requirement"
    return CheckResult(Check.SITE_POLICY, Status.PASSED, None, f"{policy.site}: {met}")


def apply_policy(policy: SitePolicy, verdict: Verdict, data: CardData | None, now: int) -> Verdict:
    return verdict.with_checks(check_policy(policy, verdict, data, now))


# ---------------------------------------------------------------- data minimisation

def _field(field: Field, data: CardData, now: int, policy: SitePolicy):
    holder, permit, card = data.holder, data.permit, data.card
    match field:
        case Field.NAME:
            return holder and {"family_name": holder["family_name"], "given_names": holder["given_names"],
                               "chinese_name": holder.get("chinese_name")}
        case Field.PHOTO:
            return data.photo_field()
        case Field.NATIONALITY:
            return holder and holder["nationality"]
        case Field.MEDICAL_INSURANCE:
            if data.insurance is None:
                return None
            medical = data.medical()
            paid = medical.get("paid_through")
            return {"status": medical["status"].name.lower(), "paid_through": f"{paid:%Y-%m}" if paid else None,
                    "in_force": _insurance_in_force(data, policy, now) is None}
        case Field.WORK_PERMIT_NUMBER:
            return data.identifiers and data.identifiers["work_permit_number"]
        case Field.PERMIT_CATEGORY:
            return permit and permit["category"].name
        case Field.EMPLOYER:  # an e-card leaves the USCC out (spec §12.2): uscc is None then
            return permit and {"name": permit["employer"]["name"], "uscc": permit["employer"]["uscc"]}
        case Field.POSITION:
            return permit and permit["position"]
        case Field.WORK_LOCATION:
            return permit and permit["work_location"]
        case Field.PERMIT_VALIDITY:
            return permit and {"valid_from": permit["valid_from"].isoformat(),
                               "valid_until": permit["valid_until"].isoformat(),
                               "status": permit["status"].name.lower()}
        case Field.CARD_NUMBER:
            return card and card["card_number"]
        case Field.CARD_EXPIRY:
            return card and card["expiry_date"].isoformat()
    return None


def project(policy: SitePolicy, data: CardData | None, now: int, *, for_log: bool = False) -> dict:
    """The fields this site may show (or, with `for_log`, store): nothing else leaves here.
    Fields the card presentation does not carry (the photo of a QR code) are left out."""
    if data is None:
        return {}
    out = {}
    for field in policy.logged_fields if for_log else policy.shown_fields:
        value = _field(field, data, now, policy)
        if value is not None:
            out[field.value] = value
    return out
