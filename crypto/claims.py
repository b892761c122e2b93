"""The CBOR claim set (docs/spec.md §4): a CWT claims set (RFC 8392) whose sscard data sits
under one private-use claim key, deterministically encoded (RFC 8949 §4.2.1).

Three profiles share one mapping: the compact QR profile (printed on the card) leaves out
what a QR code cannot afford and a counter does not need (passport number, photo digest,
issue date, credential id); the chip profile carries everything; the e-card profile
(spec §12) is leaner still and binds the holder's phone key, and verifies only inside an
e-card presentation signed by that phone.
Dates are days since 1970-01-01, months are months since 1970-01, enumerations small
integers.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from crypto import cbor
from crypto.device_key import load_device_key
from crypto.errors import ClaimsError
from crypto.reasons import Reason
from crypto.schema import (CHINA_TZ, EARLIEST_DATE, LATEST_DATE, Card, CardKind, Credential, Employer, Holder,
                           Identifiers, InsuranceEnrolment, InsuranceStatus, InsuranceType, PermitCategory,
                           PermitStatus, Sex, WorkPermit, parse_credential)

# RFC 8392 §3.1 claim keys.
CWT_ISS, CWT_EXP, CWT_IAT, CWT_CTI = 1, 4, 6, 7
# The first private-use CWT claim key (RFC 8392 §9.1: integers below -65536).
SSC_CLAIM = -65537
MAX_PAYLOAD_BYTES = 4096

EPOCH = dt.date(1970, 1, 1)


class Profile(enum.IntEnum):
    QR = 1
    CHIP = 2
    ECARD = 3  # spec §12: only inside a presentation that the bound phone key signed


# What a credential verified on its own may be; an e-card credential never is (spec §12.3).
STANDALONE_PROFILES = frozenset({Profile.QR, Profile.CHIP})


# Keys of the sscard map and of its groups (spec §4.2-§4.6).
K_PROFILE, K_HOLDER, K_IDS, K_PERMIT, K_INSURANCE, K_CARD = 1, 2, 3, 4, 5, 6
H_FAMILY, H_GIVEN, H_CHINESE, H_NATIONALITY, H_BIRTH, H_SEX, H_PHOTO = 1, 2, 3, 4, 5, 6, 7
I_SSN, I_WORK_PERMIT, I_PASSPORT, I_PR_ID = 1, 2, 3, 4
P_CATEGORY, P_EMPLOYER, P_USCC, P_POSITION, P_LOCATION, P_FROM, P_UNTIL, P_STATUS = 1, 2, 3, 4, 5, 6, 7, 8
C_NUMBER, C_SERIAL, C_KIND, C_SEQUENCE, C_ISSUED, C_EXPIRY = 1, 2, 3, 4, 5, 6
K_DEVICE_KEY = 7  # e-card profile: the phone's P-256 key, SEC1 compressed (crypto.device_key)

# What each profile leaves out.
_CHIP_ONLY = {K_HOLDER: {H_PHOTO}, K_IDS: {I_PASSPORT}, K_CARD: {C_ISSUED}}
# The e-card profile also leaves out what no counter reads, to fit a phone-screen QR with the
# phone's signature (spec §12.2): the employer's USCC and the card sequence; of the insurances
# it carries only the medical entry.
_ECARD_LEAVES_OUT = {K_PERMIT: {P_USCC}, K_CARD: {C_SEQUENCE}}


def days(value: dt.date) -> int:
    return (value - EPOCH).days


def month_index(value: dt.date) -> int:
    return (value.year - 1970) * 12 + value.month - 1


def from_month_index(value: int) -> dt.date:
    year, month = divmod(value, 12)
    return dt.date(1970 + year, month + 1, 1)


def end_of_day(value: dt.date) -> int:
    """The last second of `value` in China Standard Time, as epoch seconds."""
    return int(dt.datetime.combine(value + dt.timedelta(days=1), dt.time(), CHINA_TZ).timestamp()) - 1


# ---------------------------------------------------------------- encoding

def _drop_none(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None}


def holder_map(h: Holder, profile: Profile) -> dict:
    m = {H_FAMILY: h.family_name, H_GIVEN: h.given_names, H_CHINESE: h.chinese_name,
         H_NATIONALITY: h.nationality, H_BIRTH: days(h.birth_date), H_SEX: int(h.sex),
         H_PHOTO: h.photo_digest if profile is Profile.CHIP else None}
    return _drop_none(m)


def identifiers_map(i: Identifiers, profile: Profile) -> dict:
    m = {I_SSN: i.social_security_number, I_WORK_PERMIT: int(i.work_permit_number),
         I_PASSPORT: i.passport_number if profile is Profile.CHIP else None,
         I_PR_ID: i.permanent_residence_id}
    return _drop_none(m)


def permit_map(p: WorkPermit, profile: Profile = Profile.QR) -> dict:
    return {P_CATEGORY: int(p.category), P_EMPLOYER: p.employer.name,
            P_USCC: p.employer.uscc if profile is not Profile.ECARD else None,
            P_POSITION: p.position, P_LOCATION: int(p.work_location), P_FROM: days(p.valid_from),
            P_UNTIL: days(p.valid_until), P_STATUS: int(p.status)}


def insurance_array(entries: tuple[InsuranceEnrolment, ...], profile: Profile) -> list:
    """Chip: [status, since?, paid_through?]; QR: [status, paid_through?] (spec §4.5); the
    e-card carries the medical entry alone, in the QR shape (spec §12.2)."""
    if profile is Profile.ECARD:
        medical = next(e for e in entries if e.type is InsuranceType.MEDICAL)
        return insurance_array((medical,), Profile.QR)[0]
    out = []
    for e in entries:
        item = [int(e.status)]
        if profile is Profile.QR:
            if e.paid_through is not None:
                item.append(month_index(e.paid_through))
        elif e.since is not None:
            item.append(month_index(e.since))
            if e.paid_through is not None:
                item.append(month_index(e.paid_through))
        elif e.paid_through is not None:
            raise ClaimsError(Reason.CLAIMS_MISSING,
                              f"{e.type.name.lower()}: the chip profile needs 'since' when 'paid_through' is given")
        out.append(item)
    return out


def card_map(c: Card, profile: Profile) -> dict:
    m = {C_NUMBER: c.card_number, C_SERIAL: c.serial, C_KIND: int(c.kind),
         C_SEQUENCE: c.sequence if profile is not Profile.ECARD else None,
         C_ISSUED: days(c.issue_date) if (c.issue_date and profile is Profile.CHIP) else None,
         C_EXPIRY: days(c.expiry_date)}
    return _drop_none(m)


def sscard_map(cred: Credential, profile: Profile, device_key: bytes | None = None) -> dict:
    if profile is Profile.CHIP and (cred.holder.photo_digest is None or cred.card.issue_date is None):
        raise ClaimsError(Reason.CLAIMS_MISSING, "the chip profile needs the photo digest and the issue date")
    m = {K_PROFILE: int(profile), K_HOLDER: holder_map(cred.holder, profile),
         K_IDS: identifiers_map(cred.identifiers, profile), K_PERMIT: _drop_none(permit_map(cred.permit, profile)),
         K_INSURANCE: insurance_array(cred.insurance, profile), K_CARD: card_map(cred.card, profile)}
    if profile is Profile.ECARD:
        if cred.card.kind is not CardKind.ELECTRONIC:
            raise ClaimsError(Reason.CLAIMS_VALUE, "an e-card credential is of card kind 2 (electronic)")
        load_device_key(device_key)  # raises unless a compressed P-256 point
        m[K_DEVICE_KEY] = device_key
    elif device_key is not None:
        raise ClaimsError(Reason.CLAIMS_UNKNOWN_KEY, "only the e-card profile binds a device key")
    return m


def encode_claims(cred: Credential, *, profile: Profile, iat: int, exp: int | None = None,
                  cti: bytes | None = None, device_key: bytes | None = None) -> bytes:
    """The deterministic CBOR payload for `cred`. `exp` defaults to the end of the card's
    expiry day. The chip profile names the issuing centre in `iss`; the QR and e-card
    profiles leave it to the signer certificate, which names it too (and is what a verifier
    trusts). `device_key` (e-card profile only) is the phone's compressed P-256 key."""
    claims: dict[int, Any] = {CWT_IAT: iat, CWT_EXP: exp if exp is not None else end_of_day(cred.card.expiry_date),
                              SSC_CLAIM: sscard_map(cred, profile, device_key)}
    if profile is Profile.CHIP:
        claims[CWT_ISS] = cred.card.issuing_centre
        if cti is not None:
            claims[CWT_CTI] = cti
    return cbor.dumps(claims)


