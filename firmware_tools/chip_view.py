"""A readable view of the chip's files for people (``ssc-card dump``): the data groups of
docs/spec.md §10.1 with field names, dates as ISO dates and enumerations by name, and the
security object's payload (§10.2). Files of another shape are left to the caller's generic
CBOR view. Nothing here is verified: that is :func:`firmware_tools.reader.read_card`.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from crypto import SscError, cbor, cose
from crypto import claims as c
from crypto.chip import Group, decode_security_object_payload
from crypto.schema import CardKind, InsuranceStatus, InsuranceType, PermitCategory, PermitStatus, Sex
from firmware_tools.card.profile import SECURITY_OBJECT, ElementaryFile, chip_key_point
from firmware_tools.card_io import GROUP_FOR_EF, chip_id

DAY, MONTH, DIGITS6, DIGITS18 = "day", "month", 6, 18
HOLDER = {c.H_FAMILY: "family_name", c.H_GIVEN: "given_names", c.H_CHINESE: "chinese_name",
          c.H_NATIONALITY: "nationality", c.H_BIRTH: ("birth_date", DAY), c.H_SEX: ("sex", Sex),
          c.H_PHOTO: "photo_digest"}
IDENTIFIERS = {c.I_SSN: "social_security_number", c.I_WORK_PERMIT: ("work_permit_number", DIGITS18),
               c.I_PASSPORT: "passport_number", c.I_PR_ID: "permanent_residence_id"}
PERMIT = {c.P_CATEGORY: ("category", PermitCategory), c.P_EMPLOYER: "employer", c.P_USCC: "employer_uscc",
          c.P_POSITION: "position", c.P_LOCATION: ("work_location", DIGITS6), c.P_FROM: ("valid_from", DAY),
          c.P_UNTIL: ("valid_until", DAY), c.P_STATUS: ("status", PermitStatus)}
CARD = {c.C_NUMBER: "card_number", c.C_SERIAL: "serial", c.C_KIND: ("kind", CardKind),
        c.C_SEQUENCE: "sequence", c.C_ISSUED: ("issue_date", DAY), c.C_EXPIRY: ("expiry_date", DAY)}


def _value(kind: Any, value: Any) -> Any:
    if kind == DAY and type(value) is int:
        return (c.EPOCH + dt.timedelta(days=value)).isoformat()
    if kind == MONTH and type(value) is int:
        return c.from_month_index(value).strftime("%Y-%m")
    if kind in (DIGITS6, DIGITS18) and type(value) is int:
        return f"{value:0{kind}d}"
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        member = kind._value2member_map_.get(value)
        if member is None:
            return value
        return member.name.lower() if len(member.name) > 1 else member.name  # "female", but category "A"
    return value


def _named(table: dict, item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    out = {}
    for key, value in item.items():
        spec = table.get(key, str(key))
        name, kind = spec if isinstance(spec, tuple) else (spec, None)
        out[name] = _value(kind, value)
    return out


def _insurance(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    out = []
    for kind, item in zip(InsuranceType, items):
        if not isinstance(item, list) or not item:
            out.append(item)
            continue
        entry = {"type": kind.name.lower(), "status": _value(InsuranceStatus, item[0])}
        for name, value in zip(("since", "paid_through"), item[1:]):
            entry[name] = _value(MONTH, value)
        out.append(entry)
    return out


def _group(group: Group, item: Any) -> Any:
    shapes = {Group.CARD_INFO: {0, c.K_CARD}, Group.HOLDER: {c.K_HOLDER, c.K_IDS}, Group.PERMIT: {c.K_PERMIT},
              Group.INSURANCE: {c.K_INSURANCE}}
    if group not in shapes or not isinstance(item, dict) or set(item) != shapes[group]:
        return None
    if group is Group.CARD_INFO:
        return {"issuing_centre": item[0], "card": _named(CARD, item[c.K_CARD])}
    if group is Group.HOLDER:
        return {"holder": _named(HOLDER, item[c.K_HOLDER]), "identifiers": _named(IDENTIFIERS, item[c.K_IDS])}
    if group is Group.PERMIT:
        return {"permit": _named(PERMIT, item[c.K_PERMIT])}
    return {"insurance": _insurance(item[c.K_INSURANCE])}


def _security_object(payload: bytes) -> Any:
    try:
        envelope = cose.decode_sign1(payload, max_size=SECURITY_OBJECT.max_size)
        so = decode_security_object_payload(envelope.payload)
    except SscError:
        return None
    when = dt.datetime.fromtimestamp
    return {"cose_sign1": {"alg": envelope.algorithm.name, "kid": envelope.kid.hex()},
            "card_number": so.card_number, "serial": so.serial, "issuer": so.issuer_code,
            "signed_at": when(so.iat, dt.timezone.utc).isoformat(), "expires": when(so.exp, dt.timezone.utc).isoformat(),
            "digests": {(Group(k).name if k in Group._value2member_map_ else str(k)): v.hex()
                        for k, v in sorted(so.digests.items())}}


def readable(ef: ElementaryFile, payload: bytes) -> Any:
    """The named view of a file's CBOR payload, or None when the file is not of the
    shape docs/spec.md §10 gives it (then show the generic CBOR)."""
    if ef is SECURITY_OBJECT:
        return _security_object(payload)
    group = GROUP_FOR_EF.get(ef)
    if group is Group.CHIP_KEY:
        try:
            point = chip_key_point(payload)
        except (SscError, ValueError):
            return None
        return {"cose_key": "EC2 P-256", "x": point[1:33].hex(), "y": point[33:].hex(), "chip_id": chip_id(point)}
    if group is None or group is Group.PHOTO:
        return None
    try:
        item = cbor.loads(payload, max_size=ef.max_size, what=ef.name)
    except SscError:
        return None
    return _group(group, item)
