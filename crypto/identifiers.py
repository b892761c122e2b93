"""Check-character rules for the identifiers on the card (DESIGN.md §3).

- Unified social credit code: GB 32100-2015, 18 characters over a 31-symbol alphabet,
  the last one a MOD 31 check character.
- Permanent residence ID (foreigner's, 2023 edition): 18 characters, first is '9',
  last is an ISO 7064 MOD 11-2 check character (as on the resident identity card).
- Work permit number: 18 decimal digits.
"""

from __future__ import annotations

import re

# GB 32100-2015 §4: the code alphabet (no I, O, S, V, Z) and the weights of positions 1-17.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# ISO 7064 MOD 11-2 weights for an 18-character code: 2^(17-i) mod 11.
_MOD11_2_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))

_DIGITS18 = re.compile(r"[0-9]{18}")


def uscc_check_character(body: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a code."""
    if len(body) != 17 or any(c not in _USCC_VALUE for c in body):
        raise ValueError("the first 17 characters must come from 0-9 and A-Y without I, O, S, V, Z")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why `code` is not a valid unified social credit code, or None if it is."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    bad = sorted({c for c in code if c not in _USCC_VALUE})
    if bad:
        return f"characters {''.join(bad)!r} are not in the GB 32100-2015 alphabet (0-9, A-Y without I, O, S, V, Z)"
    if not code[2:8].isdigit():
        return "characters 3-8 must be the 6-digit administrative division code"
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]!r}, expected {expected!r} (GB 32100-2015)"
    return None


def mod11_2_check_character(body: str) -> str:
    """The ISO 7064 MOD 11-2 check character for 17 digits."""
    if len(body) != 17 or not body.isdigit():
        raise ValueError("MOD 11-2 body must be 17 digits")
    total = sum(int(c) * w for c, w in zip(body, _MOD11_2_WEIGHTS))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def permanent_residence_id_problem(code: str) -> str | None:
    """Why `code` is not a valid foreigner's permanent residence ID, or None if it is."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    if code[0] != "9":
        return "must start with 9 (foreigner's permanent residence ID, 2023 edition)"
    if not code[:17].isdigit():
        return "the first 17 characters must be digits"
    expected = mod11_2_check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]!r}, expected {expected!r} (ISO 7064 MOD 11-2)"
    return None


def work_permit_number_problem(number: str) -> str | None:
    """Why `number` is not an 18-digit work permit number, or None if it is."""
    if not _DIGITS18.fullmatch(number):
        return "must be exactly 18 digits"
    return None
