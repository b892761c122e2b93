"""Printing results on a terminal (the command line's counterpart of the counter page)."""

from __future__ import annotations

import sys

from crypto.verdict import Outcome, Status, Verdict
from terminal.places import place
from terminal.translations import china_time
from terminal.verifier import NO_VERDICT, TerminalResult

COLOURS = {"VALID": "\033[1;32m", "INVALID": "\033[1;31m", "INDETERMINATE": "\033[1;33m", NO_VERDICT: "\033[1;33m"}
MARKS = {Status.PASSED: "ok ", Status.FAILED: "FAIL", Status.INDETERMINATE: "??? ", Status.NOT_CHECKED: " -  "}
LABELS = {"name": "name", "photo": "photo", "nationality": "nationality", "medical_insurance": "medical insurance",
          "work_permit_number": "work permit no.", "permit_category": "category", "employer": "employer",
          "position": "position", "work_location": "work location", "permit_validity": "work permit",
          "card_number": "card no.", "card_expiry": "card expires"}


def _colour(outcome: str) -> tuple[str, str]:
    if sys.stdout.isatty():
        return COLOURS.get(outcome, ""), "\033[0m"
    return "", ""


def check_lines(verdict: Verdict) -> list[str]:
    out = []
    for check in verdict.checks:
        line = f"  [{MARKS[check.status]}] {check.check.value}"
        if check.reason:
            line += f": {check.reason.value} - {check.message}"
        elif check.message:
            line += f": {check.message}"
        out.append(line)
    return out


def field_text(key: str, value) -> str:
    if key == "name":
        text = f"{value['family_name']}, {value['given_names']}".rstrip(", ")
        return text + (f"  ({value['chinese_name']})" if value.get("chinese_name") else "")
    if key == "photo":
        return f"{len(value['base64']) * 3 // 4} bytes JPEG from the chip" if value["available"] else value["note"]
    if key == "medical_insurance":
        state = "in force" if value["in_force"] else "NOT in force"
        return f"{state} ({value['status']}, paid through {value['paid_through'] or '-'})"
    if key == "employer":
        return f"{value['name']} ({value['uscc']})" if value.get("uscc") else value["name"]
    if key == "permit_validity":
        return f"{value['status']}, {value['valid_from']} .. {value['valid_until']}"
    if key == "work_location":
        return place(value).label()
    return str(value)


def result_lines(result: TerminalResult) -> list[str]:
    colour, reset = _colour(result.outcome)
    lines = [f"{colour}{result.outcome}{reset}  at {result.site}  ({result.source})",
             f"  checked {china_time(result.at)['en']}"]
    if result.verdict is None:
        lines.append(f"  {result.notice.value if result.notice else ''}: {result.action or ''}")
        return lines
    lines += check_lines(result.verdict)
    width = max((len(LABELS.get(k, k)) for k in result.shown), default=0)
    for key, value in result.shown.items():
        lines.append(f"  {LABELS.get(key, key) + ':':<{width + 1}} {field_text(key, value)}")
    return lines


def verdict_lines(verdict: Verdict, source: str) -> list[str]:
    """A crypto verdict without a site (`verify-qr` without --site)."""
    colour, reset = _colour(verdict.outcome.value)
    lines = [f"{colour}{verdict.outcome.value}{reset}  ({source})", *check_lines(verdict)]
    if verdict.claims is not None and verdict.outcome is not Outcome.INVALID:
        c = verdict.claims.credential
        lines.append(f"  holder: {c.holder.family_name}, {c.holder.given_names}  ({c.holder.nationality})")
        lines.append(f"  card:   {c.card.card_number}, expires {c.card.expiry_date}")
    return lines