# ---------------------------------------------------------------- decoding
#
# Verification decodes on its hot path, so this checks structure, types, enumeration
# members and ranges directly (no pydantic): the content rules of crypto.schema (check
# characters, name alphabets) are enforced when the issuer signs. `decode_claims(...,
# validate=True)` runs the full schema as well.

_TYPE_NAMES = {int: "integer", str: "text string", bytes: "byte string", dict: "map", list: "array"}
_KEYS = {K_HOLDER: frozenset({H_FAMILY, H_GIVEN, H_CHINESE, H_NATIONALITY, H_BIRTH, H_SEX, H_PHOTO}),
         K_IDS: frozenset({I_SSN, I_WORK_PERMIT, I_PASSPORT, I_PR_ID}),
         K_PERMIT: frozenset({P_CATEGORY, P_EMPLOYER, P_USCC, P_POSITION, P_LOCATION, P_FROM, P_UNTIL, P_STATUS}),
         K_CARD: frozenset({C_NUMBER, C_SERIAL, C_KIND, C_SEQUENCE, C_ISSUED, C_EXPIRY})}
_QR_KEYS = {k: v - _CHIP_ONLY.get(k, frozenset()) for k, v in _KEYS.items()}
_ECARD_KEYS = {k: v - _ECARD_LEAVES_OUT.get(k, frozenset()) for k, v in _QR_KEYS.items()}
_PROFILE_KEYS = {Profile.QR: _QR_KEYS, Profile.CHIP: _KEYS, Profile.ECARD: _ECARD_KEYS}
_TOP_KEYS = frozenset({CWT_ISS, CWT_EXP, CWT_IAT, CWT_CTI, SSC_CLAIM})
_SSC_ECARD_KEYS = frozenset({K_PROFILE, K_HOLDER, K_IDS, K_PERMIT, K_INSURANCE, K_CARD, K_DEVICE_KEY})
_MIN_DAYS, _MAX_DAYS = days(EARLIEST_DATE), days(LATEST_DATE)
_MAX_TEXT = 128


