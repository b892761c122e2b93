"""The terminal's own reason codes: input that never reached the verifier (an image without
a QR code, a barcode of another kind, a scanner frame that was cut), and the site policy.

crypto/reasons.py holds the codes of docs/spec.md §8; spec §7.3 leaves the checks a
terminal appends (`site_policy`, and the input stage) to the terminal. These codes are
stable in the same way: logged, forwarded and translated, never reused. They do not
overlap crypto's codes (tests/terminal/test_translations.py checks it).
"""

from __future__ import annotations

from enum import Enum


class TerminalReason(str, Enum):
    # input (reported in the `format` check: nothing was verified)
    IMAGE_UNREADABLE = "IMAGE_UNREADABLE"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    QR_NOT_FOUND = "QR_NOT_FOUND"
    QR_SEVERAL = "QR_SEVERAL"
    BARCODE_NOT_QR = "BARCODE_NOT_QR"
    SCAN_OVERSIZE = "SCAN_OVERSIZE"
    SCAN_INCOMPLETE = "SCAN_INCOMPLETE"
    SCAN_UNDECODABLE = "SCAN_UNDECODABLE"
    # site policy (reported in the `site_policy` check)
    POLICY_CARD_EXPIRED = "POLICY_CARD_EXPIRED"
    POLICY_INSURANCE_NOT_ENROLLED = "POLICY_INSURANCE_NOT_ENROLLED"
    POLICY_INSURANCE_STATUS = "POLICY_INSURANCE_STATUS"
    POLICY_INSURANCE_UNPAID = "POLICY_INSURANCE_UNPAID"
    POLICY_PERMIT_STATUS = "POLICY_PERMIT_STATUS"
    POLICY_PERMIT_NOT_YET_VALID = "POLICY_PERMIT_NOT_YET_VALID"
    POLICY_PERMIT_EXPIRED = "POLICY_PERMIT_EXPIRED"
    POLICY_DATA_MISSING = "POLICY_DATA_MISSING"
    POLICY_SOURCE_NOT_ACCEPTED = "POLICY_SOURCE_NOT_ACCEPTED"
    # chip reads, as the terminal reports them when the reader gives no verdict
    CARD_REMOVED = "CARD_REMOVED"
    CARD_UNREADABLE = "CARD_UNREADABLE"
    READER_UNAVAILABLE = "READER_UNAVAILABLE"
