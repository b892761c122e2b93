"""Realistic sample records for the demo, the tests and the benchmarks.

`LONG` is the worst case the QR size target is measured on: long names, a Chinese name,
all five insurances, a long employer name, a permanent residence ID.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from crypto.identifiers import mod11_2_check_character, uscc_check_character
from crypto.schema import Credential, parse_credential

_USCC_BODY = "91310115MA1K4LQ3X"
SAMPLE_USCC = _USCC_BODY + uscc_check_character(_USCC_BODY)
_PR_BODY = "93184019850704001"
SAMPLE_PR_ID = _PR_BODY + mod11_2_check_character(_PR_BODY)
SAMPLE_PHOTO_DIGEST = hashlib.sha256(b"sample photo").digest()


def _insurance(since: str, paid: str) -> list[dict]:
    return [{"type": t, "status": 1, "since": since, "paid_through": paid} for t in range(1, 6)]


def typical_record() -> dict:
    return {
        "holder": {"family_name": "MUELLER", "given_names": "ANNA", "nationality": "DEU",
                   "birth_date": "1988-03-14", "sex": 2, "photo_digest": SAMPLE_PHOTO_DIGEST},
        "identifiers": {"social_security_number": "F310000DEU880314", "work_permit_number": "156000019880314021",
                        "passport_number": "C4J7K2L9M"},
        "permit": {"category": "B", "employer": {"name": "Shanghai Example Tech Co., Ltd.", "uscc": SAMPLE_USCC},
                   "position": "Software Engineer", "work_location": "310115",
                   "valid_from": "2026-01-01", "valid_until": "2028-12-31"},
        "insurance": _insurance("2026-01-01", "2026-10-01"),
        "card": {"card_number": "M31A00042", "serial": 42, "kind": 1, "sequence": 1,
                 "issue_date": "2026-01-05", "expiry_date": "2031-01-04", "issuing_centre": "SH01"},
    }


def long_record() -> dict:
    rec = typical_record()
    rec["holder"] = {"family_name": "MONTGOMERY-WHITFIELD DE LA CRUZ", "given_names": "ALEXANDRA CHRISTINE MARIE",
                     "chinese_name": "蒙哥马利·亚历山德拉", "nationality": "GBR", "birth_date": "1979-11-30",
                     "sex": 2, "photo_digest": SAMPLE_PHOTO_DIGEST}
    rec["identifiers"] = {"social_security_number": "F310000GBR7911300017", "work_permit_number": "156000019791130045",
                          "passport_number": "125834967", "permanent_residence_id": SAMPLE_PR_ID}
    rec["permit"] = {"category": "A",
                     "employer": {"name": "上海浦东新区国际先进半导体制造技术研究院有限公司", "uscc": SAMPLE_USCC},
                     "position": "Chief Scientist, Advanced Lithography", "work_location": "310115",
                     "valid_from": "2026-01-01", "valid_until": "2030-12-31"}
    rec["card"] = {"card_number": "M31A12345678", "serial": 12345678, "kind": 1, "sequence": 3,
                   "issue_date": "2026-01-05", "expiry_date": "2031-01-04", "issuing_centre": "SH01"}
    return rec


def typical() -> Credential:
    return parse_credential(typical_record())


def long() -> Credential:
    return parse_credential(long_record())


SAMPLE_IAT = int(dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc).timestamp())
