"""Schema rules and the CBOR mapping's round trip (docs/spec.md §4)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from crypto import samples
from crypto.claims import Profile, decode_claims, encode_claims
from crypto.errors import ClaimsError, SchemaError
from crypto.reasons import Reason
from crypto.schema import parse_credential
from clock_support import CLOCK


def _with(path: str, value):
    record = samples.typical_record()
    *parents, last = path.split(".")
    target = record
    for p in parents:
        target = target[p]
    target[last] = value
    return record


@pytest.mark.parametrize("path,value,field,fragment", [
    ("permit.employer.uscc", "91350100M000100Y44", "permit.employer.uscc", "check character"),
    ("identifiers.permanent_residence_id", "931840198507040011", "identifiers.permanent_residence_id", "MOD 11-2"),
    ("holder.nationality", "XYZ", "holder.nationality", "ISO 3166-1 alpha-3"),
    ("holder.nationality", "DE", "holder.nationality", "at least 3"),
    ("identifiers.work_permit_number", "12345", "identifiers.work_permit_number", "18 digits"),
    ("holder.birth_date", "2999-01-01", "holder.birth_date", "date"),
    ("holder.family_name", "M\u00dcLLER", "holder.family_name", "Latin letters"),
    ("permit.valid_until", "2025-01-01", "permit", "valid_from must be before valid_until"),
    ("permit.category", "D", "permit.category", "Input should be"),
    ("permit.work_location", "31011", "permit.work_location", "6-digit"),
    ("card.card_number", "m-1", "card.card_number", "upper-case"),
])
def test_bad_values_get_field_level_messages(path, value, field, fragment):
    with pytest.raises(SchemaError) as err:
        parse_credential(_with(path, value))
    assert err.value.reason is Reason.SCHEMA_INVALID
    fields = {e["field"]: e["message"] for e in err.value.errors}
    assert any(f.startswith(field) for f in fields), fields
    assert any(fragment in m for m in fields.values()), fields


def test_birth_date_in_future_is_refused():
    tomorrow = (CLOCK.china_today() + dt.timedelta(days=2)).isoformat()
    with pytest.raises(SchemaError) as err:
        parse_credential(_with("holder.birth_date", tomorrow))
    assert "in the past" in str(err.value)


def test_insurance_needs_all_five_once():
    record = samples.typical_record()
    record["insurance"] = record["insurance"][:4]
    with pytest.raises(SchemaError, match="five insurances"):
        parse_credential(record)


def test_insurance_status_and_dates_must_agree():
    record = samples.typical_record()
    record["insurance"][0] = {"type": 1, "status": 0, "since": "2020-01-01"}
    with pytest.raises(SchemaError, match="not enrolled"):
        parse_credential(record)
    record["insurance"][0] = {"type": 1, "status": 7}
    with pytest.raises(SchemaError, match="insurance"):
        parse_credential(record)


def test_unknown_field_is_refused():
    record = samples.typical_record()
    record["holder"]["eye_colour"] = "blue"
    with pytest.raises(SchemaError, match="eye_colour"):
        parse_credential(record)


def test_normalises_case_and_month():
    record = _with("holder.family_name", "mueller")
    record["insurance"][1]["paid_through"] = "2026-10-17"
    cred = parse_credential(record)
    assert cred.holder.family_name == "MUELLER"
    assert cred.insurance[1].paid_through == dt.date(2026, 10, 1)


# ------------------------------------------------------------------ round trip (hypothesis)

latin = st.from_regex(r"[A-Z]{1,12}( [A-Z]{1,12}){0,2}", fullmatch=True)
dates = st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2005, 12, 31))
months = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 1)).map(lambda d: d.replace(day=1))


@st.composite
def insurance(draw):
    out = []
    for t in range(1, 6):
        status = draw(st.sampled_from([0, 1, 2, 3]))
        if status == 0:
            out.append({"type": t, "status": 0})
            continue
        since = draw(months)
        paid = draw(st.one_of(st.none(), months.filter(lambda m: m >= since)))
        out.append({"type": t, "status": status, "since": since, "paid_through": paid})
    return out


@st.composite
def records(draw):
    record = samples.typical_record()
    record["holder"].update(family_name=draw(latin), given_names=draw(st.one_of(st.just(""), latin)),
                            chinese_name=draw(st.one_of(st.none(), st.text("张王李赵·", min_size=1, max_size=8))),
                            nationality=draw(st.sampled_from(["DEU", "USA", "GBR", "XXA", "JPN"])),
                            birth_date=draw(dates), sex=draw(st.sampled_from([0, 1, 2, 9])))
    record["identifiers"]["work_permit_number"] = draw(st.from_regex(r"[0-9]{18}", fullmatch=True))
    start = draw(st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 1, 1)))
    record["permit"].update(category=draw(st.sampled_from("ABC")), position=draw(st.text(min_size=1, max_size=30).filter(str.strip)),
                            valid_from=start, valid_until=start + dt.timedelta(days=draw(st.integers(1, 3000))),
                            status=draw(st.sampled_from([1, 2, 3])))
    record["insurance"] = draw(insurance())
    record["card"].update(serial=draw(st.integers(0, 2**32 - 1)), sequence=draw(st.integers(1, 99)),
                          kind=draw(st.sampled_from([1, 2])))
    return parse_credential(record)


@given(records())
@settings(max_examples=150)
def test_chip_profile_round_trip(cred):
    payload = encode_claims(cred, profile=Profile.CHIP, iat=1_767_225_600, cti=b"\x01" * 8)
    decoded = decode_claims(payload, issuer_code="SH01", deterministic=True)
    assert decoded.credential == cred
    assert decode_claims(payload, issuer_code="SH01", validate=True).credential == cred


@given(records())
@settings(max_examples=150)
def test_qr_profile_round_trip_keeps_what_it_carries(cred):
    payload = encode_claims(cred, profile=Profile.QR, iat=1_767_225_600)
    decoded = decode_claims(payload, issuer_code="SH01", deterministic=True).credential
    expected = cred.model_copy(update={
        "holder": cred.holder.model_copy(update={"photo_digest": None}),
        "identifiers": cred.identifiers.model_copy(update={"passport_number": None}),
        "card": cred.card.model_copy(update={"issue_date": None}),
        "insurance": tuple(e.model_copy(update={"since": None}) for e in cred.insurance)})
    assert decoded == expected


def test_chip_profile_needs_photo_digest():
    record = samples.typical_record()
    del record["holder"]["photo_digest"]
    with pytest.raises(ClaimsError):
        encode_claims(parse_credential(record), profile=Profile.CHIP, iat=1)


def test_chip_iss_must_match_signer():
    payload = encode_claims(samples.typical(), profile=Profile.CHIP, iat=1)
    with pytest.raises(ClaimsError) as err:
        decode_claims(payload, issuer_code="BJ01")
    assert err.value.reason is Reason.CLAIMS_VALUE


def test_qr_profile_is_much_smaller_than_chip():
    cred = samples.long()
    qr = encode_claims(cred, profile=Profile.QR, iat=1)
    chip = encode_claims(cred, profile=Profile.CHIP, iat=1, cti=b"12345678")
    assert len(qr) < len(chip)
    assert cred.identifiers.passport_number.encode() not in qr
    assert cred.identifiers.passport_number.encode() in chip
