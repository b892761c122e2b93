"""The test suite's one clock (importable: tests/support is on pytest's pythonpath).

Fixtures sign with it and tests verify with it, so a test's verdict never depends on when
the module was imported or how long the suite has run. It reads the process clock
(``time.time``), the same one a server or CLI started by a test signs with; ``make test``
runs the signing/verifying tests again with that clock shifted (libfaketime, see
docs/operations.md "Tests under a shifted clock"), so nothing may read the wall clock at
import time or keep its own.
"""

from __future__ import annotations

import datetime as dt
import time

from crypto.schema import CHINA_TZ


class Clock:
    """Epoch seconds, aware datetimes and China's calendar date, all from one source."""

    def now(self) -> int:
        """Epoch seconds (what ``iat``/``exp`` and the verifiers' ``now`` are in)."""
        return int(time.time())

    def __call__(self) -> int:
        return self.now()

    def seconds(self) -> float:
        """Epoch seconds with their fraction (for presentations that carry milliseconds)."""
        return time.time()

    def utc(self) -> dt.datetime:
        """Now as an aware UTC datetime (certificate validity)."""
        return dt.datetime.fromtimestamp(self.seconds(), dt.timezone.utc)

    def china_today(self) -> dt.date:
        """Today's date in China (card validity dates are China dates)."""
        return dt.datetime.fromtimestamp(self.seconds(), CHINA_TZ).date()


CLOCK = Clock()