_ABSENT = object()  # a key not in its map; a key present with the value null is present (spec §4.7)


def _map(value: Any, path: str, allowed: frozenset) -> dict:
    if value is _ABSENT:
        raise ClaimsError(Reason.CLAIMS_MISSING, f"{path} is missing")
    if not isinstance(value, dict):
        raise ClaimsError(Reason.CLAIMS_TYPE, f"{path} must be a map")
    for key in value:  # True == 1 and 6.0 == 6 in Python: only integers are claim keys
        if type(key) is not int:
            raise ClaimsError(Reason.CLAIMS_UNKNOWN_KEY, f"{path} has a key {key!r} that is not an integer")
    if not value.keys() <= allowed:
        unknown = sorted(set(value) - allowed, key=repr)
        raise ClaimsError(Reason.CLAIMS_UNKNOWN_KEY, f"{path} has unknown key(s) {unknown!r}")
    return value


def _get(m: dict, key: int, kind: type, path: str, required: bool = True) -> Any:
    value = m.get(key)
    if type(value) is kind:  # bool is not an int here
        if kind is str and len(value) > _MAX_TEXT:
            raise ClaimsError(Reason.CLAIMS_VALUE, f"{path}[{key}] is longer than {_MAX_TEXT} characters")
        return value
    if value is None and key not in m:
        if required:
            raise ClaimsError(Reason.CLAIMS_MISSING, f"{path}[{key}] is missing")
        return None
    raise ClaimsError(Reason.CLAIMS_TYPE, f"{path}[{key}] must be a {_TYPE_NAMES[kind]}, got {type(value).__name__}")


