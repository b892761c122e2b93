"""A card's dates: the one rule for its issue date and its expiry, used by every path that
makes a card (issue, renew, modify, replace — `issuance.issue` — and `batch issue`). An
e-card (issuer/services/ecard.py) ends with its card (`end_of_day(card.expiry_date)`), so it
follows the same rule.

- The issue date is the date in China Standard Time (UTC+8, as the claims' dates are: docs/spec.md §4.1, §4.6) at the
  moment of signing, taken from the service's clock (`Runtime.now`): a card signed at
  31 December 16:30 UTC is issued on 1 January.
- A card is valid for `years` years: its last day is the day before the same calendar date
  `years` years later. A card issued on 29 February, whose date does not come back in a
  common year, runs through 28 February: the period ends on the month's last day (as the
  PRC Civil Code art. 202 counts a period that has no corresponding day), never later than
  a card issued the next day and never shorter than `years` years less a day.
- A card never outlives the work permit it carries: the earlier of the two ends it.
"""

from __future__ import annotations

import calendar
import datetime as dt

from crypto.schema import CHINA_TZ


def china_date(epoch_seconds: float) -> dt.date:
    """The calendar date in China Standard Time at `epoch_seconds`."""
    return dt.datetime.fromtimestamp(epoch_seconds, CHINA_TZ).date()


def years_later(day: dt.date, years: int) -> dt.date:
    """The same calendar date `years` years later; 29 February becomes 1 March in a common
    year (the day after the month's last day, so that the day before it is 28 February)."""
    year = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return dt.date(year, 3, 1)
    return day.replace(year=year)


def card_expiry(issue_date: dt.date, years: int, permit_valid_until: dt.date) -> dt.date:
    """The card's last valid day (inclusive): `years` years after `issue_date`, or the day the
    work permit ends if that is earlier."""
    return min(years_later(issue_date, years) - dt.timedelta(days=1), permit_valid_until)
