"""Every reason code the page can show has plain English and Chinese."""

from __future__ import annotations

import re

from crypto.reasons import Reason
try:
    from firmware_tools.reader import ChipReason
except ImportError:  # the chip reader not there yet
    ChipReason = ()
from terminal.reasons import TerminalReason
from terminal.translations import OUTCOME_TEXT, REASON_TEXT, reason_text

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_reason_code_has_english_and_chinese():
    codes = [r.value for r in (*Reason, *TerminalReason, *ChipReason)]
    missing = [c for c in codes if c not in REASON_TEXT]
    assert not missing, f"add translations for {missing}"
    for code in codes:
        en, zh = REASON_TEXT[code]
        assert en and en[0].isupper() and not CJK.search(en), code
        assert CJK.search(zh), code


def test_terminal_codes_do_not_reuse_crypto_codes():
    assert not {r.value for r in TerminalReason} & {r.value for r in Reason}


def test_unknown_code_falls_back_to_itself():
    assert reason_text("SOMETHING_NEW")[0] == "Reason SOMETHING_NEW."
    assert reason_text(Reason.REVOKED) == REASON_TEXT["REVOKED"]
    assert set(OUTCOME_TEXT) == {"VALID", "INVALID", "INDETERMINATE", "NO_VERDICT"}
