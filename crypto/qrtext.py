"""The QR text: ``SSC1:`` + base45(COSE_Sign1 bytes) (docs/spec.md §5, RFC 9285).

The prefix is a versioned context identifier: ``SSC1`` means "sscard credential, format
1, no compression". A later format that compresses will use another prefix, so a decoder
never has to guess. Only uppercase alphanumeric-mode characters occur, so the QR code is
encoded in alphanumeric mode.
"""

from __future__ import annotations

import re

from crypto import base45
from crypto.errors import QrTextError
from crypto.reasons import Reason

PREFIX = "SSC1:"
# The largest alphanumeric payload a QR code can hold (version 40, level L). Nothing longer
# can have come from a scan.
MAX_TEXT_LENGTH = 4296
MAX_COSE_BYTES = (MAX_TEXT_LENGTH - len(PREFIX)) // 3 * 2

_KNOWN_FOREIGN = {
    "HC1:": "an EU Digital COVID Certificate",
    "HTTP": "a web link",
    "WIFI:": "a Wi-Fi configuration",
}
_PREFIX_LIKE = re.compile(r"^([A-Za-z0-9]{1,8}):")
_WHITESPACE = re.compile(r"[\t\n\r\v\f\u00a0\u2000-\u200b\u3000]")


def encode_qr_text(cose_bytes: bytes) -> str:
    return PREFIX + base45.encode(cose_bytes)


def decode_qr_text(text: str, prefix: str = PREFIX) -> bytes:
    """The COSE bytes in a scanned QR text, or a :class:`QrTextError` saying what is wrong.

    `prefix` is the context identifier the text must start with: ``SSC1:`` for a credential,
    ``SSC1E:`` for an e-card presentation (spec §12); the rules after it are the same."""
    if not isinstance(text, str):
        raise QrTextError(Reason.QR_CHARACTER, f"expected text, got {type(text).__name__}")
    # Scanners end a scan with CR, LF or CRLF: that is framing, not content.
    text = text.rstrip("\r\n")
    if not text:
        raise QrTextError(Reason.QR_EMPTY, "the scanned text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise QrTextError(Reason.QR_TOO_LONG,
                          f"the text is {len(text)} characters; no QR code holds more than {MAX_TEXT_LENGTH}")
    if not text.startswith(prefix):
        raise _prefix_error(text, prefix)
    body = text[len(prefix):]
    if not body:
        raise QrTextError(Reason.QR_EMPTY, f"the text has the {prefix} prefix but no content after it")
    try:
        return base45.decode(body)
    except QrTextError as exc:
        if exc.reason is Reason.QR_CHARACTER:  # name the likely cause before the raw character
            _diagnose(body, len(prefix))
        raise


def _diagnose(body: str, offset: int) -> None:
    ws = _WHITESPACE.search(body)
    if ws:
        raise QrTextError(Reason.QR_WHITESPACE,
                          f"the text has a whitespace character ({ws.group()!r}) at position "
                          f"{ws.start() + offset}: the scan was split or edited")
    if body.isascii() and body != body.upper():
        raise QrTextError(Reason.QR_LOWERCASE,
                          "the text has lowercase letters: the scanner changed the case "
                          "(check its caps-lock or keyboard-layout setting)")


def _prefix_error(text: str, expected: str = PREFIX) -> QrTextError:
    upper = text[:len(expected)].upper()
    if upper == expected:
        return QrTextError(Reason.QR_LOWERCASE,
                           "the prefix is in lowercase: the scanner changed the case "
                           "(check its caps-lock or keyboard-layout setting)")
    for prefix, name in _KNOWN_FOREIGN.items():
        if upper.startswith(prefix):
            return QrTextError(Reason.QR_PREFIX, f"this QR code is {name}, not a social security card")
    match = _PREFIX_LIKE.match(text)
    if match:
        return QrTextError(Reason.QR_PREFIX,
                           f"the QR code has prefix {match.group(1)!r}:, not {expected} — it is not a "
                           "social security card credential, or a newer format this terminal does not know")
    return QrTextError(Reason.QR_PREFIX,
                       f"the QR code does not start with {expected} — it is not a social security card credential")