# Field tables: (key, field name, CBOR type, required in the QR profile, required on the chip).
_HOLDER_FIELDS = ((H_FAMILY, "family_name", str, True, True), (H_GIVEN, "given_names", str, True, True),
                  (H_CHINESE, "chinese_name", str, False, False), (H_NATIONALITY, "nationality", str, True, True),
                  (H_BIRTH, "birth_date", int, True, True), (H_SEX, "sex", int, True, True),
                  (H_PHOTO, "photo_digest", bytes, False, True))
_IDS_FIELDS = ((I_SSN, "social_security_number", str, True, True), (I_WORK_PERMIT, "work_permit_number", int, True, True),
               (I_PASSPORT, "passport_number", str, False, False), (I_PR_ID, "permanent_residence_id", str, False, False))
_PERMIT_FIELDS = ((P_CATEGORY, "category", int, True, True), (P_EMPLOYER, "employer", str, True, True),
                  (P_USCC, "uscc", str, True, True), (P_POSITION, "position", str, True, True),
                  (P_LOCATION, "work_location", int, True, True), (P_FROM, "valid_from", int, True, True),
                  (P_UNTIL, "valid_until", int, True, True), (P_STATUS, "status", int, True, True))
_CARD_FIELDS = ((C_NUMBER, "card_number", str, True, True), (C_SERIAL, "serial", int, True, True),
                (C_KIND, "kind", int, True, True), (C_SEQUENCE, "sequence", int, True, True),
                (C_ISSUED, "issue_date", int, False, True), (C_EXPIRY, "expiry_date", int, True, True))


def _fields(m: Any, table: tuple, path: str, allowed: frozenset, chip: bool) -> dict:
    """Check one group map against its field table: keys, CBOR types, text length."""
    if type(m) is not dict or not m.keys() <= allowed or not all(type(k) is int for k in m):
        _map(m, path, allowed)  # raises with the precise reason
    out = {}
    for key, name, kind, required_qr, required_chip in table:
        value = m.get(key)
        if type(value) is not kind:
            value = _get(m, key, kind, path, (required_chip if chip else required_qr) and key in allowed)
        elif kind is str and len(value) > _MAX_TEXT:
            raise ClaimsError(Reason.CLAIMS_VALUE, f"{path}.{name} is longer than {_MAX_TEXT} characters")
        out[name] = value
    return out


def _member(enum_type: type[enum.IntEnum], value: int, path: str) -> Any:
    member = enum_type._value2member_map_.get(value)
    if member is None:
        raise ClaimsError(Reason.CLAIMS_VALUE, f"{path} {value!r} is not a known {enum_type.__name__}")
    return member


_EPOCH_ORDINAL = EPOCH.toordinal()


def _day(value: int | None, path: str) -> dt.date | None:
    if value is None:
        return None
    if not _MIN_DAYS <= value <= _MAX_DAYS:
        raise ClaimsError(Reason.CLAIMS_VALUE, f"{path} is not a date between {EARLIEST_DATE} and {LATEST_DATE}")
    return dt.date.fromordinal(_EPOCH_ORDINAL + value)


_INSURANCE_TYPES = tuple(InsuranceType)
_MONTHS = 12 * 230  # month indexes up to 2199-12


