"""Fixtures of the terminal tests (helpers in tests/terminal/support.py); a real pcscd
with vpcd for the chip tests (tests/firmware_tools/pcscd_fixtures.py). The repository
root goes on sys.path so that tests can use bench/camera.py's camera frames."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.append(ROOT)

from tests.firmware_tools.pcscd_fixtures import attach_card, pcscd  # noqa: E402,F401
from tests.terminal.support import home, other_pki, pki  # noqa: E402,F401
