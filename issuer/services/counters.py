"""Dense sequences under concurrency: card serials per issuing centre, trust-list versions.

A counter is one row advanced with ``UPDATE ... RETURNING`` inside the transaction that uses
the number. The row stays locked until that transaction ends, so concurrent issuers queue
(PostgreSQL row lock; SQLite's BEGIN IMMEDIATE write lock), and a rollback — a refused
request or a crash between signing and commit — gives the number back: serials have no gaps
and no duplicates (the unique constraint on (issuer_code, serial) is the second line).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from crypto.identifiers import mod11_2_check_character

_ADVANCE = text("UPDATE counters SET value = CASE WHEN value + 1 > :floor THEN value + 1 ELSE :floor END "
                "WHERE name = :name RETURNING value")


def next_value(session: Session, name: str, *, floor: int = 1) -> int:
    """The next value of counter `name` (at least `floor`), locked until the transaction ends."""
    session.flush()
    value = session.execute(_ADVANCE, {"name": name, "floor": floor}).scalar_one_or_none()
    if value is None:
        session.execute(text("INSERT INTO counters (name, value) VALUES (:name, 0) ON CONFLICT (name) DO NOTHING"),
                        {"name": name})
        value = session.execute(_ADVANCE, {"name": name, "floor": floor}).scalar_one()
    return int(value)


def next_serial(session: Session, issuer_code: str) -> int:
    return next_value(session, f"serial:{issuer_code}")


def card_number(issuer_code: str, kind: int, serial: int) -> str:
    """The printed card number: centre prefix (4), P or E, the serial in 10 digits, a check character.

    At most 16 of A-Z 0-9 (spec §4.6). The check character is ISO 7064 MOD 11-2 over the
    serial, so a mistyped number is caught at the counter; unique because the serial is.
    """
    prefix = issuer_code.replace("-", "")[:4]
    return f"{prefix}{'P' if kind == 1 else 'E'}{serial:010d}{mod11_2_check_character(f'{serial:017d}')}"


def reserve(session: Session, name: str, count: int) -> int:
    """Advance counter `name` by `count` (batch issue): the first of the `count` values,
    all locked until the transaction ends, like next_value's."""
    if count < 1:
        raise ValueError("reserve at least one value")
    session.flush()
    bump = text("UPDATE counters SET value = value + :count WHERE name = :name RETURNING value")
    last = session.execute(bump, {"name": name, "count": count}).scalar_one_or_none()
    if last is None:
        session.execute(text("INSERT INTO counters (name, value) VALUES (:name, 0) ON CONFLICT (name) DO NOTHING"),
                        {"name": name})
        last = session.execute(bump, {"name": name, "count": count}).scalar_one()
    return int(last) - count + 1