def _month(value: Any, kind: InsuranceType) -> dt.date:
    if type(value) is not int or not 0 <= value < _MONTHS:
        raise ClaimsError(Reason.CLAIMS_TYPE, f"insurance[{kind.name.lower()}]: a month must be an integer 0-{_MONTHS - 1}")
    return dt.date(1970 + value // 12, value % 12 + 1, 1)


def _insurance(value: Any, profile: Profile) -> list[dict]:
    if value is _ABSENT:
        raise ClaimsError(Reason.CLAIMS_MISSING, "insurance is missing")
    if profile is Profile.ECARD:  # the medical entry alone, in the QR shape (spec §12.2)
        if type(value) is not list:
            raise ClaimsError(Reason.CLAIMS_TYPE, "insurance must be the medical entry [status, paid_through?]")
        medical = _insurance([[0]] + [value] + [[0]] * 3, Profile.QR)[1]
        return [medical]
    if type(value) is not list or len(value) != 5:
        raise ClaimsError(Reason.CLAIMS_TYPE, "insurance must be an array of 5 entries")
    most = 3 if profile is Profile.CHIP else 2
    statuses = InsuranceStatus._value2member_map_
    not_enrolled = InsuranceStatus.NOT_ENROLLED
    out = []
    for kind, item in zip(_INSURANCE_TYPES, value):
        ok = type(item) is list and 1 <= len(item) <= most and type(item[0]) is int
        status = statuses.get(item[0]) if ok else None
        if status is None:
            shape = "[status, since?, paid_through?]" if most == 3 else "[status, paid_through?]"
            raise ClaimsError(Reason.CLAIMS_TYPE, f"insurance[{kind.name.lower()}] must be {shape} with a known status")
        since = paid = None
        if len(item) > 1:
            if status is not_enrolled:
                raise ClaimsError(Reason.CLAIMS_VALUE, f"insurance[{kind.name.lower()}]: not enrolled, yet dates are given")
            if most == 2:  # the QR profile has no 'since'
                paid = _month(item[1], kind)
            else:
                since = _month(item[1], kind)
                paid = _month(item[2], kind) if len(item) > 2 else None
        out.append({"type": kind, "status": status, "since": since, "paid_through": paid})
    return out


def _credential_dict(ssc: dict, profile: Profile, iss: str) -> dict:
    chip = profile is Profile.CHIP
    keys = _PROFILE_KEYS[profile]
    holder = _fields(ssc.get(K_HOLDER, _ABSENT), _HOLDER_FIELDS, "holder", keys[K_HOLDER], chip)
    ids = _fields(ssc.get(K_IDS, _ABSENT), _IDS_FIELDS, "identifiers", keys[K_IDS], chip)
    permit = _fields(ssc.get(K_PERMIT, _ABSENT), _PERMIT_FIELDS, "permit", keys[K_PERMIT], chip)
    card = _fields(ssc.get(K_CARD, _ABSENT), _CARD_FIELDS, "card", keys[K_CARD], chip)
    wp, location, serial = ids["work_permit_number"], permit["work_location"], card["serial"]
    if not 0 <= wp < 10**18 or not 100000 <= location <= 899999 or not 0 <= serial < 2**32:
        raise ClaimsError(Reason.CLAIMS_VALUE, "work permit number, work location or card serial out of range")
    if holder["photo_digest"] is not None and len(holder["photo_digest"]) != 32:
        raise ClaimsError(Reason.CLAIMS_VALUE, "holder photo digest must be 32 bytes (SHA-256)")
    ids["work_permit_number"] = f"{wp:018d}"
    permit["work_location"] = f"{location:06d}"
    permit["employer"] = {"name": permit["employer"], "uscc": permit.pop("uscc")}
    card["issuing_centre"] = iss
    holder["sex"] = _member(Sex, holder["sex"], "holder.sex")
    permit["category"] = _member(PermitCategory, permit["category"], "permit.category")
    permit["status"] = _member(PermitStatus, permit["status"], "permit.status")
    card["kind"] = _member(CardKind, card["kind"], "card.kind")
    if profile is Profile.ECARD and card["kind"] is not CardKind.ELECTRONIC:
        raise ClaimsError(Reason.CLAIMS_VALUE, "an e-card credential must be of card kind 2 (electronic)")
    holder["birth_date"] = _day(holder["birth_date"], "holder.birth_date")
    permit["valid_from"] = _day(permit["valid_from"], "permit.valid_from")
    permit["valid_until"] = _day(permit["valid_until"], "permit.valid_until")
    card["issue_date"] = _day(card["issue_date"], "card.issue_date")
    card["expiry_date"] = _day(card["expiry_date"], "card.expiry_date")
    return {"holder": holder, "identifiers": ids, "permit": permit,
            "insurance": _insurance(ssc.get(K_INSURANCE, _ABSENT), profile), "card": card}


def _construct(data: dict) -> Credential:
    """Build the models from data whose types _credential_dict has checked."""
    permit = dict(data["permit"], employer=Employer.model_construct(**data["permit"]["employer"]))
    return Credential.model_construct(
        holder=Holder.model_construct(**data["holder"]),
        identifiers=Identifiers.model_construct(**data["identifiers"]),
        permit=WorkPermit.model_construct(**permit),
        insurance=tuple(InsuranceEnrolment.model_construct(**e) for e in data["insurance"]),
        card=Card.model_construct(**data["card"]))


class Claims:
    """A decoded claim set: the CWT claims and the credential they carry."""

    __slots__ = ("iss", "iat", "exp", "cti", "profile", "data", "_credential", "device_key")

    def __init__(self, iss: str, iat: int, exp: int, cti: bytes | None, profile: Profile, data: dict,
                 credential: Credential | None = None, device_key: ec.EllipticCurvePublicKey | None = None):
        self.iss, self.iat, self.exp, self.cti, self.profile, self.data = iss, iat, exp, cti, profile, data
        self._credential = credential
        self.device_key = device_key  # the phone key an e-card credential binds (spec §12.2)

    @property
    def serial(self) -> int:
        return self.data["card"]["serial"]

    @property
    def card_number(self) -> str:
        return self.data["card"]["card_number"]

    @property
    def credential(self) -> Credential:
        if self._credential is None:
            self._credential = _construct(self.data)
        return self._credential


def decode_claims(payload: bytes, *, issuer_code: str | None = None, validate: bool = False,
                  deterministic: bool = False, profiles: frozenset[Profile] = STANDALONE_PROFILES) -> Claims:
    """Decode a claim set; a ClaimsError (or, with `validate`, a SchemaError) says what is wrong.

    `issuer_code` is the issuing centre named by the signer certificate: the QR and e-card
    profiles take the centre from it, the chip profile's `iss` must equal it. `profiles` are
    the profiles the caller accepts: a credential verified on its own is never an e-card
    credential, which is accepted only inside a presentation (crypto.ecard_verify).
    """
    top = _map(cbor.loads(payload, max_size=MAX_PAYLOAD_BYTES, what="claims", deterministic=deterministic),
               "claims", _TOP_KEYS)
    iat, exp = _get(top, CWT_IAT, int, "claims"), _get(top, CWT_EXP, int, "claims")
    ssc = _map(_get(top, SSC_CLAIM, dict, "claims"), "sscard", _SSC_ECARD_KEYS)
    profile = Profile._value2member_map_.get(_get(ssc, K_PROFILE, int, "sscard"))
    if profile is None or profile not in profiles:
        if profile is Profile.ECARD:
            raise ClaimsError(Reason.CLAIMS_VALUE, "profile 3 is an e-card credential: it is valid only in an "
                                                   "e-card presentation (SSC1E:) signed by the holder's phone")
        expected = "profile 3 (e-card)" if profiles == {Profile.ECARD} else "a known profile number"
        raise ClaimsError(Reason.CLAIMS_VALUE, f"profile {ssc.get(K_PROFILE)!r} is not {expected}")
    if K_DEVICE_KEY in ssc and profile is not Profile.ECARD:
        raise ClaimsError(Reason.CLAIMS_UNKNOWN_KEY, "sscard key 7 (device key) belongs to the e-card profile only")
    iss = _get(top, CWT_ISS, str, "claims", profile is Profile.CHIP)
    cti = _get(top, CWT_CTI, bytes, "claims", False)
    if profile is not Profile.CHIP and (iss is not None or cti is not None):
        raise ClaimsError(Reason.CLAIMS_UNKNOWN_KEY, f"the {profile.name} profile carries neither iss nor cti")
    if iss is None:
        if issuer_code is None:
            raise ClaimsError(Reason.CLAIMS_MISSING, "the issuing centre is unknown: pass the signer's issuer code")
        iss = issuer_code
    elif issuer_code is not None and iss != issuer_code:
        raise ClaimsError(Reason.CLAIMS_VALUE, f"iss {iss!r} is not the signer's issuing centre {issuer_code!r}")
    device_key = None
    if profile is Profile.ECARD:
        if K_DEVICE_KEY not in ssc:
            raise ClaimsError(Reason.CLAIMS_MISSING, "an e-card credential binds a device key (sscard key 7)")
        device_key = load_device_key(ssc[K_DEVICE_KEY])
    data = _credential_dict(ssc, profile, iss)
    credential = parse_credential(data) if validate and profile is not Profile.ECARD else None
    return Claims(iss, iat, exp, cti, profile, data, credential, device_key)
